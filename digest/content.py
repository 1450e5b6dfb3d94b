"""The values the pipeline passes along: an Article read from a source, and the day's Selection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Article:
    """One article as a source gives it, already cleaned: plain-text title, summary and body.

    ``published`` is timezone-aware or ``None`` when the source gave no date. ``canonical_url`` is the
    identity used to find duplicates (tracking parameters and fragment removed); ``url`` is the link shown.
    ``section`` is the first of ``categories``. ``lang`` is the article's language (an ISO 639-1 code: the
    detected one where the selection detected it, else the feed's declared one, else ``None``);
    ``image_width``/``image_height`` are the image's size in pixels where the source says it, ``image_alt`` its
    caption or alternative text (a photo's caption is never the article's summary).
    """

    url: str
    title: str
    source: str
    published: datetime | None = None
    section: str | None = None
    summary: str = ""
    body: str = ""
    image: str | None = None
    author: str | None = None
    guid: str | None = None
    canonical_url: str = ""
    categories: tuple[str, ...] = ()
    lang: str | None = None
    image_width: int | None = None
    image_height: int | None = None
    image_alt: str = ""

    def __post_init__(self) -> None:
        if not self.canonical_url:
            object.__setattr__(self, "canonical_url", self.url)
        if not isinstance(self.categories, tuple):
            object.__setattr__(self, "categories", tuple(self.categories))


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one source yielded: its articles, and warnings about items or markup it had to pass over."""

    articles: tuple[Article, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Pick:
    """An article the selection kept, with the reason it was kept, its importance score (None: pinned by
    the editor or read back from an older edition) and the other copies of its story (``also``)."""

    article: Article
    reason: str
    score: float | None = None
    also: tuple[Article, ...] = ()


@dataclass(frozen=True, slots=True)
class Skip:
    """An article the selection dropped, with the reason (duplicate of X, outside the day, ...)."""

    url: str
    reason: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class Selection:
    """The day's choice: one featured article and the ordered headlines, with what was skipped.

    ``notes`` tell the editor about their choices that need a look (an exclusion that matched nothing, a
    pinned article from another day); they are not stored with the edition.
    """

    day: date
    featured: Pick | None
    headlines: tuple[Pick, ...] = ()
    skipped: tuple[Skip, ...] = ()
    intro: str = ""
    featured_summary: str = ""
    notes: tuple[str, ...] = ()
    window: tuple[datetime, datetime] | None = None

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to mail for the day."""
        return self.featured is None and not self.headlines


def normalize_sections(sections: frozenset[str] | None) -> frozenset[str] | None:
    """Sections compared without case or surrounding spaces; empty means all."""
    if not sections:
        return None
    return frozenset(s.strip().casefold() for s in sections if s.strip()) or None
