"""Parse a news-page snapshot (a `- HH:MMTitle` headline list, then one full article): pure.

The snapshot gives times without a date: they are local to the publication, on the day passed in (the
edition date). Headlines carry no link, so each gets the page URL with a fragment naming it; since that
fragment is the only thing telling two headlines apart, it stays in their identity (``canonical_url``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo
from urllib.parse import quote, urlsplit

from digest.content import Article, Parsed
from digest.errors import SourceError
from digest.sources.clean import canonical_url, title_key
from digest.sources.text import clean_title, paragraphs, plain_text

_HEADLINE = re.compile(r"^[-–•*]\s*(\d{1,2})\s*[:hH]\s*(\d{2})\s*(.*)$")
# Lines of a page that are not content: social links, comment counters, sharing and "read also" prompts.
_BOILERPLATE = re.compile(
    r"""(?ix)^(
      suivez[- ]nous\b.* | follow\ us\b.* | تابعونا.* |
      commentaires?\s*\(\s*\d+\s*\) | comments?\s*\(\s*\d+\s*\) | \d+\s+commentaires? | تعليقات\s*\(\s*\d+\s*\) |
      partager(\ sur\ .*)? | share(\ on\ .*)? | imprimer | print |
      lire\ aussi\b.* | à\ lire\ aussi\b.* | read\ also\b.* | اقرأ\ أيضا.* |
      publicité | advertisement | pub
    )$"""
)


def looks_like_snapshot(text: str) -> bool:
    """True when ``text`` holds at least one `- HH:MMTitle` headline line."""
    return any(_HEADLINE.match(line.strip()) for line in text.splitlines()[:200])


def _slug(title: str) -> str:
    return quote("-".join(title_key(title).split())[:80] or "article")


def _link(page_url: str, title: str) -> tuple[str, str]:
    """The link shown for a headline of the page, and its identity (the page's canonical URL + fragment)."""
    page = page_url.split("#", 1)[0]
    fragment = _slug(title)
    identity = canonical_url(page) if page.startswith(("http://", "https://")) else page
    return f"{page}#{fragment}", f"{identity}#{fragment}"


def parse_page(data: bytes, *, source: str, page_url: str, day: date, tz: tzinfo) -> Parsed:
    """The headlines and the full article of a page snapshot, dated ``day`` in ``tz``.

    The full article has no time of its own: it takes the page's, the time of its newest headline (the
    snapshot was taken after it), or the start of ``day`` when the page lists no headline.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SourceError(source, f"page snapshot is not UTF-8 text (byte {err.start}: {err.reason})") from err
    # A page read from the web is named by its site; a file by what the user gave.
    name = urlsplit(page_url).hostname if page_url.startswith(("http://", "https://")) else None
    name = (name or source).removeprefix("www.")
    warnings: list[str] = []
    headlines: list[Article] = []
    rest: list[str] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = plain_text(raw_line)
        if not line or _BOILERPLATE.match(line):
            continue
        match = _HEADLINE.match(line)
        if not match:
            rest.append(line)
            continue
        hour, minute, title = int(match[1]), int(match[2]), clean_title(match[3])
        if hour > 23 or minute > 59 or not title:
            warnings.append(f"line {number}: not a headline (bad time or no title): {line[:60]}")
            continue
        url, identity = _link(page_url, title)
        published = datetime.combine(day, time(hour, minute), tzinfo=tz)
        headlines.append(Article(url=url, title=title, source=name, published=published, canonical_url=identity))
    articles = list(headlines)
    if rest:
        title, body = rest[0], paragraphs("\n\n".join(rest[1:]))
        page_time = max((a.published for a in headlines if a.published), default=None)
        url, identity = _link(page_url, title)
        articles.append(
            Article(
                url=url,
                title=clean_title(title),
                source=name,
                published=page_time or datetime.combine(day, time(0), tzinfo=tz),
                body=body,
                canonical_url=identity,
            )
        )
    if not articles:
        raise SourceError(source, "page snapshot holds no headline and no article")
    return Parsed(tuple(articles), tuple(warnings))
