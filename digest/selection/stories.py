"""Stories: the items that tell the same story, within one feed and across sources, grouped as one.

Two items are one story when they are copies (same canonical URL, same guid in one source, same title), or
when their words say so: TF-IDF vectors of the normalised title (counted twice) and the lede (scikit-learn's
weighting: sublinear term frequency, smoothed idf, unit length) are compared by cosine similarity, through one
sparse product (SciPy), so 10,000 items take well under a second.
A pair is merged only when it is similar enough overall and shares distinctive words (words few items
use): two in the titles within one source, three in title and lede across sources, which word a story
differently. So two stories that share a name or a topic word ("Apple", "Open d'Australie") stay apart.
Pieces with an angle of their own (opinion, analysis) are not copies of the news they discuss; a video,
gallery or live page is a format of the story it shows, so it joins one at a lower bar.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from digest.content import Article
from digest.selection.language import words
from digest.sources.clean import title_key

# Cosine similarity of title + lede above which two items of one source tell one story.
SAME_STORY = 0.5
# The bar for a video, gallery or live page of a story in the same source.
SAME_STORY_FORMAT = 0.3
# The bar across sources: outlets word a story differently, so the distinctive words they share count more.
SAME_STORY_ACROSS = 0.25
# Distinctive words two items of one source must share in their titles, and two sources in title + lede.
SHARED_TITLE_WORDS = 2
SHARED_WORDS_ACROSS = 3
# A word is distinctive when its IDF is at least this share of the rarest word's (it is in few items).
DISTINCTIVE_IDF = 0.6
_LEDE_CHARS = 400
_TITLE_CHARS = 300
# In batches of at least COMMON_MIN_ITEMS, words in more than COMMON_SHARE of the items (and in more than
# COMMON_MIN_ITEMS items) are left out.
COMMON_SHARE = 0.01
COMMON_MIN_ITEMS = 100
_LEDE_WORDS = 30
# Kinds that never merge with another kind: their angle is their own.
_OWN_ANGLE = frozenset({"opinion", "feature", "service", "explainer"})
_FORMATS = frozenset({"video", "live", "live video"})


@dataclass(frozen=True, slots=True)
class StoryInput:
    """One item as clustering sees it: its article and the name of its kind (see rules.kind_of)."""

    article: Article
    kind: str = "news"


class _Groups:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def root(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _identities(article: Article) -> list[tuple[str, str]]:
    keys = [("link", article.canonical_url)]
    if article.guid:
        keys.append(("guid", f"{article.source}\x00{article.guid}"))
    key = title_key(article.title)
    if len(key.split()) >= 3:
        keys.append(("title", key))
    return keys


def _compatible(a: str, b: str) -> bool:
    return a == b or not (a in _OWN_ANGLE or b in _OWN_ANGLE)


def cluster(items: Sequence[StoryInput]) -> list[list[int]]:
    """Groups of indexes into ``items`` telling one story each, in order of their first item.

    Each group lists its items in input order. Pure and deterministic.
    """
    groups = _Groups(len(items))
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        for key in _identities(item.article):
            if key in seen:
                groups.join(seen[key], index)
            else:
                seen[key] = index
    if len(items) > 1:
        _join_similar(items, groups)
    by_root: dict[int, list[int]] = {}
    for index in range(len(items)):
        by_root.setdefault(groups.root(index), []).append(index)
    return sorted(by_root.values(), key=lambda group: group[0])


def _tfidf(documents: list[list[str]], max_df: float) -> tuple[Any, dict[str, float]] | None:
    """Each document's TF-IDF vector (rows of a sparse matrix) and each kept word's idf, or None when no word
    is left; words in more than ``max_df`` of the documents are left out.

    scikit-learn's TfidfVectorizer (sublinear_tf, smooth_idf, l2 norm) computes the same; importing it took
    0.85 s of every `digest build` (a third of it), SciPy's sparse matrices 0.2 s.
    """
    from scipy.sparse import csr_matrix

    count = len(documents)
    found: Counter[str] = Counter()
    for document in documents:
        found.update(set(document))
    kept = sorted(word for word, seen in found.items() if seen <= max_df * count)
    if not kept:
        return None
    column = {word: number for number, word in enumerate(kept)}
    idf = {word: math.log((1 + count) / (1 + found[word])) + 1 for word in kept}
    rows: list[int] = []
    columns: list[int] = []
    values: list[float] = []
    for row, document in enumerate(documents):
        weights = {
            word: (1 + math.log(times)) * idf[word] for word, times in Counter(document).items() if word in column
        }
        length = math.sqrt(sum(weight * weight for weight in weights.values()))
        for word, weight in weights.items():
            rows.append(row)
            columns.append(column[word])
            values.append(weight / length)
    return csr_matrix((values, (rows, columns)), shape=(count, len(kept))), idf


def _join_similar(items: Sequence[StoryInput], groups: _Groups) -> None:
    titles = [words(item.article.title[:_TITLE_CHARS]) for item in items]
    ledes = [words((item.article.summary or item.article.body)[:_LEDE_CHARS]) for item in items]
    documents = [title + title + lede for title, lede in zip(titles, ledes, strict=True)]
    if not any(documents):
        return
    # In a big batch a word in more than COMMON_SHARE of the items tells no story apart: left out, it also
    # keeps the similarity product sparse.
    max_df = max(COMMON_SHARE, COMMON_MIN_ITEMS / len(documents)) if len(documents) >= COMMON_MIN_ITEMS else 1.0
    vectors = _tfidf(documents, max_df)
    if vectors is None:  # no word left: nothing to compare
        return
    matrix, idf = vectors
    similarity = (matrix @ matrix.T).tocoo()
    keep = (similarity.row < similarity.col) & (similarity.data >= SAME_STORY_ACROSS)
    rows, cols, values = similarity.row[keep], similarity.col[keep], similarity.data[keep]
    rare = max(idf.values()) * DISTINCTIVE_IDF

    def distinctive(tokens: list[str]) -> set[str]:
        return {w for w in tokens if idf.get(w, 0.0) >= rare}

    for a, b, value in zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True):
        first, second = items[a], items[b]
        if not _compatible(first.kind, second.kind):
            continue
        # Words found in few items are the distinctive ones; a topic word many items use is not.
        in_titles = len(distinctive(titles[a]) & distinctive(titles[b]))
        in_all = len(distinctive(titles[a] + ledes[a][:_LEDE_WORDS]) & distinctive(titles[b] + ledes[b][:_LEDE_WORDS]))
        if first.article.source != second.article.source:
            same = value >= SAME_STORY_ACROSS and in_all >= SHARED_WORDS_ACROSS
        elif first.kind in _FORMATS or second.kind in _FORMATS:
            # A video of a story repeats its topic words, however common they are that day.
            same = value >= SAME_STORY_FORMAT and len(set(titles[a]) & set(titles[b])) > SHARED_TITLE_WORDS
        else:
            same = value >= SAME_STORY and in_titles >= SHARED_TITLE_WORDS
        if same:
            groups.join(a, b)
