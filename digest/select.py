"""Pick the day's featured article and headlines: a pure function of articles, day, time zone and rules.

No clock, settings or I/O here: the caller passes the day, the publication's time zone, the rules and the
editor's choices. The same input always gives the same Selection, and every pick and every skip says why.

The rules, in order:

1. The day runs from midnight to midnight in the publication's time zone. An article excluded by the
   editor, without a date, or published outside the day is skipped with that reason.
2. Duplicates are skipped: same canonical URL, same guid within one source, or the same title once case,
   accents, apostrophes and punctuation are ignored (titles of fewer than ``title_min_words`` words, such
   as "Éditorial", are too generic to tell). Of two duplicates the richer one is kept (a full body, then an
   image, then more text); on a tie, the first one read.
3. The featured article is the editor's pin, else the best candidate ranked by: a real body (at least
   ``featured_min_body`` characters), an image, the length of its text up to ``featured_enough_body``
   characters (beyond, longer is not better), then recency. It never appears among the headlines.
4. Headlines are the rest, most recent first (or in source order), at most ``section_max`` per section
   and ``headlines_max`` in all; when grouped, sections follow ``section_order`` then first appearance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from digest.content import Article, Pick, Selection, Skip
from digest.edits import Edits
from digest.errors import EditionError
from digest.sources.clean import canonical_url, title_key
from digest.sources.text import summarize


@dataclass(frozen=True, slots=True)
class SelectionRules:
    """The stated rules of a selection (see the module docstring for how each is used)."""

    headlines_max: int = 10
    summary_chars: int = 300
    order: Literal["recent", "source"] = "recent"
    group_by_section: bool = False
    section_order: tuple[str, ...] = ()
    section_max: int | None = None
    featured_min_body: int = 500
    featured_enough_body: int = 1500
    title_min_words: int = 3


@dataclass(frozen=True, slots=True)
class EditorChoices:
    """What an editor decided: a pinned featured URL, URLs to drop, an intro note, and the desk's edits
    (applied after the selection by :func:`digest.edits.apply_edits`)."""

    featured: str | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)
    intro: str = ""
    edits: Edits = field(default_factory=Edits)


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Midnight to midnight of ``day`` in ``tz``, in UTC (so a day with a clock change lasts 23 or 25 hours)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _identities(article: Article, min_words: int) -> list[tuple[str, str]]:
    keys = [("link", article.canonical_url)]
    if article.guid:
        keys.append(("guid", f"{article.source}\x00{article.guid}"))
    key = title_key(article.title)
    if len(key.split()) >= min_words:
        keys.append(("title", key))
    return keys


def _richness(article: Article, rules: SelectionRules) -> tuple[bool, bool, int]:
    text = len(article.body or article.summary)
    return (len(article.body) >= rules.featured_min_body, article.image is not None, text)


def _local(article: Article, tz: tzinfo) -> Article:
    if article.published is None:
        return article
    return dataclasses.replace(article, published=article.published.astimezone(tz))


class _Dedup:
    """Groups the day's candidates that are copies of one story; each group keeps its best copy.

    Groups are merged when an article links two of them (same guid as one, same title as the other).
    """

    def __init__(self, rules: SelectionRules, pinned: Article | None) -> None:
        self.rules = rules
        self.pinned = pinned
        self.best: list[Article] = []
        self.members: list[list[Article]] = []
        self.parent: list[int] = []
        self.group_of: dict[tuple[str, str], int] = {}

    def _root(self, group: int) -> int:
        while self.parent[group] != group:
            group = self.parent[group]
        return group

    def _better(self, new: Article, old: Article) -> Article:
        """The copy to keep; on a tie the one read first (``old``)."""
        if self.pinned is not None and (new is self.pinned or old is self.pinned):
            return self.pinned
        return new if _richness(new, self.rules) > _richness(old, self.rules) else old

    def add(self, article: Article) -> None:
        """Put ``article`` in the group of its copies, or in a new group."""
        keys = _identities(article, self.rules.title_min_words)
        roots = sorted({self._root(self.group_of[key]) for key in keys if key in self.group_of})
        if not roots:
            root = len(self.best)
            self.best.append(article)
            self.members.append([article])
            self.parent.append(root)
        else:
            root = roots[0]
            for other in roots[1:]:
                self.parent[other] = root
                self.members[root] += self.members[other]
                self.best[root] = self._better(self.best[other], self.best[root])
            self.members[root].append(article)
            self.best[root] = self._better(article, self.best[root])
        for key in keys:
            self.group_of[key] = root

    def result(self) -> tuple[list[Article], list[Skip]]:
        """The kept copy of every group in the order read, and every other copy skipped with its reason."""
        kept: list[Article] = []
        skipped: list[Skip] = []
        for group, winner in enumerate(self.best):
            if self._root(group) != group:
                continue
            kept.append(winner)
            winner_keys = dict(_identities(winner, self.rules.title_min_words))
            for copy in self.members[group]:
                if copy is winner:
                    continue
                shared = (k for k, v in _identities(copy, self.rules.title_min_words) if winner_keys.get(k) == v)
                # Copies linked only through a third one share no key themselves: they tell the same story.
                same = next(shared, "story")
                skipped.append(Skip(copy.url, f"duplicate of {winner.url} (same {same})", copy.title))
        return kept, skipped


def _find_pinned(articles: list[Article], pinned: str) -> Article:
    wanted = canonical_url(pinned)
    match = next((a for a in articles if pinned == a.url or wanted == a.canonical_url), None)
    if match is None:
        raise EditionError(f"the article pinned as featured is in none of the sources: {pinned}")
    return match


def _notes(
    articles: list[Article],
    choices: EditorChoices,
    pinned: Article | None,
    start: datetime,
    end: datetime,
    tz: tzinfo,
) -> tuple[str, ...]:
    known = {a.url for a in articles} | {a.canonical_url for a in articles}
    notes = [
        f"the excluded URL matches no article of the sources: {url}"
        for url in sorted(choices.exclude)
        if url not in known and canonical_url(url) not in known
    ]
    if pinned is not None and pinned.published is None:
        notes.append("the pinned featured article has no date")
    elif pinned is not None and pinned.published is not None and not start <= pinned.published < end:
        notes.append(f"the pinned featured article is from {pinned.published.astimezone(tz):%Y-%m-%d}")
    return tuple(notes)


def _featured_reason(article: Article, rules: SelectionRules, others: int, tz: tzinfo) -> str:
    length = len(article.body)
    parts = [
        f"full body of {length} characters"
        if length >= rules.featured_min_body
        else f"no full body (text of {len(article.body or article.summary)} characters)",
        "with an image" if article.image else "without an image",
    ]
    if article.published:
        parts.append(f"published {article.published.astimezone(tz):%H:%M}")
    ranking = (
        f"ranked first of {others + 1} by: a body of at least {rules.featured_min_body} characters, an image, "
        f"length up to {rules.featured_enough_body} characters, recency"
    )
    return f"best candidate: {', '.join(parts)}; {ranking}"


def _choose_featured(candidates: list[Article], rules: SelectionRules, tz: tzinfo) -> Pick | None:
    if not candidates:
        return None

    def rank(article: Article) -> tuple[bool, bool, int, datetime]:
        text = len(article.body) if article.body else len(article.summary)
        assert article.published is not None
        return (
            len(article.body) >= rules.featured_min_body,
            article.image is not None,
            min(text, rules.featured_enough_body),
            article.published,
        )

    # Sorted by canonical URL first so that equal ranks still give the same pick whatever the input order.
    best = max(sorted(candidates, key=lambda a: a.canonical_url), key=rank)
    return Pick(best, _featured_reason(best, rules, len(candidates) - 1, tz))


def _headlines(count: int) -> str:
    return f"{count} headline" if count == 1 else f"{count} headlines"


def _section_key(article: Article) -> str:
    return (article.section or "").casefold()


def _order_headlines(rest: list[Article], rules: SelectionRules) -> list[Article]:
    if rules.order == "recent":
        return sorted(rest, key=lambda a: (-a.published.timestamp() if a.published else 0.0, a.canonical_url))
    return list(rest)


def _group(kept: list[Article], rules: SelectionRules) -> list[Article]:
    if not rules.group_by_section:
        return kept
    order = [s.casefold() for s in rules.section_order]
    for article in kept:
        if _section_key(article) not in order and article.section:
            order.append(_section_key(article))
    rank = {section: number for number, section in enumerate(order)}
    return sorted(kept, key=lambda a: rank.get(_section_key(a), len(rank)))  # stable: keeps the order within


def select(
    articles: Iterable[Article],
    *,
    day: date,
    tz: tzinfo,
    rules: SelectionRules | None = None,
    choices: EditorChoices | None = None,
) -> Selection:
    """Choose the featured article and the headlines of ``day`` (local to ``tz``), by the module's rules.

    Every dropped article is in ``skipped`` with its reason. Published times in the selection are in
    ``tz``. Raises EditionError when the editor pinned an article no source has, or pinned and excluded it.
    """
    rules = rules or SelectionRules()
    choices = choices or EditorChoices()
    articles = list(articles)
    start, end = day_bounds(day, tz)
    excluded = set(choices.exclude) | {canonical_url(url) for url in choices.exclude}
    pinned = _find_pinned(articles, choices.featured) if choices.featured else None
    if pinned is not None and (pinned.url in excluded or pinned.canonical_url in excluded):
        raise EditionError(f"the article pinned as featured is also excluded: {choices.featured}")

    skipped: list[Skip] = []
    dedup = _Dedup(rules, pinned)
    for article in articles:
        if article.url in excluded or article.canonical_url in excluded:
            skipped.append(Skip(article.url, "excluded by the editor", article.title))
        elif article is pinned:
            dedup.add(article)
        elif article.published is None:
            skipped.append(Skip(article.url, "no date", article.title))
        elif not start <= article.published < end:
            when = article.published.astimezone(tz)
            skipped.append(Skip(article.url, f"outside the day (published {when:%Y-%m-%d %H:%M} local)", article.title))
        else:
            dedup.add(article)
    candidates, duplicates = dedup.result()
    skipped.extend(duplicates)
    notes = _notes(articles, choices, pinned, start, end, tz)

    if pinned is not None:
        featured: Pick | None = Pick(pinned, "pinned by the editor")
    else:
        featured = _choose_featured(candidates, rules, tz)
    rest = [a for a in candidates if featured is None or a is not featured.article]

    kept: list[Article] = []
    per_section: dict[str, int] = {}
    for article in _order_headlines(rest, rules):
        section = _section_key(article)
        # Articles without a section are not one section: only the overall cap applies to them.
        if section and rules.section_max is not None and per_section.get(section, 0) >= rules.section_max:
            reason = f"over the cap of {_headlines(rules.section_max)} in section {article.section}"
            skipped.append(Skip(article.url, reason, article.title))
        elif len(kept) >= rules.headlines_max:
            skipped.append(Skip(article.url, f"over the cap of {_headlines(rules.headlines_max)}", article.title))
        else:
            kept.append(article)
            per_section[section] = per_section.get(section, 0) + 1
    how = "most recent first" if rules.order == "recent" else "in source order"
    if rules.group_by_section:
        how = f"grouped by section, {how}"
    headlines = tuple(
        Pick(_local(article, tz), f"headline {number} of {len(kept)}, {how}")
        for number, article in enumerate(_group(kept, rules), start=1)
    )

    summary = ""
    if featured is not None:
        featured = Pick(_local(featured.article, tz), featured.reason)
        summary = summarize(featured.article.body or featured.article.summary, rules.summary_chars)
    return Selection(
        day=day,
        featured=featured,
        headlines=headlines,
        skipped=tuple(skipped),
        intro=choices.intro,
        featured_summary=summary,
        notes=notes,
    )
