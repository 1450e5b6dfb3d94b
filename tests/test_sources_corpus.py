"""Sniffing and parsing accept what feedparser accepts; nothing in its corpus gives a traceback.

The files under tests/data/feedparser come from feedparser's own test corpus (see the README there).
"""

from __future__ import annotations

from datetime import UTC, date
from pathlib import Path

import feedparser
import pytest

from digest.errors import SourceError
from digest.sources import parse_source
from digest.sources.parse import sniff

CORPUS = Path(__file__).parent / "data" / "feedparser"
FILES = sorted(p for p in CORPUS.rglob("*.xml"))
VALID = [p for p in FILES if p.relative_to(CORPUS).parts[0] in ("wellformed", "encoding")]
DAY = date(2026, 1, 1)


def _parse(data: bytes, name: str = "feed") -> list[str]:
    parsed = parse_source(data, source=name, url="https://s.example/feed.xml", day=DAY, tz=UTC)
    return [article.title for article in parsed.articles]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_corpus_files_are_read_or_refused_with_a_reason_never_a_traceback(path: Path) -> None:
    try:
        _parse(path.read_bytes(), path.name)
    except SourceError as err:
        assert err.reason and path.name in str(err)


@pytest.mark.parametrize("path", VALID, ids=[str(p.relative_to(CORPUS)) for p in VALID])
def test_valid_feeds_are_sniffed_as_feeds_and_not_refused_when_feedparser_finds_items(path: Path) -> None:
    data = path.read_bytes()
    assert sniff(data, source=path.name) == "feed"
    if feedparser.parse(data).entries:
        _parse(data, path.name)  # raises SourceError on a wrong refusal


FEED = (
    '<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
    ' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="2.0"><channel><title>Canal</title>'
    "<item><title>Été à Rabat — مرحبا</title><link>https://s.example/a</link>"
    '<body xmlns="http://www.w3.org/1999/xhtml"><p>Le texte.</p></body></item></channel></rss>'
)


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", b""),
        ("utf-16-be", b""),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-32-be", b""),
        ("utf-32-le", b""),
        ("utf-32-be", b"\x00\x00\xfe\xff"),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
        ("utf-8", b"\xef\xbb\xbf"),
    ],
)
def test_wide_encodings_doctypes_and_xhtml_bodies_are_read(encoding: str, bom: bytes) -> None:
    declared = encoding.replace("-le", "le").replace("-be", "be")
    data = bom + FEED.format(encoding=declared).encode(encoding)
    assert _parse(data) == ["Été à Rabat — مرحبا"]


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02\x03" * 64,
        bytes(range(256)) * 4,
        b"<\x00r\x00s\x00s\x00\x00\x00\x00\x00\xff\xfe\x00\x00" * 16,
    ],
)
def test_binary_stays_refused(data: bytes) -> None:
    with pytest.raises(SourceError, match="binary data"):
        _parse(data)


def test_an_item_without_a_link_is_named_as_such_not_as_an_unreadable_feed() -> None:
    data = (CORPUS / "wellformed/atom10/entry_title_type_empty-no-crash.xml").read_bytes()
    parsed = parse_source(data, source="s", url="https://s.example/feed.xml", day=DAY, tz=UTC)
    assert parsed.articles == ()
    assert any("item 1 (evil) has no http(s) link: left out" in warning for warning in parsed.warnings)
