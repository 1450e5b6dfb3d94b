"""Benchmarks of rendering: build + render of the sample day, and per-reader placeholder filling.

Called by the bench runner (`make bench`) through :func:`run`, or alone: ``python -m bench.render``.
"""

from __future__ import annotations

import time
from typing import Any

from digest.links import Links
from digest.personalize import Personalizable
from digest.render import make_environment, render_variant
from tests.golden import SAMPLE_PUBLICATION, SAMPLE_WEB_URL, sample_selection

READERS = 100_000
# Target of issue 4: filling one reader's copy of one variant.
TARGET_US_PER_READER = 5.0


def _best_of(repeat: int, work: Any) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def run(readers: int = READERS) -> dict[str, float]:
    """Time the sample day's selection and rendering, and filling ``readers`` copies of its HTML and text."""
    started = time.perf_counter()
    selection = sample_selection()
    selected = time.perf_counter()
    env = make_environment("fr")
    variant = render_variant(selection, env=env, publication=SAMPLE_PUBLICATION, language="fr", web_url=SAMPLE_WEB_URL)
    rendered = time.perf_counter()
    warm_render = _best_of(
        5,
        lambda: render_variant(
            selection, env=env, publication=SAMPLE_PUBLICATION, language="fr", web_url=SAMPLE_WEB_URL
        ),
    )
    html = Personalizable.compile(variant.html)
    text = Personalizable.compile(variant.text)
    links = Links("https://news.example.com", ["bench-key"])
    fields = [links.reader_fields(reader, 1) for reader in range(1000)]

    def fill_all() -> None:
        for reader in range(readers):
            values = fields[reader % 1000]
            html.fill(values)
            text.fill(values)

    fill = _best_of(3, fill_all)
    sign = _best_of(3, lambda: [links.reader_fields(reader, 1) for reader in range(10_000)])
    return {
        "load_and_select_s": selected - started,
        "first_render_s": rendered - selected,
        "warm_render_s": warm_render,
        "html_bytes": float(len(variant.html.encode("utf-8"))),
        "fill_us_per_reader": fill / readers * 1e6,
        "sign_links_us_per_reader": sign / 10_000 * 1e6,
    }


def main() -> None:
    """Print the numbers and whether filling meets its target."""
    results = run()
    for name, value in results.items():
        print(f"{name:<26}{value:,.3f}")
    verdict = "ok" if results["fill_us_per_reader"] < TARGET_US_PER_READER else "SLOWER THAN TARGET"
    print(f"placeholder fill target {TARGET_US_PER_READER} µs per reader per variant: {verdict}")


if __name__ == "__main__":
    main()
