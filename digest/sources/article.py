"""Parse one HTML article page: metadata from OpenGraph and JSON-LD, main text from trafilatura. Pure.

Dates come from the page's metadata only (``article:published_time``, JSON-LD ``datePublished``,
``<time datetime>``): trafilatura's own date guessing is not used, as it reads the clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Any

import lxml.etree
import lxml.html

from digest.content import Article, Parsed
from digest.errors import SourceError
from digest.sources.clean import absolute_url, canonical_url, language_code, parse_date, title_key
from digest.sources.images import is_furniture
from digest.sources.images import pixels as _pixels
from digest.sources.text import clean_summary, clean_title, paragraphs, plain_text

ARTICLE_TYPES = frozenset(
    {"article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle", "blogposting"}
)
# Main text shorter than this, on a page that does not call itself an article, is a home or list page.
MIN_TEXT_CHARS = 200
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")


def _json_ld_objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _json_ld_objects(item)
    elif isinstance(value, dict):
        yield value
        yield from _json_ld_objects(value.get("@graph"))


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).casefold() for k in kinds if k}


def _text_of(value: Any) -> str | None:
    """A JSON-LD value that may be a string, an object with a name/url, or a list of either."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("url") or value.get("@id")
    return str(value) if value else None


def _news_article(tree: Any) -> dict[str, Any]:
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text_content() or "null")
        except ValueError:
            continue  # broken JSON-LD is common; the OpenGraph tags may still say it all
        for obj in _json_ld_objects(data):
            if _types(obj) & ARTICLE_TYPES:
                return obj
    return {}


def _meta(tree: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in tree.xpath("//meta[@content]"):
        key = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").strip().casefold()
        if key and key not in found:
            found[key] = tag.get("content", "")
    return found


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v and v.strip()), None)


def feed_links(data: bytes, base_url: str) -> list[str]:
    """The feeds an HTML page announces with ``<link rel="alternate" type="application/rss+xml">``."""
    try:
        tree = lxml.html.fromstring(data)
    except (lxml.etree.ParserError, ValueError):
        return []
    links = []
    for link in tree.xpath("//link[@href]"):
        if "alternate" in (link.get("rel") or "").lower().split() and link.get("type", "").lower() in FEED_TYPES:
            url = absolute_url(link.get("href"), base_url)
            if url:
                links.append(url)
    return links


def parse_article(data: bytes, *, source: str, base_url: str, tz: tzinfo) -> Parsed:
    """One article from an HTML page, or SourceError when the page holds no article (e.g. a home page)."""
    try:
        tree = lxml.html.fromstring(data)
    except (lxml.etree.ParserError, ValueError) as err:
        raise SourceError(source, f"unreadable HTML: {err}") from err
    meta = _meta(tree)
    ld = _news_article(tree)
    import trafilatura  # here, not at the top: only article pages need it, and it takes 0.15 s to import

    try:
        body = trafilatura.extract(
            data, url=base_url or None, include_comments=False, include_tables=False, favor_precision=True
        )
    except Exception as err:  # the extractor must not turn one odd page into a traceback
        raise SourceError(source, f"cannot extract the main text ({type(err).__name__}: {err})") from err
    lang = language_code(tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")) or language_code(
        meta.get("og:locale") or _text_of(ld.get("inLanguage"))
    )
    body = paragraphs("\n\n".join(line.strip() for line in (body or "").splitlines() if line.strip()), lang)
    is_article = bool(ld) or meta.get("og:type", "").casefold() == "article" or "article:published_time" in meta
    h1 = tree.xpath("string(//h1)")
    title = clean_title(
        _first(_text_of(ld.get("headline")), meta.get("og:title"), meta.get("twitter:title"), h1)
        or tree.findtext(".//title")
    )
    if not title or (not is_article and len(body) < MIN_TEXT_CHARS):
        feeds = feed_links(data, base_url)
        hint = f"; it announces a feed, use it instead: {feeds[0]}" if feeds else ""
        raise SourceError(source, f"HTML page without an article (no article metadata, little main text){hint}")
    url = (
        absolute_url(_first(tree.xpath("string(//link[@rel='canonical']/@href)"), meta.get("og:url")), base_url)
        or absolute_url(base_url)
        or base_url
    )
    published = _published(tree, meta, ld, tz)
    section = plain_text(_first(_text_of(ld.get("articleSection")), meta.get("article:section"))) or None
    image = absolute_url(
        _first(_text_of(ld.get("image")), meta.get("og:image"), meta.get("twitter:image")), base_url or url
    )
    width, height = _pixels(meta.get("og:image:width")), _pixels(meta.get("og:image:height"))
    if image and is_furniture(image, width, height):
        image, width, height = None, None, None  # a site logo or an icon, not the article's picture
    body_title, _, rest = body.partition("\n\n")
    if title_key(body_title) == title_key(title):
        body = rest  # trafilatura keeps the headline as the first line
    article = Article(
        url=url,
        title=title,
        source=plain_text(meta.get("og:site_name")) or source,
        published=published,
        section=section,
        summary=clean_summary(
            _first(_text_of(ld.get("description")), meta.get("og:description"), meta.get("description")),
            title=title,
            lang=lang,
        ),
        body=body,
        image=image,
        author=plain_text(_first(_text_of(ld.get("author")), meta.get("author"), meta.get("article:author"))) or None,
        canonical_url=canonical_url(url),
        categories=(section,) if section else (),
        lang=lang,
        image_width=width if image else None,
        image_height=height if image else None,
        image_alt=plain_text(meta.get("og:image:alt") or meta.get("twitter:image:alt")),
    )
    warnings = [] if published else ["the article page gives no publication date"]
    return Parsed((article,), tuple(warnings))


def _published(tree: Any, meta: dict[str, str], ld: dict[str, Any], tz: tzinfo) -> datetime | None:
    candidates = [
        _text_of(ld.get("datePublished")),
        meta.get("article:published_time"),
        meta.get("og:published_time"),
        meta.get("datepublished"),
        meta.get("date"),
        meta.get("pubdate"),
        meta.get("dc.date.issued"),
        meta.get("dcterms.created"),
        *tree.xpath("//time/@datetime")[:1],
        _text_of(ld.get("dateModified")),
        meta.get("article:modified_time"),
    ]
    for raw in candidates:
        value = parse_date(raw, tz)
        if value:
            return value
    return None
