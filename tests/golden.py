"""Golden files: a registry of generators, each giving the text of one file under tests/golden/.

`make golden` (`python -m tests.golden [NAME...]`) rewrites the files from the generators; tests compare
a generator's output with its file through :func:`assert_golden`. Never edit a golden file by hand: change
the code or the fixture, regenerate, and review the diff.

To add golden files, register a generator here: ``@golden("area/name.ext")`` on a function taking no
argument and returning the file's text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.content import Selection
from digest.edition import selection_summary
from digest.render import Publication, RenderedVariant, make_environment, render_variant
from digest.selection import SelectionRules, calendar_window, select
from digest.settings import DEFAULT_PUBLICATION_NAMES, SAMPLE_FEED
from digest.sources import load_articles, parse_source
from digest.sources.fetch import Fetcher

GOLDEN_DIR = Path(__file__).parent / "golden"
GENERATORS: dict[str, Callable[[], str]] = {}


def golden(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register the decorated function as the generator of ``tests/golden/<name>``."""

    def register(generator: Callable[[], str]) -> Callable[[], str]:
        if name in GENERATORS:
            raise ValueError(f"two generators for golden file {name}")
        GENERATORS[name] = generator
        return generator

    return register


def assert_golden(name: str) -> None:
    """Fail unless generator ``name`` gives exactly the stored golden file."""
    path = GOLDEN_DIR / name
    assert path.exists(), f"no golden file {path}: run `make golden`"
    actual = GENERATORS[name]()
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file: run `make golden` and review the diff"


# Email: the sample day rendered in each language, HTML and text.

SAMPLE_DATE = date(2025, 11, 27)
SAMPLE_TZ = ZoneInfo("Africa/Casablanca")
SAMPLE_PUBLICATION = Publication(
    name="Le Quotidien",
    postal_address="Le Quotidien, 1 avenue Mohammed V, 10000 Rabat, Maroc",
    base_url="https://news.example.com",
    list_name="Quotidien",
    list_slug="quotidien",
)
SAMPLE_WEB_URL = "https://news.example.com/editions/quotidien/2025-11-27"


def sample_selection() -> Selection:
    """The selection of the sample feed's day, as `digest build` makes it with default rules."""
    fetcher = Fetcher()
    try:
        articles = load_articles([str(SAMPLE_FEED)], fetcher, day=SAMPLE_DATE, tz=SAMPLE_TZ).articles
    finally:
        fetcher.close()
    return select(articles, window=calendar_window(SAMPLE_DATE, SAMPLE_TZ), rules=SelectionRules(language="fr"))


def render_sample(language: str, selection: Selection | None = None) -> RenderedVariant:
    """The sample day rendered in ``language`` with the sample publication, named as that language's readers know it."""
    name = DEFAULT_PUBLICATION_NAMES.get(language, SAMPLE_PUBLICATION.name)
    return render_variant(
        selection or sample_selection(),
        env=make_environment(language),
        publication=replace(SAMPLE_PUBLICATION, name=name),
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


# Selection: fixture sources of tests/data/sources -> the selection JSON of `digest build --json`, with the
# reason of every pick. The edition date is the sample day, in the publication's default time zone.

SOURCES_DIR = Path(__file__).parent / "data" / "sources"
SELECTION_DAY = SAMPLE_DATE
SELECTION_TZ = SAMPLE_TZ
# Fixture file -> the URL it is read as (so relative links and page-snapshot links are stable).
SELECTION_SOURCES = {
    "seed_page.txt": "https://www.lequotidien.example/",
    "rss2_media.xml": "https://atlas-info.example/feed/",
    "atom_xhtml.xml": "https://sport-maroc.example/atom.xml",
    "rss1.rdf": "https://culture.example/rss",
    "arabic_cp1256.xml": "https://akhbar.example/rss",
    "article.html": "https://www.lequotidien.example/environnement/dessalement-casablanca?utm_source=share",
}


def selection_json(files: list[str]) -> str:
    """The selection of ``files`` (read as their SELECTION_SOURCES URLs) as golden JSON."""

    articles = []
    for name in files:
        parsed = parse_source(
            (SOURCES_DIR / name).read_bytes(),
            source=name,
            url=SELECTION_SOURCES[name],
            day=SELECTION_DAY,
            tz=SELECTION_TZ,
        )
        articles.extend(parsed.articles)
    window = calendar_window(SELECTION_DAY, SELECTION_TZ)
    selection = select(articles, window=window, rules=SelectionRules(language="fr"))
    summary = selection_summary(selection, list_slug="quotidien", subject="")
    summary["reasons"] = {
        "featured": selection.featured.reason if selection.featured else None,
        "headlines": [pick.reason for pick in selection.headlines],
    }
    return json.dumps(summary, ensure_ascii=False, indent=2) + "\n"


def _register_selection(name: str, files: list[str]) -> None:
    golden(f"selection/{name}.json")(lambda: selection_json(files))


for _file in SELECTION_SOURCES:
    _register_selection(_file.rsplit(".", 1)[0], [_file])
_register_selection("all_sources", list(SELECTION_SOURCES))


def main(argv: list[str]) -> int:
    """Rewrite every golden file (or those named in ``argv``) from its generator."""
    unknown = [name for name in argv if name not in GENERATORS]
    if unknown:
        print(f"unknown golden file(s): {', '.join(unknown)}; known: {', '.join(sorted(GENERATORS))}")
        return 2
    for name in argv or sorted(GENERATORS):
        path = GOLDEN_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = GENERATORS[name]()
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        path.write_text(text, encoding="utf-8")
        print(f"{'updated' if changed else 'unchanged'}: tests/golden/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
