"""Selection: story clustering of 10,000 articles, and a 2,000-item day's whole selection (targets: < 1 s).

Imports and the language model's loading are warmed up first: they happen once per process, not per edition.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from bench.report import Figure, timed
from digest.content import Article
from digest.selection import SelectionRules, calendar_window, select
from digest.selection.stories import StoryInput, cluster

DAY = date(2025, 11, 27)
_SYLLABLES = [c + v for c in "bdklmnrst" for v in "aeiou"]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    return ["".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))) for _ in range(size)]


def synthetic_articles(count: int, *, seed: int = 7, sources: int = 20) -> list[Article]:
    """``count`` articles of one day over ``sources`` feeds; about one in six retells an earlier story.

    Words are drawn from a 20,000-word vocabulary with a Zipf-like skew, as news vocabulary is.
    """
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng, 20_000)
    weights = [1 / (rank + 10) for rank in range(len(vocabulary))]
    start = datetime(2025, 11, 27, 0, 0, tzinfo=UTC)
    articles: list[Article] = []
    for number in range(count):
        if articles and rng.random() < 0.15:
            told = rng.choice(articles)
            title = " ".join(rng.sample(told.title.split(), k=len(told.title.split()) - 1))
            summary = told.summary
        else:
            title = " ".join(rng.choices(vocabulary, weights, k=9))
            summary = " ".join(rng.choices(vocabulary, weights, k=40)) + "."
        articles.append(
            Article(
                url=f"https://source{number % sources}.example/a/{number}",
                title=title,
                source=f"Source {number % sources}",
                published=start + timedelta(seconds=rng.randrange(86_400)),
                summary=summary,
            )
        )
    return articles


def bench_selection() -> list[Figure]:
    """Cluster 10,000 articles; select a 2,000-item day (best of 3 each)."""
    warm = synthetic_articles(50)
    select(warm, window=calendar_window(DAY, UTC), rules=SelectionRules(language="fr"))
    many = [StoryInput(article) for article in synthetic_articles(10_000)]
    day = synthetic_articles(2_000, seed=11)
    window = calendar_window(DAY, UTC)
    clustering = min(timed(lambda: cluster(many)) for _ in range(3))
    selecting = min(timed(lambda: select(day, window=window, rules=SelectionRules(language="fr"))) for _ in range(3))
    return [
        Figure("selection: cluster 10,000 articles", 10_000, "articles", clustering, note="target < 1 s"),
        Figure("selection: a 2,000-item day, all steps", 2_000, "articles", selecting, note="target < 1 s"),
    ]
