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
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
# XML 1.0 appendix F: without a byte-order mark, "<?xm" in EBCDIC tells its encoding family.
_EBCDIC_XML = b"\x4c\x6f\xa7\x94"
# For each wide encoding, which byte positions (modulo 4) of ASCII text are NUL: how a document written in
# UTF-16 or UTF-32 without a byte-order mark is told from binary data.
_NUL_PATTERNS = (
    ("utf-32-be", (0, 1, 2)),
    ("utf-32-le", (1, 2, 3)),
    ("utf-16-be", (0, 2)),
    ("utf-16-le", (1, 3)),
)
_PROLOG = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!doctype(?:[^\[>]|\[[^\]]*\])*>)*", re.DOTALL | re.IGNORECASE)
_ELEMENT = re.compile(r"<([A-Za-z_][\w:.-]*)")
_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})
_HTML_ROOTS = frozenset({"html", "head", "body"})
_FEED_ROOT = re.compile(r"<(rss|feed|rdf:rdf)[\s>]", re.IGNORECASE)
_HTML_TAG = re.compile(r"<(!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)
_FEED_URL = re.compile(r"(?i)(rss|atom|feed|\.xml)([/?#]|$)")


def _wide_encoding(head: bytes) -> str | None:
    """UTF-16 or UTF-32 (big or little endian) when the NUL bytes of ``head`` fall where ASCII text written
    in it would put them, else None."""
    sample = head[: len(head[:256]) // 4 * 4]
    if len(sample) < 8:
        return None
    columns = [sample[k::4] for k in range(4)]
    nul_share = [column.count(0) / len(column) for column in columns]
    for encoding, nul_positions in _NUL_PATTERNS:
        if all(nul_share[k] >= 0.9 for k in nul_positions) and all(
            nul_share[k] <= 0.1 for k in range(4) if k not in nul_positions
        ):
            return encoding
    return None


def decoded_head(data: bytes) -> str | None:
    """The first 8 KiB of ``data`` as text, by its byte-order mark, by the NUL pattern of UTF-16/32 or
    EBCDIC XML, else as UTF-8 (bad bytes replaced); None when it holds NUL bytes no text encoding explains."""
    head = data[:8192]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="replace")
    if head.startswith(_EBCDIC_XML):
        return head.decode("cp037", errors="replace")
    if b"\x00" in head:
        wide = _wide_encoding(head)
        text = head.decode(wide, errors="replace") if wide else ""
        return text if text.lstrip().startswith("<") and "\x00" not in text else None
    return head.decode("utf-8", errors="replace")


def _root_element(text: str) -> str:
    """The local name of the first element after the XML declaration, comments and DOCTYPE ("" if none)."""
    prolog = _PROLOG.match(text)
    match = _ELEMENT.match(text, prolog.end() if prolog else 0)
    return match[1].rsplit(":", 1)[-1].casefold() if match else ""


def sniff(data: bytes, *, source: str) -> Kind:
    """Which parser fits ``data``, or SourceError naming ``source`` and saying what the bytes are instead.

    The document's root element decides (so an RSS item holding an XHTML ``<body>``, or a feed with a
    DOCTYPE, is a feed); text in UTF-16 or UTF-32, with or without a byte-order mark, is text.
    """
    if not data[:8192].lstrip(b"\xef\xbb\xbf \t\r\n"):
        raise SourceError(source, "empty")
    for magic, what in _MAGIC:
        if data.lstrip(b" \t\r\n").startswith(magic):
            raise SourceError(source, f"binary data ({what}), not a feed or a page")
    text = decoded_head(data)
    if text is None:
        raise SourceError(source, "binary data, not a feed or a page")
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        raise SourceError(source, "empty")
    root = _root_element(text)
    if root in _FEED_ROOTS:
        return "feed"
    if root in _HTML_ROOTS or _HTML_TAG.search(text):
        return "html"
    if _FEED_ROOT.search(text):
        return "feed"  # a feed after some junk (a server's warning printed before it)
    if text.startswith("<"):
        return "feed"  # some other XML: feedparser says what is wrong with it
    if looks_like_snapshot(text):
        return "snapshot"
    start = plain_text(text[:60])
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
