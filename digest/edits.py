"""An editor's wording and arrangement of an edition, applied to a selection: a pure function, no I/O.

The desk stores these with the edition's other choices (``Edition.choices_json``), so a rebuild from the
sources keeps them: subject and preheader per language, a headline's (or the featured article's) title and
summary, the headlines' order, and skipped articles taken into the edition. Each rewording keeps the
source's text beside the editor's, refreshed at every rebuild.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from digest.content import Article, Pick, Selection

# What the desk accepts: a subject or a title is one line, a summary a short paragraph.
TITLE_MAX = 300
SUMMARY_MAX = 1000
# Where inboxes cut: the subject shown on a phone / on a desktop, the preheader after it.
SUBJECT_CUT = (40, 70)
PREHEADER_CUT = (40, 100)


@dataclass(frozen=True, slots=True)
class Wording:
    """An editor's title and summary for one article (blank: the source's), with the source's own text."""

    title: str = ""
    summary: str = ""
    source_title: str = ""
    source_summary: str = ""


@dataclass(frozen=True, slots=True)
class Edits:
    """Everything an editor rewrote or rearranged (empty: the edition as selected)."""

    subject: Mapping[str, str] = field(default_factory=dict)
    preheader: Mapping[str, str] = field(default_factory=dict)
    wording: Mapping[str, Wording] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    include: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The edits as plain JSON data."""
        return {
            "subject": dict(self.subject),
            "preheader": dict(self.preheader),
            "wording": {url: dataclasses.asdict(w) for url, w in self.wording.items()},
            "order": list(self.order),
            "include": list(self.include),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Edits:
        """The edits stored by :meth:`to_json` (none for ``None``)."""
        data = data or {}
        return cls(
            subject={str(k): str(v) for k, v in (data.get("subject") or {}).items() if v},
            preheader={str(k): str(v) for k, v in (data.get("preheader") or {}).items() if v},
            wording={str(url): Wording(**w) for url, w in (data.get("wording") or {}).items()},
            order=tuple(data.get("order") or ()),
            include=tuple(data.get("include") or ()),
        )


def _set(texts: Mapping[str, str], language: str, value: str) -> dict[str, str]:
    current = dict(texts)
    value = " ".join(value.split())
    if value:
        current[language] = value
    else:
        current.pop(language, None)
    return current


def with_subject(edits: Edits, language: str, *, subject: str, preheader: str) -> Edits:
    """``edits`` with the subject and preheader readers of ``language`` get (blank: the usual wording)."""
    return dataclasses.replace(
        edits, subject=_set(edits.subject, language, subject), preheader=_set(edits.preheader, language, preheader)
    )


def reworded(edits: Edits, url: str, *, title: str, summary: str) -> Edits:
    """``edits`` with the editor's title and summary for ``url`` (both blank: the source's again)."""
    wording = dict(edits.wording)
    old = wording.get(url, Wording())
    title, summary = " ".join(title.split()), summary.strip()
    if title or summary:
        wording[url] = dataclasses.replace(old, title=title, summary=summary)
    else:
        wording.pop(url, None)
    return dataclasses.replace(edits, wording=wording)


def moved(edits: Edits, order: list[str], url: str, step: int) -> Edits:
    """``edits`` with ``url`` moved ``step`` places (-1 up, +1 down) in the headlines ``order`` shown."""
    order = list(order)
    if url not in order:
        return edits
    at = order.index(url)
    to = max(0, min(len(order) - 1, at + step))
    order.insert(to, order.pop(at))
    return dataclasses.replace(edits, order=tuple(order))


def included(edits: Edits, url: str) -> Edits:
    """``edits`` with a skipped article taken into the headlines."""
    return edits if url in edits.include else dataclasses.replace(edits, include=(*edits.include, url))


def left_out(edits: Edits, url: str) -> Edits:
    """``edits`` without ``url`` among the articles taken in."""
    return dataclasses.replace(edits, include=tuple(u for u in edits.include if u != url))


def _find(articles: Iterable[Article], url: str) -> Article | None:
    return next((a for a in articles if url in (a.url, a.canonical_url)), None)


def _local(article: Article, tz: tzinfo) -> Article:
    if article.published is None:
        return article
    return dataclasses.replace(article, published=article.published.astimezone(tz))


def apply_edits(
    selection: Selection, articles: Iterable[Article], edits: Edits, *, tz: tzinfo
) -> tuple[Selection, Edits]:
    """``selection`` as the editor arranged and worded it, and ``edits`` with each source text refreshed.

    Articles taken in leave ``skipped`` and join the headlines (an URL in no source is ignored); the headlines
    follow ``edits.order`` (those not in it keep their place after); rewordings replace titles and summaries
    (the featured article's summary is the edition's featured summary).
    """
    articles = list(articles)
    chosen = {p.article.url for p in selection.headlines}
    if selection.featured:
        chosen.add(selection.featured.article.url)
    headlines = list(selection.headlines)
    skipped = list(selection.skipped)
    for url in edits.include:
        article = _find(articles, url)
        if article is None or article.url in chosen:
            continue
        headlines.append(Pick(_local(article, tz), "added by the editor"))
        chosen.add(article.url)
        skipped = [s for s in skipped if s.url != article.url]
    rank = {url: place for place, url in enumerate(edits.order)}
    headlines.sort(key=lambda p: rank.get(p.article.url, len(rank)))  # stable: the others keep their order

    wording = dict(edits.wording)

    def reword(pick: Pick, source_summary: str) -> tuple[Pick, str]:
        words = wording.get(pick.article.url)
        if words is None:
            return pick, source_summary
        wording[pick.article.url] = dataclasses.replace(
            words, source_title=pick.article.title, source_summary=source_summary
        )
        summary = words.summary or source_summary
        article = dataclasses.replace(pick.article, title=words.title or pick.article.title, summary=summary)
        return dataclasses.replace(pick, article=article), summary

    featured, featured_summary = selection.featured, selection.featured_summary
    if featured is not None:
        featured, featured_summary = reword(featured, featured_summary)
    headlines = [reword(pick, pick.article.summary)[0] for pick in headlines]
    edited = dataclasses.replace(
        selection,
        featured=featured,
        featured_summary=featured_summary,
        headlines=tuple(headlines),
        skipped=tuple(skipped),
    )
    return edited, dataclasses.replace(edits, wording=wording)
