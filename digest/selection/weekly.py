"""The weekly round-up: the week's most important stories, a pure function of the week's articles and the
daily editions that ran that week (no clock, settings or I/O; the caller loads both and passes them in).

Candidates are the articles the sources still hold in the week's window, plus every article the week's daily
editions carried (featured, headlines and their other copies, as stored with each edition): the sources may
have dropped Monday's items by Sunday, the editions kept them. They are grouped into stories by the daily
clustering (stories.py) across the whole week, so a story that ran Monday and Wednesday is one story, shown
by its latest day's richest copy, its other copies in ``also``; no story is shown twice.

Each story is scored as a daily one (ranking.py), plus the editors' judgement of the week, the strongest
signals (each named in the reason):

- featured in a daily edition: FEATURED_BONUS a day (PINNED_BONUS when an editor pinned it);
- a headline of a daily edition: HEADLINE_BONUS a day, up to HEADLINE_CAP;
- told on several days (its copies' dates, the editions it ran in): DAY_BONUS a further day, up to DAY_CAP.

The featured pick is the week's best story (or the weekly editor's pin); the headlines are the next best,
within the daily rules' caps (``headlines_max``, ``section_max``), displayed as the daily ones are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from digest.content import Article, Pick, Selection
from digest.selection import (
    EditorChoices,
    SelectionRules,
    _admit,
    _also,
    _assembled,
    _find_pinned,
    _leads,
    _notes,
    _ranked,
    _richness,
    _stories,
    _Story,
)
from digest.selection.window import Window, check_window
from digest.sources.clean import canonical_url

__all__ = ["DailyEdition", "select_week"]

# The editors' signals, added to a story's daily score (which runs from about 0.5 to 3).
PINNED_BONUS = 3.0
FEATURED_BONUS = 2.0
HEADLINE_BONUS = 0.5
HEADLINE_CAP = 1.5
DAY_BONUS = 0.3
DAY_CAP = 0.9


@dataclass(frozen=True, slots=True)
class DailyEdition:
    """One daily edition of the week as stored: its date, its selection, and the URL its editor pinned as
    featured (None: the selection chose it)."""

    day: date
    selection: Selection
    pinned: str | None = None


@dataclass
class _Signals:
    featured: list[date] = field(default_factory=list)
    pinned: list[date] = field(default_factory=list)
    headline: list[date] = field(default_factory=list)


def _editorial(dailies: Sequence[DailyEdition]) -> tuple[list[Article], dict[str, _Signals]]:
    """The articles the daily editions carried, and what each edition made of each (by canonical URL)."""
    carried: list[Article] = []
    signals: dict[str, _Signals] = {}
    for daily in sorted(dailies, key=lambda d: d.day):
        selection = daily.selection
        pinned = canonical_url(daily.pinned) if daily.pinned else None
        picks = [(selection.featured, True)] if selection.featured else []
        picks += [(pick, False) for pick in selection.headlines]
        for pick, featured in picks:
            for article in (pick.article, *pick.also):
                carried.append(article)
            found = signals.setdefault(pick.article.canonical_url, _Signals())
            if featured and pinned in (pick.article.canonical_url, canonical_url(pick.article.url)):
                found.pinned.append(daily.day)
            elif featured:
                found.featured.append(daily.day)
            else:
                found.headline.append(daily.day)
    return carried, signals


def _days(dates: Iterable[date]) -> str:
    return ", ".join(d.isoformat() for d in sorted(set(dates)))


def _weigh(story: _Story, signals: Mapping[str, _Signals], window: Window) -> None:
    """Add the editors' signals and the days the story was told on to ``story``'s score and reason."""
    tz = window[0].tzinfo
    pinned: set[date] = set()
    featured: set[date] = set()
    headline: set[date] = set()
    days = {m.published.astimezone(tz).date() for m in story.members if m.published is not None}
    for member in story.members:
        found = signals.get(member.canonical_url)
        if found is not None:
            pinned.update(found.pinned)
            featured.update(found.featured)
            headline.update(found.headline)
    featured -= pinned
    headline -= pinned | featured
    days |= pinned | featured | headline
    bonus = PINNED_BONUS * len(pinned) + FEATURED_BONUS * len(featured)
    bonus += min(HEADLINE_CAP, HEADLINE_BONUS * len(headline)) + min(DAY_CAP, DAY_BONUS * max(0, len(days) - 1))
    parts = []
    if pinned:
        parts.append(f"pinned as featured by the editor on {_days(pinned)}")
    if featured:
        parts.append(f"featured on {_days(featured)}")
    if headline:
        parts.append(f"a headline on {_days(headline)}")
    if len(days) > 1:
        parts.append(f"told on {len(days)} days")
    story.score = round(story.score + bonus, 4)
    if parts:
        story.reason = f"week score {story.score:.2f}: " + "; ".join(parts) + f" (daily {story.reason})"


def _latest_richest(story: _Story, language: str | None, window: Window) -> None:
    """Show ``story`` by its latest day's richest copy (an undated copy counts as the oldest)."""
    tz = window[0].tzinfo

    def day_of(article: Article) -> date:
        return article.published.astimezone(tz).date() if article.published is not None else date.min

    latest = max(day_of(m) for m in story.members)
    shown = max(
        (m for m in story.members if day_of(m) == latest),
        key=lambda m: (m is story.shown, _richness(m, language, story.kind)),
    )
    if day_of(shown) != day_of(story.shown):
        story.shown, story.lang, story.dated = shown, shown.lang, shown.published is not None


def select_week(
    articles: Iterable[Article],
    dailies: Sequence[DailyEdition],
    *,
    window: Window,
    day: date,
    rules: SelectionRules | None = None,
    choices: EditorChoices | None = None,
    first_seen: Mapping[str, datetime] | None = None,
) -> Selection:
    """The weekly edition of ``day`` over ``window`` (the week): featured story and headlines, each with the
    reason naming the signals that counted (module docstring).

    ``articles`` are the sources' items (those outside ``window`` are skipped, as in a daily edition);
    ``dailies`` the week's stored daily editions, whose articles are candidates whatever their dates.
    ``choices`` are the weekly edition's own editor's (pin, exclusions, intro). EditionError when the pin
    names an article in neither.
    """
    window = check_window(window)
    rules = rules or SelectionRules()
    choices = choices or EditorChoices()
    carried, signals = _editorial(dailies)
    # One copy per link: the source's (its full text) before an edition's stored one.
    by_link: dict[str, Article] = {}
    for article in [*articles, *carried]:
        by_link.setdefault(article.canonical_url, article)
    pool = list(by_link.values())
    excluded = set(choices.exclude) | {canonical_url(url) for url in choices.exclude}
    pinned = _find_pinned(pool, choices.featured) if choices.featured else None

    candidates, skipped = _admit(pool, window, excluded, pinned, first_seen or {})
    # What a daily edition of the week carried is the week's whatever its date says (not if junk or excluded).
    ran = {a.canonical_url for a in carried}
    dated_out = {s.url for s in skipped if s.reason.startswith(("outside the window", "no date"))}
    late = {i for i, a in enumerate(pool) if a.canonical_url in ran and a.url in dated_out}
    skipped = [s for s in skipped if s.url not in {pool[i].url for i in late}]
    candidates = sorted({*candidates, *late})
    stories, copies = _stories(pool, candidates, window, rules, pinned)
    skipped.extend(copies)
    for story in stories:
        if pinned is None or all(m.url != pinned.url for m in story.members):
            _latest_richest(story, rules.language, window)
        _weigh(story, signals, window)

    ranked = _ranked(stories, rules)
    featured_story: _Story | None
    featured: Pick | None
    if pinned is not None:
        featured_story = next(s for s in stories if s.shown.url == pinned.url)
        featured = Pick(featured_story.shown, "pinned by the editor", None, _also(featured_story))
    else:
        # The week's best story leads (a daily edition may prefer one with an image; a round-up does not).
        leads = _leads(ranked, rules)
        featured_story = leads[0] if leads else None
        featured = (
            Pick(
                featured_story.shown,
                f"featured: the week's best story; {featured_story.reason}",
                featured_story.score,
                _also(featured_story),
            )
            if featured_story
            else None
        )
    return _assembled(
        day=day,
        window=window,
        featured_story=featured_story,
        featured=featured,
        ranked=ranked,
        stories=stories,
        skipped=skipped,
        rules=rules,
        choices=choices,
        notes=_notes(pool, choices, pinned, window),
    )
