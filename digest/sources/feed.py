"""Parse RSS and Atom feeds (feedparser) into Articles: pure, bytes in, articles out."""

from __future__ import annotations

import calendar
import html
import re
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser

from digest.content import Article
from digest.errors import SourceError

_TAG = re.compile(r"<[^>]+>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def plain_text(markup: str) -> str:
    """Markup to one line of plain text: tags stripped, entities decoded, whitespace collapsed."""
    text = html.unescape(_TAG.sub(" ", markup or ""))
    return " ".join(_CONTROL.sub(" ", text).split())


def _paragraphs(markup: str) -> str:
    blocks = re.split(r"(?i)</p\s*>|<br\s*/?>|\n\s*\n", markup or "")
    return "\n\n".join(p for p in (plain_text(b) for b in blocks) if p)


def _when(entry: feedparser.FeedParserDict) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


def _image(entry: feedparser.FeedParserDict, base_url: str) -> str | None:
    for media in entry.get("media_content", []) + entry.get("media_thumbnail", []):
        if media.get("url"):
            return urljoin(base_url, media["url"])
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return urljoin(base_url, link["href"])
    return None


def parse_feed(data: bytes, *, source: str, base_url: str = "") -> list[Article]:
    """The entries of an RSS or Atom feed as Articles, or SourceError when ``data`` is not a feed."""
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS or Atom feed found"
        raise SourceError(source, f"not a feed: {reason}")
    name = plain_text(parsed.feed.get("title", "")) or source
    articles = []
    for entry in parsed.entries:
        link = entry.get("link")
        title = plain_text(entry.get("title", ""))
        if not link or not title:
            continue
        content = entry.get("content") or []
        body = _paragraphs(content[0].get("value", "")) if content else ""
        tags = entry.get("tags") or []
        articles.append(
            Article(
                url=urljoin(base_url, link),
                title=title,
                source=name,
                published=_when(entry),
                section=plain_text(tags[0].get("term", "")) if tags else None,
                summary=plain_text(entry.get("summary", "")),
                body=body,
                image=_image(entry, base_url),
                author=plain_text(entry.get("author", "")) or None,
                guid=entry.get("id"),
            )
        )
    return articles
