"""Importance: the score of a story from the signals a newsroom's feed carries, each named in the reason.

score = (prominence + coverage) × kind × section weight × source weight + small bonuses (body, image)

- prominence: where the source put the item, when the source is editorially ordered (a front page, a
  homepage's headlines). A feed whose dates run in order (newest or oldest first) is time-ordered and
  carries no such signal: all its items get the same, neutral prominence;
- coverage: other sources telling the story weigh most, more copies in one source a little;
- kind: see rules.py (live and hard news over features, opinion, service pieces); news whose title tells
  of deaths, attacks, disasters or war weighs a little more (rules.severity);
- section and source weights: the publisher's settings (1 when unset);
- body and image: small bonuses. Recency only breaks ties (see the caller's sort).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from digest.content import Article
from digest.selection.rules import Kind

# Prominence of an item at position p (0 first) of an editorially ordered source: 1 / (1 + p / SPREAD).
PROMINENCE_SPREAD = 8.0
# A time-ordered source's items all get this: as if halfway down a front page.
NEUTRAL_PROMINENCE = 0.5
OTHER_SOURCE_BONUS = 0.5
SAME_SOURCE_BONUS = 0.1
COVERAGE_CAP = 1.5
BODY_BONUS = 0.05
IMAGE_BONUS = 0.05
# A body this long is a real article rather than a teaser.
REAL_BODY = 500
# Share of consecutive dated items in date order above which a feed is time-ordered.
TIME_ORDERED_SHARE = 0.85


def time_ordered(dates: Sequence[datetime | None]) -> bool:
    """True when the items' dates run newest-first or oldest-first: the feed's order is time, not the editor's.

    Items with equal dates tell nothing. A source with fewer than two changes of date (undated page
    headlines, one time stamped on every item) is not time-ordered: its order is the only signal it has.
    """
    known = [d for d in dates if d is not None]
    pairs = [(a, b) for a, b in pairwise(known) if a != b]
    if len(pairs) < 2:
        return False
    newest_first = sum(a > b for a, b in pairs) / len(pairs)
    return max(newest_first, 1 - newest_first) >= TIME_ORDERED_SHARE


def prominence(position: int | None) -> float:
    """The prominence of the item at ``position`` of an ordered source (None: time-ordered source)."""
    if position is None:
        return NEUTRAL_PROMINENCE
    return 1.0 / (1.0 + position / PROMINENCE_SPREAD)


@dataclass(frozen=True, slots=True)
class Scored:
    """A story's score and the reason that explains it."""

    score: float
    reason: str


def weight_of(name: str | None, weights: Mapping[str, float]) -> float:
    """The weight ``weights`` gives ``name`` (compared without case), 1 when unlisted."""
    if not name or not weights:
        return 1.0
    wanted = name.strip().casefold()
    return next((w for key, w in weights.items() if key.strip().casefold() == wanted), 1.0)


def score_story(
    shown: Article,
    members: Sequence[Article],
    *,
    position: int | None,
    position_of: int,
    kind: Kind,
    section_weight: float,
    source_weight: float,
    section: str | None,
    severity: float = 1.0,
) -> Scored:
    """The score of the story ``members`` tell (``shown`` is the copy shown), with the reason.

    ``position`` is the best position of its copies in an ordered source (None: no ordered source carries
    it); ``position_of`` is that source's count of items in the window, for the reason.
    """
    base = prominence(position)
    sources = sorted({m.source for m in members})
    others = len(sources) - 1
    copies = len(members) - len(sources)
    coverage = min(COVERAGE_CAP, others * OTHER_SOURCE_BONUS + copies * SAME_SOURCE_BONUS)
    body = len(shown.body) >= REAL_BODY
    # Severity weighs plain news only: an opinion on a war is still an opinion, live coverage already leads.
    severe = severity if kind.name == "news" else 1.0
    score = (base + coverage) * kind.factor * severe * section_weight * source_weight
    score += BODY_BONUS * body + IMAGE_BONUS * (shown.image is not None)
    parts = [
        f"position {position + 1} of {position_of} in an editorially ordered source"
        if position is not None
        else "time-ordered source (no position signal)"
    ]
    if others:
        parts.append(f"told by {len(sources)} sources ({', '.join(sources)})")
    if copies:
        parts.append(f"{copies} more cop{'y' if copies == 1 else 'ies'} in the same source")
    parts.append(f"kind {kind.name}" + (f" ({kind.signal}, ×{kind.factor:g})" if kind.signal else ""))
    if severe != 1.0:
        parts.append(f"hard news in the title ×{severe:g}")
    if section_weight != 1.0:
        parts.append(f"section {section} ×{section_weight:g}")
    if source_weight != 1.0:
        parts.append(f"source {shown.source} ×{source_weight:g}")
    if body:
        parts.append("full body")
    if shown.image is not None:
        parts.append("image")
    return Scored(round(score, 4), f"score {score:.2f}: " + "; ".join(parts))
