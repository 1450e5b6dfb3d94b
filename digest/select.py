"""Pick the day's featured article and headlines: a pure function of articles, day and rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.content import Article, Pick, Selection, Skip


@dataclass(frozen=True, slots=True)
class SelectionRules:
    """How many headlines to keep and how long the featured summary may be."""

    headlines_max: int = 10
    summary_chars: int = 300


@dataclass(frozen=True, slots=True)
class EditorChoices:
    """What an editor decided: a pinned featured URL, URLs to drop, an intro note."""

    featured: str | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)
    intro: str = ""


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Midnight to midnight of ``day`` in ``tz``, as aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def summarize(text: str, limit: int) -> str:
    """The lede of ``text`` cut at the last sentence end within ``limit`` characters (else at a word)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    ends = [cut.rfind(mark) for mark in (". ", "! ", "? ", "… ")]
    end = max(ends)
    if end >= limit // 3:
        return cut[: end + 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut[:limit]).rstrip(" ,;:") + "…"


def select(
    articles: Iterable[Article],
    *,
    day: date,
    tz: ZoneInfo,
    rules: SelectionRules | None = None,
    choices: EditorChoices | None = None,
) -> Selection:
    """Choose the featured article and the headlines of ``day`` (local to ``tz``).

    Articles outside the day, without a date, excluded by the editor or already seen (same canonical URL)
    are skipped with the reason. The featured article is the editor's pin, else the first article of the
    day with a body; it never appears again among the headlines, which are most recent first and capped.
    """
    rules = rules or SelectionRules()
    choices = choices or EditorChoices()
    start, end = day_bounds(day, tz)
    skipped: list[Skip] = []
    seen: dict[str, str] = {}
    of_the_day: list[Article] = []
    for article in articles:
        key = article.canonical_url
        if key in seen:
            skipped.append(Skip(article.url, f"duplicate of {seen[key]}", article.title))
        elif article.url in choices.exclude or key in choices.exclude:
            skipped.append(Skip(article.url, "excluded by the editor", article.title))
        elif article.published is None:
            skipped.append(Skip(article.url, "no date", article.title))
        elif not start <= article.published < end:
            local_day = article.published.astimezone(tz).date().isoformat()
            skipped.append(Skip(article.url, f"outside the day (published {local_day})", article.title))
        else:
            of_the_day.append(article)
        seen.setdefault(key, article.url)

    featured: Pick | None = None
    pinned = choices.featured
    if pinned:
        match = next((a for a in of_the_day if pinned in (a.url, a.canonical_url)), None)
        if match:
            featured = Pick(match, "pinned by the editor")
    if featured is None:
        match = next((a for a in of_the_day if a.body), None)
        if match:
            featured = Pick(match, "first article of the day with a full body")

    rest = [a for a in of_the_day if featured is None or a is not featured.article]
    rest.sort(key=lambda a: (a.published or start, a.canonical_url), reverse=True)
    headlines = tuple(Pick(a, "most recent first") for a in rest[: rules.headlines_max])
    skipped.extend(
        Skip(a.url, f"over the cap of {rules.headlines_max} headlines", a.title) for a in rest[rules.headlines_max :]
    )
    summary = ""
    if featured:
        summary = summarize(featured.article.summary or featured.article.body, rules.summary_chars)
    return Selection(
        day=day,
        featured=featured,
        headlines=headlines,
        skipped=tuple(skipped),
        intro=choices.intro,
        featured_summary=summary,
    )
