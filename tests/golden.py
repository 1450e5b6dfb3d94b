"""Golden files: a small registry of generators, each writing one file under tests/golden/.

`make golden` (``python -m tests.golden``) regenerates every file; tests compare a fresh generation with the
stored file, so a change in output shows up as a reviewable diff. Register a generator with
``@golden("name.ext")``; it returns the file's text.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.content import Selection
from digest.render import Publication, RenderedVariant, make_environment, render_variant
from digest.select import select
from digest.settings import SAMPLE_FEED
from digest.sources import load_articles
from digest.sources.fetch import Fetcher

GOLDEN_DIR = Path(__file__).parent / "golden"
GENERATORS: dict[str, Callable[[], str]] = {}

SAMPLE_DATE = date(2025, 11, 27)
SAMPLE_PUBLICATION = Publication(
    name="Le Quotidien",
    postal_address="Le Quotidien, 1 avenue Mohammed V, 10000 Rabat, Maroc",
    base_url="https://news.example.com",
    list_name="Quotidien",
    list_slug="quotidien",
)
SAMPLE_WEB_URL = "https://news.example.com/editions/quotidien/2025-11-27"


def golden(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register ``generator`` as the maker of tests/golden/``name``."""

    def register(generator: Callable[[], str]) -> Callable[[], str]:
        GENERATORS[name] = generator
        return generator

    return register


def sample_selection() -> Selection:
    """The selection of the sample feed's day, as `digest build` makes it with default rules."""
    fetcher = Fetcher()
    try:
        articles = load_articles([str(SAMPLE_FEED)], fetcher).articles
    finally:
        fetcher.close()
    return select(articles, day=SAMPLE_DATE, tz=ZoneInfo("Africa/Casablanca"))


def render_sample(language: str, selection: Selection | None = None) -> RenderedVariant:
    """The sample day rendered in ``language`` with the sample publication."""
    return render_variant(
        selection or sample_selection(),
        env=make_environment(language),
        publication=SAMPLE_PUBLICATION,
        language=language,
        web_url=SAMPLE_WEB_URL,
    )


def _email(language: str, part: str) -> Callable[[], str]:
    def generate() -> str:
        variant = render_sample(language)
        return variant.html + "\n" if part == "html" else variant.text

    return generate


for _language in ("fr", "en", "ar"):
    golden(f"email.{_language}.html")(_email(_language, "html"))
    golden(f"email.{_language}.txt")(_email(_language, "text"))


def main(names: list[str]) -> None:
    """Write the golden files named (all when none), reporting which changed."""
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name in names or sorted(GENERATORS):
        path = GOLDEN_DIR / name
        content = GENERATORS[name]()
        changed = not path.exists() or path.read_text(encoding="utf-8") != content
        path.write_text(content, encoding="utf-8")
        print(f"{'updated' if changed else 'same':<8}tests/golden/{name}")


if __name__ == "__main__":
    main(sys.argv[1:])
