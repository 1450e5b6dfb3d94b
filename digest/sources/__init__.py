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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import TYPE_CHECKING, Any

from digest.content import Article, Parsed
from digest.errors import SourceError
from digest.sources.clean import canonical_url

if TYPE_CHECKING:
    from digest.sources.fetch import Fetched, Fetcher
    from digest.sources.parse import parse_source

# Sources fetched at the same time: enough for a day's list of outlets, few enough to be a polite client.
MAX_CONCURRENT_FETCHES = 16

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

    Sources are fetched at the same time (up to MAX_CONCURRENT_FETCHES, each within the fetcher's own
    per-source deadline), so a build waits for its slowest source rather than for the sum of them; they are
    parsed one after another in the order given, so the result does not depend on who answered first.
    ``day`` dates the times of page snapshots; ``tz`` reads dates given without an offset.
    """
    from digest.sources.parse import parse_source

    result = LoadResult()
    workers = max(1, min(MAX_CONCURRENT_FETCHES, len(sources)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
        outcomes = list(pool.map(lambda source: _fetch(fetcher, source), sources))
    for source, outcome in zip(sources, outcomes, strict=True):
        try:
            if isinstance(outcome, SourceError):
                raise outcome
            parsed = parse_source(
                outcome.content, source=source, url=outcome.url, day=day, tz=tz, content_type=outcome.content_type
            )
        except SourceError as err:
            result.errors.append(err)
            continue
        result.articles.extend(parsed.articles)
        result.warnings.extend(f"{source}: {warning}" for warning in parsed.warnings)
    return result


def __getattr__(name: str) -> Any:
    """The fetcher and the parsers (httpx, feedparser, lxml, trafilatura), imported when first asked for: the
    selection and `digest send` use this package's light modules (clean, text) and never pay for them."""
    if name in ("Fetched", "Fetcher"):
        from digest.sources import fetch

        return getattr(fetch, name)
    if name == "parse_source":
        from digest.sources.parse import parse_source

        return parse_source
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _fetch(fetcher: Fetcher, source: str) -> Fetched | SourceError:
    """The source's bytes, or the SourceError that says why not (kept, to be reported in order)."""
    try:
        return fetcher.fetch(source)
    except SourceError as err:
        return err
