"""The lede of a text: what a summary shows, cut at a sentence end."""

from __future__ import annotations

import re

# Words that end with a full stop without ending a sentence ("M. Benyaich", "Dr. Alami", "av. Hassan II").
_ABBREVIATIONS = frozenset(
    [
        "m",
        "mm",
        "mme",
        "mmes",
        "mlle",
        "dr",
        "pr",
        "me",
        "st",
        "ste",
        "av",
        "bd",
        "n",
        "no",
        "p",
        "cf",
        "vs",
        "mr",
        "ms",
        "mrs",
        "prof",
        "gen",
        "col",
        "sgt",
        "jr",
        "sr",
        "art",
        "al",
        "env",
        "vol",
        "ed",
        "fig",
        "ex",
        "j.-c",
        "c",
    ]
)
_SENTENCE_END = re.compile(r"""[.!?…؟][»"”’')\]]*(?=\s+[«"“'‘(\[]?[A-ZÀ-ÖØ-Þ0-9\u0600-\u06ff])""")


def _sentence_ends(text: str) -> list[int]:
    ends = []
    for match in _SENTENCE_END.finditer(text):
        if text[match.start()] == ".":
            word = text[: match.start()].rsplit(maxsplit=1)[-1:] or [""]
            token = word[0].casefold().lstrip('(«"“')
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue
        ends.append(match.end())
    return ends


def summarize(text: str, limit: int) -> str:
    """The lede of ``text``, about ``limit`` characters, cut at a sentence end.

    The text up to the last sentence end within ``limit`` is kept, unless that is under half ``limit``: then
    the next sentence is kept too, when it ends within half again ``limit``. Without any sentence end in
    reach, the text is cut at a word, with an ellipsis.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    ends = _sentence_ends(text[: limit + limit // 2 + 1])
    within = [end for end in ends if end <= limit]
    beyond = [end for end in ends if end > limit]
    if within and (within[-1] >= limit // 2 or not beyond):
        return text[: within[-1]]
    if beyond:
        return text[: beyond[0]]
    cut = text[: limit + 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut[:limit]).rstrip(" ,;:-–") + "…"
