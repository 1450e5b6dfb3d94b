"""Parse RSS 0.9x/1.0/2.0 and Atom feeds (feedparser) into Articles: pure, bytes in, articles out."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, tzinfo
from typing import Any

import feedparser

from digest.content import Article, Parsed
from digest.errors import SourceError
from digest.sources.clean import (
    absolute_url,
    canonical_url,
    clean_summary,
    clean_title,
    paragraphs,
    parse_date,
    plain_text,
)

_IMG = re.compile(r"""(?is)<img\b[^>]*>""")
_ATTR = re.compile(r"""(?is)\b(src|width|height)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_IMAGE_EXTENSION = re.compile(r"(?i)\.(jpe?g|png|gif|webp|avif)(?:$|\?)")
# Categories that say nothing about the article (WordPress's default, and similar).
_EMPTY_SECTIONS = frozenset({"uncategorized", "non classé", "non classe", "غير مصنف", "general", "général"})


def _struct_time(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


def _entry_date(entry: Any, tz: tzinfo) -> datetime | None:
    """The published (else updated) date; read from the raw text so a date without an offset is local."""
    for key in ("published", "updated", "created"):
        raw = entry.get(key)
        if raw:
            return parse_date(raw, tz) or _struct_time(entry.get(f"{key}_parsed"))
    return None


def _first_img(markup: str, base_url: str) -> str | None:
    for tag in _IMG.findall(markup or ""):
        attrs = {m[0].lower(): next(v for v in m[1:] if v is not None) for m in _ATTR.findall(tag)}
        if attrs.get("width") == "1" or attrs.get("height") == "1":
            continue  # a tracking pixel, not an illustration
        url = absolute_url(attrs.get("src"), base_url)
        if url:
            return url
    return None


def _is_image(media: dict[str, Any]) -> bool:
    kind = str(media.get("type") or "")
    medium = str(media.get("medium") or "")
    if kind or medium:
        return kind.startswith("image/") or medium == "image"
    return bool(_IMAGE_EXTENSION.search(str(media.get("url", ""))))


def _image(entry: Any, markup: str, base_url: str) -> str | None:
    """media:content (the widest image), media:thumbnail, an image enclosure, else the first <img>."""
    contents = [m for m in entry.get("media_content", []) if m.get("url") and _is_image(m)]
    contents.sort(key=lambda m: -int(m["width"]) if str(m.get("width", "")).isdigit() else 0)
    candidates = [m.get("url") for m in contents]
    candidates += [m.get("url") for m in entry.get("media_thumbnail", [])]
    candidates += [
        link.get("href")
        for link in entry.get("links", [])
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
    ]
    for candidate in candidates:
        url = absolute_url(candidate, base_url)
        if url:
            return url
    return _first_img(markup, base_url)


def _categories(entry: Any) -> tuple[str, ...]:
    names: list[str] = []
    for tag in entry.get("tags") or []:
        name = plain_text(tag.get("label") or tag.get("term") or "")
        if name and name.casefold() not in _EMPTY_SECTIONS and name not in names:
            names.append(name)
    return tuple(names)


def _describe(error: Any) -> str:
    line = getattr(error, "getLineNumber", lambda: None)()
    where = f" at line {line}" if line else ""
    message = getattr(error, "getMessage", lambda: str(error))()
    return f"{message}{where}"


def parse_feed(data: bytes, *, source: str, base_url: str = "", tz: tzinfo = UTC) -> Parsed:
    """The entries of an RSS or Atom feed as Articles, or SourceError when ``data`` is not a feed.

    Dates without an offset are read in ``tz``; an entry without a date stays undated (``published`` None):
    the feed's own date says when the feed was built, not when the item was written (undated advertising
    items would take it and pass for the day's news). Entries without a title or an http(s) link are left out with
    a warning. Malformed XML is read as far as feedparser's lenient parser gets, with a warning.
    """
    try:
        parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    except Exception as err:  # feedparser crashes on some hostile bytes, e.g. a non-UTF-8 encoding name
        raise SourceError(source, f"unreadable feed ({type(err).__name__}: {err})") from err
    error = parsed.get("bozo_exception")
    if not parsed.get("version"):
        reason = f"malformed XML ({_describe(error)})" if error else "no RSS or Atom root element"
        raise SourceError(source, f"not a feed: {reason}")
    warnings: list[str] = []
    if isinstance(error, feedparser.CharacterEncodingOverride):
        warnings.append(f"the declared encoding is wrong: read as {parsed.get('encoding', 'another encoding')}")
    elif error is not None:
        warnings.append(f"malformed feed ({_describe(error)}): kept the {len(parsed.entries)} item(s) read before")
    feed = parsed.feed
    name = clean_title(feed.get("title")) or source
    base = absolute_url(feed.get("link"), base_url) or base_url
    articles = []
    for number, entry in enumerate(parsed.entries, start=1):
        title = clean_title(entry.get("title"))
        link = absolute_url(entry.get("link"), base) or absolute_url(entry.get("id"), base)
        if not title or not link:
            missing = "title" if not title else "http(s) link"
            warnings.append(f"item {number} ({title or entry.get('link') or 'untitled'}) has no {missing}: left out")
            continue
        content = entry.get("content") or []
        markup = max((c.get("value", "") for c in content), key=len, default="")
        summary_markup = entry.get("summary", "")
        categories = _categories(entry)
        articles.append(
            Article(
                url=link,
                title=title,
                source=name,
                published=_entry_date(entry, tz),
                section=categories[0] if categories else None,
                summary=clean_summary(summary_markup),
                body=paragraphs(markup),
                image=_image(entry, markup or summary_markup, base),
                author=plain_text(entry.get("author")) or None,
                guid=plain_text(entry.get("id")) or None,
                canonical_url=canonical_url(link),
                categories=categories,
            )
        )
    if error is not None and not isinstance(error, feedparser.CharacterEncodingOverride) and not articles:
        raise SourceError(source, f"broken feed: {_describe(error)}, no item could be read")
    return Parsed(tuple(articles), tuple(warnings))
