"""Tell which parser fits a source's bytes (feed, HTML article page, page snapshot) and run it. Pure."""

from __future__ import annotations

import re
from datetime import date, tzinfo
from typing import Literal

import lxml.html

from digest.content import Parsed
from digest.errors import SourceError
from digest.sources.article import parse_article
from digest.sources.feed import parse_feed
from digest.sources.page import looks_like_snapshot, parse_page
from digest.sources.text import plain_text

Kind = Literal["feed", "html", "snapshot"]

_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"RIFF", "a RIFF (WebP, WAV, AVI) file"),
)
_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:rdf)[\s>]", re.IGNORECASE)
_HTML_ROOT = re.compile(rb"<(!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)
_FEED_URL = re.compile(r"(?i)(rss|atom|feed|\.xml)([/?#]|$)")


def sniff(data: bytes, *, source: str) -> Kind:
    """Which parser fits ``data``, or SourceError naming ``source`` and saying what the bytes are instead."""
    head = data[:8192].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise SourceError(source, "empty")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise SourceError(source, f"binary data ({what}), not a feed or a page")
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SourceError(source, "binary data, not a feed or a page")
    if _FEED_ROOT.search(head) and not _HTML_ROOT.search(head[:512]):
        return "feed"
    if _HTML_ROOT.search(head):
        return "html"
    if head.startswith((b"<", b"\xff\xfe", b"\xfe\xff")):
        return "feed"  # some other XML: feedparser says what is wrong with it
    if looks_like_snapshot(head.decode("utf-8", errors="replace")):
        return "snapshot"
    start = plain_text(head[:60].decode("utf-8", errors="replace"))
    raise SourceError(source, f"not a feed, an HTML page or a page snapshot (it starts with {start!r})")


def _expects_feed(url: str, content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.endswith(("xml", "+xml")) or bool(_FEED_URL.search(url.split("://", 1)[-1].split("/", 1)[-1]))


def parse_source(data: bytes, *, source: str, url: str, day: date, tz: tzinfo, content_type: str = "") -> Parsed:
    """Parse the bytes of ``source`` (read from ``url``) with the parser that fits them.

    ``day`` dates a page snapshot's times; ``tz`` is the publication's time zone, for dates without an
    offset. Raises SourceError naming the source and the reason when the bytes are nothing we can read.
    """
    kind = sniff(data, source=source)
    if kind == "feed":
        return parse_feed(data, source=source, base_url=url, tz=tz)
    if kind == "snapshot":
        return parse_page(data, source=source, page_url=url, day=day, tz=tz)
    if _expects_feed(url, content_type):
        title = plain_text(lxml.html.fromstring(data).findtext(".//title"))
        shown = f" titled {title[:80]!r}" if title else ""
        raise SourceError(source, f"expected a feed but got an HTML page{shown} (an error or login page?)")
    return parse_article(data, source=source, base_url=url, tz=tz)
