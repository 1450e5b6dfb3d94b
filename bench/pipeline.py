"""Build of the sample day, per-reader placeholder filling, and the naive per-reader render."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from bench.report import Figure, timed
from digest.content import Selection
from digest.db import init_database, make_engine, open_session
from digest.edition import build_edition
from digest.links import Links
from digest.personalize import Personalizable
from digest.render import Publication, make_environment, render_variant
from digest.settings import SAMPLE_FEED, Settings
from digest.sources.feed import parse_feed

SAMPLE_DAY = date(2025, 11, 27)


def _settings(folder: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{folder / 'bench.db'}", secret_key="bench", auto_approve=True
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


def _sample_selection(settings: Settings) -> Selection:
    with tempfile.TemporaryDirectory() as folder:
        settings = _settings(Path(folder))
        engine = make_engine(settings.database_url)
        init_database(engine, default_list=settings.list_slug)
        with open_session(engine) as session:
            _, selection = build_edition(session=session, settings=settings, day=SAMPLE_DAY)
        engine.dispose()
    return selection


def bench_personalize(readers: int = 100_000, naive_readers: int = 200) -> list[Figure]:
    """Filling per-reader links into one rendered variant, against rendering Jinja2 + premailer per reader."""
    with tempfile.TemporaryDirectory() as folder:
        settings = _settings(Path(folder))
    selection = _sample_selection(settings)
    env = make_environment()
    publication = Publication(settings.publication_name, settings.postal_address, settings.base_url, "Quotidien")
    links = Links("https://news.example.com", ["bench"])
    variant = render_variant(selection, env=env, publication=publication, language="fr", web_url="https://x/e")
    html = Personalizable.compile(variant.html)
    text = Personalizable.compile(variant.text)
    fields = [links.reader_fields(i, 1) for i in range(readers)]

    def fill_all() -> None:
        for values in fields:
            html.fill(values)
            text.fill(values)

    fill_seconds = timed(fill_all)
    sign_seconds = timed(lambda: [links.reader_fields(i, 1) for i in range(readers)])

    def naive() -> None:
        for _ in range(naive_readers):
            render_variant(selection, env=env, publication=publication, language="fr", web_url="https://x/e")

    naive_seconds = timed(naive) * readers / naive_readers
    return [
        Figure("fill per-reader placeholders (html+text)", readers, "readers", fill_seconds),
        Figure("sign per-reader links (unsubscribe+prefs)", readers, "readers", sign_seconds),
        Figure(
            "naive: Jinja2+premailer render per reader",
            readers,
            "readers",
            naive_seconds,
            fill_seconds,
            note=f"(extrapolated from {naive_readers}; ratio = naive / fill)",
        ),
    ]
