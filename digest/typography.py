"""Language-aware typography of the words we write (never of the articles' own text): French spaces, sorting.

Pure string functions, used by the renderer, the catalogs' test and the pages that list sections.
"""

from __future__ import annotations

import re
import unicodedata

NO_BREAK_SPACE = "\u00a0"
NARROW_NO_BREAK_SPACE = "\u202f"

# French puts a no-break space before a colon and a narrow one before ; ! ? and inside « » (Imprimerie
# nationale's rules). A space typed before them, or none at all, becomes the right one. A colon followed
# by a non-space (https://, 10:30) is left alone, as are runs such as "?!" after the first mark.
_FRENCH_BEFORE = re.compile(r"(?<=[^\s\u00a0\u202f!?;:])[ \u00a0\u202f]?([;!?]+|:(?=\s|$))")
_FRENCH_GUILLEMET_OPEN = re.compile(r"«[ \u00a0\u202f]?")
_FRENCH_GUILLEMET_CLOSE = re.compile(r"[ \u00a0\u202f]?»")


def typographic_spaces(text: str, language: str) -> str:
    """``text`` with the spaces ``language`` wants around punctuation (French only; others unchanged).

    "Adresse: Rabat ; voir « ici »!" becomes "Adresse\u00a0: Rabat\u202f; voir «\u202fici\u202f»\u202f!".
    """
    if language != "fr":
        return text

    def space_before(match: re.Match[str]) -> str:
        mark = match.group(1)
        return (NO_BREAK_SPACE if mark == ":" else NARROW_NO_BREAK_SPACE) + mark

    text = _FRENCH_BEFORE.sub(space_before, text)
    text = _FRENCH_GUILLEMET_OPEN.sub("«" + NARROW_NO_BREAK_SPACE, text)
    return _FRENCH_GUILLEMET_CLOSE.sub(NARROW_NO_BREAK_SPACE + "»", text)


def label(text: str, language: str) -> str:
    """``text`` followed by a colon, spaced as ``language`` writes it ("Adresse\u00a0:" in French)."""
    return typographic_spaces(text + ":", language)


def sort_key(text: str) -> tuple[str, str]:
    """A locale-independent key sorting accented words with their base letter ("Économie" before "Tech").

    Accents and case are ignored first, then break ties, so the order is total and stable.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    base = "".join(char for char in decomposed if not unicodedata.combining(char))
    return base, text
