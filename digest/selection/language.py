"""Language: which language an item is written in, and its words normalised for comparing stories.

Detection uses py3langid (an offline, maintained fork of langid.py), restricted to the languages our
publishers write in and their neighbours, and loaded on first use (the CLI must start fast). Normalisation
is language-aware: French accents and elisions (l', d', qu'), Arabic diacritics, tatweel and alef forms,
English possessives; a light suffix stripping lets "riots" meet "rioting" and "concerts" meet "concert".
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
import zipfile
from array import array
from functools import lru_cache
from pathlib import Path
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
    """py3langid's identifier restricted to DETECTED_LANGUAGES, from the uncompressed copy in the cache folder.

    The packaged model is 4.5 MB of LZMA: decompressing it took 0.4 s of every `digest build` (a quarter of
    the process). The first run writes the restricted model uncompressed (about 40 MB, loaded in 0.05 s);
    when the cache cannot be written the packaged model is read each time, as before.
    """
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    packaged = MODEL_DIR / MODEL_FILE
    cached = _model_cache(packaged)
    if cached is not None:
        try:
            return _load_restricted(cached, LanguageIdentifier)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # unreadable, truncated or not a model: rebuilt below
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(DETECTED_LANGUAGES))
    if cached is not None:
        _save_restricted(identifier, cached)
    return identifier


def _model_cache(packaged: Path) -> Path | None:
    """Where the restricted model of this py3langid model file is cached (None without a home folder)."""
    from importlib.metadata import version

    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache" if Path.home().is_dir() else None)
    if base is None:
        return None
    stat = packaged.stat()
    key = f"{version('py3langid')}-{stat.st_size}-{int(stat.st_mtime)}-{'-'.join(DETECTED_LANGUAGES)}"
    return Path(base) / "digest" / f"langid-{key}.npz"


def _load_restricted(path: Path, identifier_class: Any) -> Any:
    import numpy as np

    with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
        return identifier_class(
            data["ptc"],
            data["pc"],
            data["classes"].tolist(),
            _as_array(data["nextmove"]),
            data["out_feat"].tolist(),
            norm_probs=True,
            tk_row=_as_array(data["row"]),
        )


def _as_array(values: Any) -> array[int]:
    """A NumPy array of unsigned integers as the stdlib array py3langid walks (same item size)."""
    return array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize], values.tobytes())


def _save_restricted(identifier: Any, path: Path) -> None:
    """Write the identifier's restricted model to ``path`` atomically (concurrent builds may race) and remove
    the copies of other installs; a cache that cannot be written is skipped."""
    import numpy as np

    written: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            written = handle.name
            np.savez(
                handle,
                ptc=identifier.nb_ptc,
                pc=identifier.nb_pc,
                classes=np.array(identifier.nb_classes),
                nextmove=np.asarray(identifier.tk_nextmove),
                row=np.asarray(identifier.tk_row),
                out_feat=np.array(identifier.tk_output, dtype=np.int32),
            )
        os.replace(written, path)
        # A model of another py3langid install (an upgrade, another checkout) is 40 MB nobody reads any more.
        for stale in path.parent.glob("langid-*.npz"):
            if stale != path:
                with contextlib.suppress(OSError):
                    stale.unlink()
    except OSError:
        if written is not None:
            with contextlib.suppress(OSError):
                os.unlink(written)


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
