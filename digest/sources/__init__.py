"""Sources of articles: fetch bytes from a URL or file (I/O), then parse them (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from digest.content import Article
from digest.errors import SourceError
from digest.sources.feed import parse_feed
from digest.sources.fetch import Fetcher

__all__ = ["LoadResult", "load_articles", "parse_feed"]


@dataclass
class LoadResult:
    """Articles read from every source that worked, and one error per source that did not."""

    articles: list[Article] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)


def load_articles(sources: list[str], fetcher: Fetcher) -> LoadResult:
    """Fetch and parse every source; a broken source is reported in ``errors``, never fatal here."""
    result = LoadResult()
    for source in sources:
        try:
            fetched = fetcher.fetch(source)
            result.articles.extend(parse_feed(fetched.content, source=source, base_url=fetched.url))
        except SourceError as err:
            result.errors.append(err)
    return result
