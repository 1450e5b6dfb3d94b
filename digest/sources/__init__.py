"""Sources of articles: fetch bytes from a URL or file (I/O), then parse them (pure).

fetch.py     Fetcher: httpx with timeouts, size cap, redirects limit, conditional GET
state.py     DatabaseFetchState: ETag / Last-Modified and body remembered in SourceState
parse.py     sniff the bytes, hand them to the parser that fits
feed.py      RSS 0.9x/1.0/2.0 and Atom (feedparser)
page.py      the news-page snapshot format (`- HH:MMTitle` headlines, then one article)
article.py   one HTML article page (OpenGraph, JSON-LD, trafilatura)
text.py      one cleaning pass for any source's text: blocks, boilerplate tails, sentence-aware cuts
images.py    which image illustrates an article (no pixels, icons or share buttons)
clean.py     canonical URLs, title keys, dates, declared languages
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, tzinfo

from digest.content import Article, Parsed
from digest.errors import SourceError
from digest.sources.clean import canonical_url
from digest.sources.fetch import Fetched, Fetcher
from digest.sources.parse import parse_source

__all__ = ["Fetched", "Fetcher", "LoadResult", "Parsed", "canonical_url", "load_articles", "parse_source"]


@dataclass
class LoadResult:
    """Articles read from every source that worked, one error per source that did not, and warnings
    (items left out, malformed markup read leniently) naming their source."""

    articles: list[Article] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_articles(sources: list[str], fetcher: Fetcher, *, day: date, tz: tzinfo) -> LoadResult:
    """Fetch and parse every source; a broken source is reported in ``errors``, never fatal here.

    ``day`` dates the times of page snapshots; ``tz`` reads dates given without an offset.
    """
    result = LoadResult()
    for source in sources:
        try:
            fetched = fetcher.fetch(source)
            parsed = parse_source(
                fetched.content, source=source, url=fetched.url, day=day, tz=tz, content_type=fetched.content_type
            )
        except SourceError as err:
            result.errors.append(err)
            continue
        result.articles.extend(parsed.articles)
        result.warnings.extend(f"{source}: {warning}" for warning in parsed.warnings)
    return result
