"""Pick an edition's featured article and headlines: a pure function of articles, window, rules and choices.

No clock, settings or I/O here: the caller passes the edition window (two aware datetimes; a calendar day
is :func:`calendar_window`), the rules and the editor's choices. The same input always gives the same
Selection, and every pick and every skip says why.

window.py    the edition window
language.py  language detection and language-aware normalisation of words
rules.py     junk (advertising, sponsored, shopping, promotions) and the kind of each piece
stories.py   items telling the same story, within and across sources
ranking.py   the importance score and its reason
summary.py   the lede shown as a summary

The steps:

1. An article excluded by the editor, junk, without a date (unless its source dates nothing: then it
   belongs to the window it was first seen in, and comes after dated items) or outside the window is
   skipped with that reason.
2. The rest are grouped into stories; each story shows its richest copy (a full body, then an image, then
   more text; in the edition's language first) and lists the others in ``also``.
3. Stories are scored (ranking.py). The featured article is the editor's pin, else the best story in the
   edition's language, with a real image when one of the top candidates has one.
4. The cap keeps the most important ``headlines_max`` (at most ``section_max`` per section); items in
   another language come after those in the edition's. They are then ordered for display by importance or
   by time (equal times keep feed order), grouped by section when asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Literal

from digest.content import Article, Pick, Selection, Skip
from digest.edits import Edits
from digest.errors import EditionError
from digest.selection.language import detect
from digest.selection.ranking import REAL_BODY, score_story, time_ordered, weight_of
from digest.selection.rules import Kind, junk_reason, kind_of, severity
from digest.selection.stories import StoryInput, cluster
from digest.selection.window import Window, calendar_window, check_window, in_window
from digest.sources.clean import canonical_url
from digest.sources.text import summarize

__all__ = ["EditorChoices", "SelectionRules", "Window", "calendar_window", "select", "summarize"]

# How many of the best stories the featured pick looks through for one with a real image.
FEATURED_IMAGE_LOOKAHEAD = 3
# A source needs this many items for its order to tell anything.
MIN_ORDERED_ITEMS = 3
# An image narrower than this (when the source says its width) is a thumbnail or an icon, not a real image.
REAL_IMAGE_WIDTH = 300


@dataclass(frozen=True, slots=True)
class SelectionRules:
    """The stated rules of a selection (see the module docstring for how each is used).

    ``language`` is the edition's; ``sections`` the publisher's (display order; when set, only these are
    section headings); ``section_order`` the sections grouped headlines show first (after ``sections``);
    ``section_weights`` and ``source_weights`` weigh importance (names compared without case; a source is
    named by its feed title, ``Article.source``).
    """

    headlines_max: int = 10
    summary_chars: int = 300
    headline_order: Literal["importance", "time"] = "importance"
    group_by_section: bool = False
    sections: tuple[str, ...] = ()
    section_order: tuple[str, ...] = ()
    section_max: int | None = None
    section_weights: Mapping[str, float] = field(default_factory=dict)
    source_weights: Mapping[str, float] = field(default_factory=dict)
    language: str | None = None


@dataclass(frozen=True, slots=True)
class EditorChoices:
    """What an editor decided: a pinned featured URL, URLs to drop, an intro note, and the desk's edits
    (applied after the selection by :func:`digest.edits.apply_edits`)."""

    featured: str | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)
    intro: str = ""
    edits: Edits = field(default_factory=Edits)


@dataclass
class _Story:
    members: list[Article]
    shown: Article
    kind: Kind
    lang: str | None
    dated: bool
    order: int
    score: float = 0.0
    reason: str = ""


def _find_pinned(articles: list[Article], pinned: str) -> Article:
    wanted = canonical_url(pinned)
    match = next((a for a in articles if pinned == a.url or wanted == a.canonical_url), None)
    if match is None:
        raise EditionError(f"the article pinned as featured is in none of the sources: {pinned}")
    return match


def _notes(articles: list[Article], choices: EditorChoices, pinned: Article | None, window: Window) -> tuple[str, ...]:
    known = {a.url for a in articles} | {a.canonical_url for a in articles}
    notes = [
        f"the excluded URL matches no article of the sources: {url}"
        for url in sorted(choices.exclude)
        if url not in known and canonical_url(url) not in known
    ]
    if pinned is not None and pinned.published is None:
        notes.append("the pinned featured article has no date")
    elif pinned is not None and pinned.published is not None and not in_window(pinned.published, window):
        notes.append(f"the pinned featured article is from {pinned.published.astimezone(window[0].tzinfo):%Y-%m-%d}")
    return tuple(notes)


def _language(article: Article) -> str | None:
    return detect(f"{article.title[:300]}. {article.summary[:300]}") or article.lang


def _richness(article: Article, language: str | None, kind: Kind) -> tuple[bool, bool, bool, bool, int]:
    return (
        language is None or article.lang in (None, language),
        kind.name not in ("video", "live video"),
        len(article.body) >= REAL_BODY,
        article.image is not None,
        len(article.body or article.summary),
    )


def _localised(article: Article, language: str | None, tz: tzinfo | None) -> Article:
    published = article.published.astimezone(tz) if article.published is not None else None
    return dataclasses.replace(article, lang=language, published=published)


def _real_image(article: Article) -> bool:
    return article.image is not None and (article.image_width is None or article.image_width >= REAL_IMAGE_WIDTH)


def _positions(articles: list[Article], candidates: set[int]) -> tuple[dict[int, int | None], dict[str, int]]:
    """Each candidate's position among its source's candidates, None where the source is time-ordered."""
    by_source: dict[str, list[int]] = {}
    for index, article in enumerate(articles):
        by_source.setdefault(article.source, []).append(index)
    positions: dict[int, int | None] = {}
    counts: dict[str, int] = {}
    for source, indexes in by_source.items():
        # A source of one or two items has no order to speak of.
        ordered = len(indexes) >= MIN_ORDERED_ITEMS and not time_ordered([articles[i].published for i in indexes])
        kept = [i for i in indexes if i in candidates]
        counts[source] = len(kept)
        for position, index in enumerate(kept):
            positions[index] = position if ordered else None
    return positions, counts


def _tag_sources(articles: list[Article]) -> set[str]:
    """Sources whose categories are subject tags, not sections: items carry several, and nearly every item
    has its own first one (a person, a topic) where sections repeat."""
    firsts: dict[str, list[str]] = {}
    tags: dict[str, int] = {}
    for article in articles:
        if article.section:
            firsts.setdefault(article.source, []).append(article.section.strip().casefold())
            tags[article.source] = tags.get(article.source, 0) + len(article.categories)
    return {
        source
        for source, names in firsts.items()
        if len(names) >= 5 and len(set(names)) > 0.6 * len(names) and tags[source] >= 2 * len(names)
    }


def _section_name(article: Article, rules: SelectionRules, tag_sources: set[str]) -> str | None:
    """The article's section as a heading can show it, or None (a subject tag or an id, not a section: it
    goes under the "more" heading)."""
    section = (article.section or "").strip()
    if not section:
        return None
    if rules.sections:
        return next((s for s in rules.sections if s.casefold() == section.casefold()), None)
    if article.source in tag_sources or section.replace(" ", "").isdigit() or "," in section:
        return None
    return section


def select(
    articles: Iterable[Article],
    *,
    window: Window,
    day: date | None = None,
    rules: SelectionRules | None = None,
    choices: EditorChoices | None = None,
    first_seen: Mapping[str, datetime] | None = None,
) -> Selection:
    """Choose the featured article and the headlines of ``window``, by the module's rules.

    ``day`` is the edition's date (default: the window's start date); ``first_seen`` maps canonical URLs
    of undated items to when they were first read (an undated item not in it is new: first seen now, in
    this window). Every dropped article is in ``skipped`` with its reason. Published times in the
    selection are in the window's time zone. Raises EditionError when the editor pinned an article no
    source has, or pinned and excluded it.
    """
    window = check_window(window)
    rules = rules or SelectionRules()
    choices = choices or EditorChoices()
    articles = list(articles)
    excluded = set(choices.exclude) | {canonical_url(url) for url in choices.exclude}
    pinned = _find_pinned(articles, choices.featured) if choices.featured else None
    if pinned is not None and (pinned.url in excluded or pinned.canonical_url in excluded):
        raise EditionError(f"the article pinned as featured is also excluded: {choices.featured}")

    candidates, skipped = _admit(articles, window, excluded, pinned, first_seen or {})
    stories, copies = _stories(articles, candidates, window, rules, pinned)
    skipped.extend(copies)

    ranked = _ranked(stories, rules)
    featured_story: _Story | None
    if pinned is not None:
        featured_story = next(s for s in stories if s.shown.url == pinned.url)
        featured: Pick | None = Pick(featured_story.shown, "pinned by the editor", None, _also(featured_story))
    else:
        featured_story, featured = _featured(_leads(ranked, rules))
    return _assembled(
        day=day or window[0].date(),
        window=window,
        featured_story=featured_story,
        featured=featured,
        ranked=ranked,
        stories=stories,
        skipped=skipped,
        rules=rules,
        choices=choices,
        notes=_notes(articles, choices, pinned, window),
    )


def _assembled(
    *,
    day: date,
    window: Window,
    featured_story: _Story | None,
    featured: Pick | None,
    ranked: list[_Story],
    stories: list[_Story],
    skipped: list[Skip],
    rules: SelectionRules,
    choices: EditorChoices,
    notes: tuple[str, ...],
) -> Selection:
    """The Selection of ``featured`` (the pick of ``featured_story``) and, under the caps, the other ``ranked``
    stories in display order (those over the caps added to ``skipped``): a daily or a weekly one."""
    kept, over = _cap([s for s in ranked if s is not featured_story], rules)
    skipped.extend(over)
    summary = ""
    if featured is not None:
        summary = summarize(featured.article.body or featured.article.summary, rules.summary_chars)
    return Selection(
        day=day,
        featured=featured,
        headlines=_display(kept, rules, _tag_sources([s.shown for s in stories])),
        skipped=tuple(skipped),
        intro=choices.intro,
        featured_summary=summary,
        notes=notes,
        window=window,
    )


def _admit(
    articles: list[Article],
    window: Window,
    excluded: set[str],
    pinned: Article | None,
    first_seen: Mapping[str, datetime],
) -> tuple[list[int], list[Skip]]:
    """The indexes of the articles that may be picked, and every other one skipped with its reason."""
    tz = window[0].tzinfo
    dated_sources = {a.source for a in articles if a.published is not None}
    junk = {i: junk_reason(a) for i, a in enumerate(articles) if a is not pinned}
    # A post linking where an ad links (a sponsor's follow-up, without the tag) is the same ad.
    advertised = {articles[i].canonical_url: articles[i].title for i, reason in junk.items() if reason}
    candidates: list[int] = []
    skipped: list[Skip] = []

    def skip(article: Article, reason: str) -> None:
        skipped.append(Skip(article.url, reason, article.title))

    for index, article in enumerate(articles):
        reason = junk.get(index)
        if reason is None and article is not pinned and article.canonical_url in advertised:
            reason = f"links where an advertisement links ({advertised[article.canonical_url]})"
        if article.url in excluded or article.canonical_url in excluded:
            skip(article, "excluded by the editor")
        elif reason:
            skip(article, f"junk: {reason}")
        elif article is pinned:
            candidates.append(index)
        elif article.published is None:
            # An undated item is of no day, unless its source dates nothing: then it belongs to the window
            # in which it was first seen (not in ``first_seen``: new, seen now).
            seen = first_seen.get(article.canonical_url)
            if article.source in dated_sources:
                skip(article, "no date (its source dates its other items)")
            elif seen is not None and not in_window(seen, window):
                skip(article, f"no date, first seen {seen.astimezone(tz):%Y-%m-%d %H:%M}")
            else:
                candidates.append(index)
        elif not in_window(article.published, window):
            skip(article, f"outside the window (published {article.published.astimezone(tz):%Y-%m-%d %H:%M} local)")
        else:
            candidates.append(index)
    return candidates, skipped


def _stories(
    articles: list[Article], candidates: list[int], window: Window, rules: SelectionRules, pinned: Article | None
) -> tuple[list[_Story], list[Skip]]:
    """The candidates grouped into scored stories (the pinned article shown for its story), and the copies
    not shown, skipped with the story they belong to."""
    tz = window[0].tzinfo
    kinds = {i: kind_of(articles[i]) for i in candidates}
    local = {i: _localised(articles[i], _language(articles[i]), tz) for i in candidates}
    positions, counts = _positions(articles, set(candidates))
    tag_sources = _tag_sources(list(local.values()))
    stories: list[_Story] = []
    copies: list[Skip] = []
    for group in cluster([StoryInput(local[i], kinds[i].name) for i in candidates]):
        indexes = [candidates[g] for g in group]
        best = max(indexes, key=lambda i: (articles[i] is pinned, _richness(local[i], rules.language, kinds[i]), -i))
        shown = local[best]
        members = [local[i] for i in indexes]
        kind = max((kinds[i] for i in indexes), key=lambda k: k.factor)
        # The story's best place on an ordered front page, and the size of that front page for the reason.
        placed = sorted((p, local[i].source) for i in indexes if (p := positions.get(i)) is not None)
        position, front = placed[0] if placed else (None, shown.source)
        scored = score_story(
            shown,
            members,
            position=position,
            position_of=counts.get(front, len(indexes)),
            kind=kind,
            section_weight=weight_of(shown.section, rules.section_weights),
            source_weight=max(weight_of(m.source, rules.source_weights) for m in members),
            section=_section_name(shown, rules, tag_sources),
            severity=max(severity(m) for m in members),
        )
        stories.append(
            _Story(
                members, shown, kind, shown.lang, shown.published is not None, indexes[0], scored.score, scored.reason
            )
        )
        copies.extend(
            Skip(m.url, f"same story as {shown.url} (shown once)", m.title) for m in members if m is not shown
        )
    return stories, copies


def _in_language(story: _Story, rules: SelectionRules) -> bool:
    return rules.language is None or story.lang in (None, rules.language)


def _ranked(stories: list[_Story], rules: SelectionRules) -> list[_Story]:
    """``stories`` most important first: in the edition's language, dated, by score, then the newest, then
    the first in the input."""

    def importance(story: _Story) -> tuple[bool, bool, float, float, int]:
        published = story.shown.published.timestamp() if story.shown.published else 0.0
        return (_in_language(story, rules), story.dated, story.score, published, -story.order)

    return sorted(stories, key=importance, reverse=True)


def _leads(ranked: list[_Story], rules: SelectionRules) -> list[_Story]:
    """The ranked stories that may lead: in the edition's language, dated ones when there are any."""
    return [s for s in ranked if _in_language(s, rules) and s.dated] or [s for s in ranked if _in_language(s, rules)]


def _featured(leads: list[_Story]) -> tuple[_Story | None, Pick | None]:
    """The best of ``leads`` (ranked stories in the edition's language), with a real image when one of the
    top FEATURED_IMAGE_LOOKAHEAD has one."""
    top = leads[:FEATURED_IMAGE_LOOKAHEAD]
    if not top:
        return None, None
    story = next((s for s in top if _real_image(s.shown)), top[0])
    why = story.reason
    if story is not leads[0]:
        why += f"; led over a better-scored story without a real image ({leads[0].shown.title})"
    return story, Pick(story.shown, f"featured: {why}", story.score, _also(story))


def _cap(ranked: list[_Story], rules: SelectionRules) -> tuple[list[_Story], list[Skip]]:
    """The most important stories within the caps (overall, per section), and the others skipped."""
    kept: list[_Story] = []
    skipped: list[Skip] = []
    per_section: dict[str, int] = {}
    for story in ranked:
        article = story.shown
        section = (article.section or "").strip().casefold()
        if section and rules.section_max is not None and per_section.get(section, 0) >= rules.section_max:
            reason = f"over the cap of {_count(rules.section_max)} in section {article.section}"
            skipped.append(Skip(article.url, reason, article.title))
        elif len(kept) >= rules.headlines_max:
            reason = f"over the cap of {_count(rules.headlines_max)} ({story.reason})"
            skipped.append(Skip(article.url, reason, article.title))
        else:
            kept.append(story)
            per_section[section] = per_section.get(section, 0) + 1
    return kept, skipped


def _also(story: _Story) -> tuple[Article, ...]:
    return tuple(m for m in story.members if m is not story.shown)


def _count(count: int) -> str:
    return f"{count} headline" if count == 1 else f"{count} headlines"


def _display(kept: list[_Story], rules: SelectionRules, tag_sources: set[str]) -> tuple[Pick, ...]:
    """The kept stories in display order, each shown copy with its heading section (None: "more")."""
    if rules.headline_order == "time":
        # Newest first; equal times keep feed order (the stories' first items' order in the input).
        ordered = sorted(kept, key=lambda s: (-(s.shown.published.timestamp() if s.shown.published else 0.0), s.order))
        how = "most recent first"
    else:
        ordered = kept
        how = "by importance"
    # Subject tags and ids are no sections; a heading needs two headlines, which rendering sees to.
    names = {id(s): _section_name(s.shown, rules, tag_sources) for s in ordered}
    if rules.group_by_section:
        order = list(dict.fromkeys(s.casefold() for s in (*rules.sections, *rules.section_order)))
        for story in ordered:
            name = names[id(story)]
            if name and name.casefold() not in order:
                order.append(name.casefold())
        rank = {section: number for number, section in enumerate(order)}
        ordered = sorted(ordered, key=lambda s: rank.get((names[id(s)] or "").casefold(), len(rank)))
        how = f"grouped by section, {how}"
    return tuple(
        Pick(
            dataclasses.replace(story.shown, section=names[id(story)]),
            f"headline {number} of {len(ordered)}, {how}; {story.reason}",
            story.score,
            _also(story),
        )
        for number, story in enumerate(ordered, start=1)
    )
