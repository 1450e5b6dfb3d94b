"""Build of the sample day, per-reader placeholder filling, and the naive per-reader render."""

from __future__ import annotations

import hmac
import tempfile
from datetime import date
from pathlib import Path

from bench.report import Figure, timed
from digest.db import init_database, make_engine, open_session
from digest.edition import build_edition
from digest.links import Links
from digest.personalize import Personalizable
from digest.render import RenderedVariant, make_environment, render_variant
from digest.settings import SAMPLE_FEED, Settings
from digest.sources.feed import parse_feed
from tests.golden import SAMPLE_PUBLICATION, SAMPLE_WEB_URL, sample_selection

SAMPLE_DAY = date(2025, 11, 27)


def _settings(folder: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{folder / 'bench.db'}",
        secret_key="bench",
        auto_approve=True,
        edition_window="calendar",  # the sample day, replayed
    )


def bench_build(repeat: int = 5) -> Figure:
    """Ingest + select + render + store the sample day; floor: parsing the sample feed alone."""
    with tempfile.TemporaryDirectory() as folder:
        settings = _settings(Path(folder))
        engine = make_engine(settings.database_url)
        init_database(engine, default_list=settings.list_slug)

        def build() -> None:
            with open_session(engine) as session:
                build_edition(session=session, settings=settings, day=SAMPLE_DAY)

        build()  # warm-up: imports, template compilation
        seconds = min(timed(build) for _ in range(repeat))
        data = SAMPLE_FEED.read_bytes()
        floor = min(timed(lambda: parse_feed(data, source="sample")) for _ in range(repeat))
        engine.dispose()
    return Figure("build sample day (ingest+select+render+lint)", 1, "editions", seconds, floor)


def bench_personalize(readers: int = 100_000, naive_readers: int = 200) -> list[Figure]:
    """Filling per-reader links into one rendered variant, against rendering Jinja2 + premailer per reader.

    Target (issue 4): under 5 µs per reader per variant for the fill.
    """
    selection = sample_selection()
    env = make_environment("fr")

    def render() -> RenderedVariant:
        return render_variant(selection, env=env, publication=SAMPLE_PUBLICATION, language="fr", web_url=SAMPLE_WEB_URL)

    variant = render()
    html = Personalizable.compile(variant.html)
    text = Personalizable.compile(variant.text)
    links = Links("https://news.example.com", ["bench"])
    fields = [links.reader_fields(i, 1, f"secret-{i}") for i in range(readers)]

    def fill_all() -> None:
        for values in fields:
            html.fill(values)
            text.fill(values)

    fill_seconds = timed(fill_all)
    # Floor of the fill: the same pieces joined with the values already in place (no per-reader lookups).
    html_pieces = [piece for part in html.parts for piece in (part, fields[0]["unsubscribe_url"])][:-1]
    text_pieces = [piece for part in text.parts for piece in (part, fields[0]["unsubscribe_url"])][:-1]

    def join_all() -> None:
        for _ in fields:
            "".join(html_pieces)
            "".join(text_pieces)

    fill_floor = timed(join_all)
    reader_secrets = [f"secret-{i}" for i in range(readers)]
    sign_seconds = timed(lambda: [links.reader_fields(i, 1, reader_secrets[i]) for i in range(readers)])
    # Floor of the signing: the two HMAC-SHA256 computations alone, one-shot, nothing formatted.
    key = b"k" * 32

    def sign_bare() -> None:
        for i in range(readers):
            value = b"%d.1" % i
            hmac.digest(key, value, "sha256")
            hmac.digest(key, value, "sha256")

    sign_floor = timed(sign_bare)
    naive_seconds = timed(lambda: [render() for _ in range(naive_readers)]) * readers / naive_readers
    return [
        Figure("fill per-reader placeholders (html+text)", readers, "readers", fill_seconds, fill_floor),
        Figure("sign per-reader links (unsubscribe+prefs)", readers, "readers", sign_seconds, sign_floor),
        Figure(
            "naive: Jinja2+premailer render per reader",
            readers,
            "readers",
            naive_seconds,
            fill_seconds,
            note=f"(extrapolated from {naive_readers} renders; floor = our fill)",
        ),
    ]
