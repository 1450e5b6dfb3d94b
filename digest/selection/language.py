"""Language: which language an item is written in, and its words normalised for comparing stories.

Detection uses py3langid (an offline, maintained fork of langid.py), restricted to the languages our
publishers write in and their neighbours, and loaded on first use (the CLI must start fast). Normalisation
is language-aware: French accents and elisions (l', d', qu'), Arabic diacritics, tatweel and alef forms,
English possessives; a light suffix stripping lets "riots" meet "rioting" and "concerts" meet "concert".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

# The languages detection chooses among: the editions' (fr, en, ar) and those their feeds most often mix in.
DETECTED_LANGUAGES = ("fr", "en", "ar", "es", "de", "it", "pt", "nl")
# Below this many letters, or this confidence, a guess is noise: the item keeps its feed's declared
# language (or none, which never demotes it).
_MIN_LETTERS = 12
MIN_CONFIDENCE = 0.8

_ARABIC_DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
# Combining marks of Latin letters (accents, cedilla) once decomposed; Arabic marks are handled above.
_LATIN_MARKS = re.compile(r"[\u0300-\u036f]")
_ALEF_FORMS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_ELISION = re.compile(r"\b(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu)['’](?=\w)", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s\b", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)
_LETTER = re.compile(r"[^\W\d_]")
_ARABIC_LETTER = re.compile(r"[\u0620-\u064a\u0671-\u06d3]")
# The Arabic definite article and attached particles (و، ب، ل، ف، ك) before it.
_ARABIC_PREFIX = re.compile(r"^(?:[وفبكل]?ال|لل)(?=\w{3,})")

# Words too common to tell two stories apart, in the three languages.


def fold(text: str) -> str:
    """``text`` case-folded with accents, Arabic diacritics, tatweel and alef variants removed."""
    if text.isascii():
        return text.casefold()
    text = _ARABIC_DIACRITICS.sub("", text.replace(_TATWEEL, ""))
    text = _LATIN_MARKS.sub("", unicodedata.normalize("NFKD", text))
    return unicodedata.normalize("NFC", text).casefold().translate(_ALEF_FORMS)


_STOPWORD_LIST = """
    a an and are as at be been but by for from has have he her his how in into is it its new not of on or our
    over says said she that the their them they this to up was we were what when where which who why will with
    would after before about against more than out off no yes you your all also can could may might one two
    le la les un une des du de d l et ou en au aux a ce ces cet cette dans par pour sur sous avec sans est sont
    ete etre qui que quoi dont ou il elle ils elles on nous vous leur leurs son sa ses se s y ne pas plus moins
    apres avant selon entre contre chez comme mais donc car si tout tous toute toutes tres fait faire va vont
    في من على الى إلى عن مع هذا هذه ذلك التي الذي الذين ما لا لم لن قد كان كانت بعد قبل بين حتى او أو ثم عند
    كل هو هي هم انه أن ان إن وقد وفي ومن وهو وهي
    """
STOPWORDS = frozenset(fold(word) for word in _STOPWORD_LIST.split())


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    if word.isascii():
        for suffix in ("ing", "ers", "es", "s", "x"):
            if len(word) > len(suffix) + 3 and word.endswith(suffix):
                return word[: -len(suffix)]
        return word
    word = _ARABIC_PREFIX.sub("", word)
    for suffix in ("ات", "ون", "ين", "ها", "ه"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The content words of ``text``, normalised and lightly stemmed (stopwords and 1-letter words out)."""
    if "'" in text or "’" in text:
        text = _POSSESSIVE.sub("", _ELISION.sub("", text))
    return [_stem(word) for word in _WORD.findall(fold(text)) if len(word) > 1 and word not in STOPWORDS]


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(DETECTED_LANGUAGES))
    return identifier


def detect(text: str) -> str | None:
    """The ISO 639-1 code of the language ``text`` is written in, or None when it cannot be told (too short,
    or no language probable enough)."""
    letters = len(_LETTER.findall(text))
    if letters < _MIN_LETTERS:
        return None
    arabic = len(_ARABIC_LETTER.findall(text))
    if arabic * 2 > letters:
        return "ar"  # the script alone tells, among the languages editions are written in
    language, confidence = _identifier().classify(text)
    return str(language) if confidence >= MIN_CONFIDENCE else None
