"""Extraction fidelity on the real feeds of tests/data/real: what readers see is the article's own text.

The checks are written from what a reader sees, not from any outlet's quirks: no photo caption or credit as
a summary or body, no boilerplate tail, no space before closing punctuation, summaries that end on a sentence
end, no summary that only repeats the title, no icon or share button as the image, and an item whose feed
gives a description keeps a summary.
"""

from __future__ import annotations

import re
from datetime import UTC, date
from pathlib import Path

import lxml.etree
import pytest

from digest.content import Article
from digest.sources import parse_source
from digest.sources.clean import title_key
from digest.sources.text import plain_text, summarize

REAL = Path(__file__).parent / "data" / "real"
FEEDS = sorted(p for p in REAL.glob("*/*") if p.suffix in (".xml", ".atom", ".rdf"))
MEDIA_RSS = "{http://search.yahoo.com/mrss/}"

TAIL = re.compile(
    r"(?i)(lire la suite|read more|continue reading|keep reading|appeared first on|est apparu en premier|"
    r"\[\s*(?:…|\.\.\.)\s*\]|news app|newsletter|email briefing|التفاصيل بعد قليل|اقرأ المزيد)\W*$"
)
SPACE_BEFORE = re.compile(r" [,;)]| \.(?:\s|$)")
SENTENCE_END = re.compile(r"(?:[.!?…؟۔]|\.\.\.)[»”\"’')\]]*$")
FURNITURE = re.compile(r"(?i)(icon|logo|share|button|pixel|sprite|badge|emoji|1x1)[^/]*$")
# Descriptions that only promise text to come: the summary is rightly empty.
PLACEHOLDER = re.compile(r"^\W*(التفاصيل بعد قليل|details shortly|plus d'informations à venir)\W*$")


def _parse(path: Path) -> list[Article]:
    parsed = parse_source(path.read_bytes(), source=path.name, url="", day=date(2026, 1, 1), tz=UTC)
    return list(parsed.articles)


def _captions(path: Path) -> set[str]:
    root = lxml.etree.parse(str(path)).getroot()
    return {
        plain_text("".join(e.itertext()))
        for e in root.iter(f"{MEDIA_RSS}description", f"{MEDIA_RSS}credit", f"{MEDIA_RSS}title")
    } - {""}


def _descriptions(path: Path) -> dict[str, str]:
    """Each item's description (RSS description, Atom summary or content) by its title."""
    root = lxml.etree.parse(str(path)).getroot()
    found = {}
    for item in root.iter("{*}item", "{*}entry"):
        title = plain_text(item.findtext("{*}title"))
        texts = [
            plain_text(e.text)
            for e in item
            if isinstance(e.tag, str) and e.tag.split("}")[-1] in {"description", "summary", "content", "encoded"}
        ]
        found[title] = next((t for t in texts if t), "")
    return found


@pytest.mark.parametrize("path", FEEDS, ids=[f"{p.parent.name}/{p.name}" for p in FEEDS])
def test_real_feeds_give_the_articles_own_text(path: Path) -> None:
    articles = _parse(path)
    assert articles
    captions = _captions(path)
    descriptions = _descriptions(path)
    problems = []
    for article in articles:
        summary, paragraphs = article.summary, article.body.split("\n\n") if article.body else []
        texts = [summary, *paragraphs] if summary else paragraphs
        if summary in captions or any(p in captions for p in paragraphs):
            problems.append(f"caption as text: {article.title}")
        for text in [summary, paragraphs[-1] if paragraphs else ""]:
            if TAIL.search(text):
                problems.append(f"boilerplate tail: {text[-80:]}")
        for text in texts:
            if SPACE_BEFORE.search(text):
                problems.append(f"space before punctuation: {SPACE_BEFORE.search(text)!r} in {article.title}")
        if summary and not SENTENCE_END.search(summary):
            problems.append(f"summary ends mid-sentence: {summary[-60:]}")
        if summary and title_key(article.title).startswith(title_key(summary)):
            problems.append(f"summary repeats the title: {article.title}")
        if article.image and FURNITURE.search(article.image):
            problems.append(f"icon as image: {article.image}")
        given = descriptions.get(article.title, "")
        if given and given not in captions and not PLACEHOLDER.match(given) and not summary:
            problems.append(f"description given but no summary: {article.title}")
        cut = summarize(article.body or summary, 300)
        if cut and not SENTENCE_END.search(cut):
            problems.append(f"cut summary ends mid-sentence: {cut[-60:]}")
    assert problems == []
