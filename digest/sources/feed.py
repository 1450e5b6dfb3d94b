"""Parse RSS 0.9x/1.0/2.0 and Atom feeds (feedparser) into Articles: pure, bytes in, articles out."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, tzinfo
from typing import Any

import feedparser
import lxml.etree

from digest.content import Article, Parsed
from digest.errors import SourceError
from digest.sources.clean import absolute_url, canonical_url, language_code, parse_date
from digest.sources.images import Image, pick_image, pixels
from digest.sources.text import clean_summary, clean_title, paragraphs, plain_text, plausible_language

_IMG = re.compile(r"""(?is)<img\b[^>]*>""")
_ATTR = re.compile(r"""(?is)\b(src|width|height|alt)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_IMAGE_EXTENSION = re.compile(r"(?i)\.(jpe?g|png|gif|webp|avif)(?:$|\?)")
# Categories that say nothing about the article (WordPress's default, and similar).
_EMPTY_SECTIONS = frozenset({"uncategorized", "non classé", "non classe", "غير مصنف", "general", "général"})
# Media RSS: its description, title and credit describe a photo or a video, not the article.
_MEDIA_RSS = ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
_MEDIA_TEXT = ("description", "title", "credit", "text")
_ROOT_END = re.compile(rb"(?i)</\s*(?:[\w.-]+:)?(?:rss|feed|rdf|channel)\s*>(?:\s|<!--.*?-->)*$", re.DOTALL)


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


def _img_tags(markup: str) -> list[Image]:
    images = []
    for tag in _IMG.findall(markup or ""):
        attrs = {m[0].lower(): next(v for v in m[1:] if v is not None) for m in _ATTR.findall(tag)}
        if attrs.get("src"):
            alt = plain_text(attrs.get("alt"))
            images.append(Image(attrs["src"], pixels(attrs.get("width")), pixels(attrs.get("height")), alt))
    return images


def _is_image(media: dict[str, Any]) -> bool:
    kind = str(media.get("type") or "")
    medium = str(media.get("medium") or "")
    if kind or medium:
        return kind.startswith("image/") or medium == "image"
    return bool(_IMAGE_EXTENSION.search(str(media.get("url", ""))))


def _image(entry: Any, markup: str, base_url: str, caption: str) -> Image | None:
    """media:content (the widest image), media:thumbnail, an image enclosure, else the first <img> of the
    text: the first that is not a pixel, an icon or a share button. Its caption (else its alt) comes along."""
    contents = [m for m in entry.get("media_content", []) if m.get("url") and _is_image(m)]
    contents.sort(key=lambda m: -(pixels(m.get("width")) or 0))
    candidates = [Image(m["url"], pixels(m.get("width")), pixels(m.get("height")), caption) for m in contents]
    candidates += [
        Image(m["url"], pixels(m.get("width")), pixels(m.get("height")), caption)
        for m in entry.get("media_thumbnail", [])
        if m.get("url")
    ]
    candidates += [
        Image(link["href"], alt=caption)
        for link in entry.get("links", [])
        if link.get("rel") == "enclosure" and link.get("href") and str(link.get("type", "")).startswith("image/")
    ]
    candidates += [
        image if image.alt or not caption else Image(image.url, image.width, image.height, caption)
        for image in _img_tags(markup)
    ]
    return pick_image(candidates, base_url)


def _item_media_texts(data: bytes) -> list[list[tuple[str, str]]] | None:
    """For each item of the feed, in order, its Media RSS texts as (element name, plain text): photo
    captions, titles, credits. None when the XML cannot be read this way. feedparser files a
    media:description under the item's summary or content: these texts tell the caption from the article's
    own text."""
    parser = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = lxml.etree.fromstring(data, parser)
    except (lxml.etree.LxmlError, ValueError):
        return None
    if root is None:
        return None
    items = []
    for element in root.iter("{*}item", "{*}entry"):
        texts = []
        for media in element.iter():
            if not isinstance(media.tag, str) or not media.tag.startswith("{"):
                continue
            namespace, _, name = media.tag[1:].partition("}")
            if namespace in _MEDIA_RSS and name in _MEDIA_TEXT:
                text = plain_text("".join(media.itertext()))
                if text:
                    texts.append((name, text))
        items.append(texts)
    return items


def _caption(media_texts: list[tuple[str, str]]) -> str:
    """The photo's caption (media:description, else media:title) as its alt text; a credit is not one."""
    for wanted in ("description", "title"):
        for name, text in media_texts:
            if name == wanted:
                return text
    return ""


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

    Dates without an offset are read in ``tz``; an entry without a date stays undated (``published``
    None): the feed's own date says when the feed was built, not when the item was written (undated advertising
    items would take it and pass for the day's news). Summary and body come from the item's own text (description,
    summary, content:encoded, Atom content), never from a photo's caption or credit (Media RSS), which goes
    with the image instead. ``lang`` is the language the feed declares. Entries without a title or an
    http(s) link are left out with a warning. Malformed XML is read as far as feedparser's lenient parser
    gets, with a warning.
    """
    try:
        parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    except Exception as err:  # feedparser crashes on some hostile bytes, e.g. a non-UTF-8 encoding name
        raise SourceError(source, f"unreadable feed ({type(err).__name__}: {err})") from err
    error = parsed.get("bozo_exception")
    if not parsed.get("version") and not parsed.entries:
        reason = f"malformed XML ({_describe(error)})" if error else "no RSS or Atom root element"
        raise SourceError(source, f"not a feed: {reason}")
    malformed = error is not None and not isinstance(error, feedparser.CharacterEncodingOverride)
    cut_short = malformed and _cut_short(data)
    if malformed and not parsed.entries:
        raise SourceError(source, f"broken feed: {_describe(error)}; no item could be read")
    warnings: list[str] = []
    if isinstance(error, feedparser.CharacterEncodingOverride):
        warnings.append(f"the declared encoding is wrong: read as {parsed.get('encoding', 'another encoding')}")
    elif cut_short:
        warnings.append(f"the feed is cut short ({_describe(error)}): kept the {len(parsed.entries)} item(s) before")
    elif malformed:
        warnings.append(f"malformed XML ({_describe(error)}): read leniently, {len(parsed.entries)} item(s) found")
    feed = parsed.feed
    name = clean_title(feed.get("title")) or source
    base = absolute_url(feed.get("link"), base_url) or base_url
    feed_lang = language_code(feed.get("language") or (feed.get("title_detail") or {}).get("language"))
    media_texts = _item_media_texts(data)
    if media_texts is None or len(media_texts) != len(parsed.entries):
        # Items could not be paired with feedparser's entries: any item's caption is a caption.
        every = [text for texts in media_texts or [] for text in texts]
        media_texts = [every] * len(parsed.entries)
    articles = []
    for number, (entry, item_media) in enumerate(zip(parsed.entries, media_texts, strict=True), start=1):
        captions = [text for _, text in item_media]
        title = clean_title(entry.get("title"))
        link = absolute_url(entry.get("link"), base) or absolute_url(entry.get("id"), base)
        if not title or not link:
            missing = "title" if not title else "http(s) link"
            shown = title or plain_text(entry.get("link")) or "untitled"
            warnings.append(f"item {number} ({shown[:80]}) has no {missing}: left out")
            continue
        lang = plausible_language(_declared_language(entry) or feed_lang, title)
        summary_markup = _own_text(entry.get("summary"), captions)
        contents = [_own_text(content.get("value"), captions) for content in entry.get("content") or []]
        markup = max(contents, key=len, default="")
        image = _image(entry, f"{markup}\n{summary_markup}", base, _caption(item_media))
        categories = _categories(entry)
        articles.append(
            Article(
                url=link,
                title=title,
                source=name,
                published=_entry_date(entry, tz),
                section=categories[0] if categories else None,
                summary=clean_summary(summary_markup or markup, title=title, lang=lang),
                body=paragraphs(markup, lang),
                image=image.url if image else None,
                author=plain_text(entry.get("author")) or None,
                guid=plain_text(entry.get("id")) or None,
                canonical_url=canonical_url(link),
                categories=categories,
                lang=lang,
                image_width=image.width if image else None,
                image_height=image.height if image else None,
                image_alt=image.alt if image else "",
            )
        )
    if cut_short and not articles:
        raise SourceError(source, f"broken feed: cut short ({_describe(error)}) before its first complete item")
    return Parsed(tuple(articles), tuple(warnings))


def _cut_short(data: bytes) -> bool:
    """True when the document stops before its root element closes (a download cut short)."""
    tail = data[-256:].replace(b"\x00", b"").rstrip()
    return not _ROOT_END.search(tail)


def _declared_language(entry: Any) -> str | None:
    """The language the entry's own xml:lang declares (on its title, summary or content), if any."""
    details = [entry.get("title_detail"), entry.get("summary_detail"), *(entry.get("content") or [])]
    for detail in details:
        code = language_code((detail or {}).get("language"))
        if code:
            return code
    return None


def _own_text(markup: str | None, captions: list[str]) -> str:
    """``markup`` unless it is empty or one of the item's photo captions or credits (then "")."""
    return markup if markup and markup.strip() and plain_text(markup) not in captions else ""
