"""What start-up keeps between runs or makes in bulk, for speed: the language model's uncompressed copy, link
secrets drawn many at a time. Each must behave exactly like what it replaces."""

from __future__ import annotations

import base64
import os
import secrets
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.selection import language
from subscribers.models import new_token_secret, new_token_secrets

TEXTS = {
    "fr": "Le gouvernement a annoncé hier une nouvelle réforme des retraites après des semaines de grève.",
    "en": "The government announced a new pension reform yesterday after weeks of strikes across the country.",
    "es": "El gobierno anunció ayer una nueva reforma de las pensiones tras semanas de huelgas en el país.",
    "de": "Die Regierung hat gestern nach wochenlangen Streiks eine neue Rentenreform angekündigt.",
}


@pytest.fixture
def fresh_identifier(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The identifier loaded anew, its cache in ``tmp_path`` (yielded); reloaded as usual afterwards."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    language._identifier.cache_clear()
    yield tmp_path
    language._identifier.cache_clear()


def _guesses() -> dict[str, tuple[str, float]]:
    identifier = language._identifier()
    return {code: identifier.classify(text) for code, text in TEXTS.items()}


def test_the_cached_language_model_answers_as_the_packaged_one(
    fresh_identifier: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy an earlier install left: removed once this install's copy is written.
    stale = fresh_identifier / "digest" / "langid-0.0.1-1-1-fr.npz"
    stale.parent.mkdir()
    stale.write_bytes(b"an older model")
    packaged = _guesses()  # first use: the packaged model, which writes the cache
    assert {code: guess[0] for code, guess in packaged.items()} == {code: code for code in TEXTS}
    cached = list((fresh_identifier / "digest").glob("langid-*.npz"))
    assert len(cached) == 1 and cached[0] != stale
    language._identifier.cache_clear()
    from py3langid.langid import LanguageIdentifier

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the packaged model was read although a cached copy exists")

    monkeypatch.setattr(LanguageIdentifier, "from_model_file", refuse)
    assert _guesses() == packaged
    assert language.detect(TEXTS["fr"]) == "fr"


def test_a_broken_or_unwritable_cache_falls_back_to_the_packaged_model(
    fresh_identifier: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    cached = language._model_cache(MODEL_DIR / MODEL_FILE)
    assert cached is not None and cached.parent == fresh_identifier / "digest"
    cached.parent.mkdir()
    cached.write_bytes(b"not a model")
    assert language.detect(TEXTS["en"]) == "en"  # read from the package; the cache is rewritten
    language._identifier.cache_clear()
    assert cached.stat().st_size > 1_000_000
    assert language.detect(TEXTS["es"]) == "es"
    language._identifier.cache_clear()
    cached.write_bytes(cached.read_bytes()[:500_000])  # cut short, as by a full disk
    assert language.detect(TEXTS["fr"]) == "fr"
    language._identifier.cache_clear()
    # A regular file where the cache folder would be: nothing can be written, detection still works.
    blocked = fresh_identifier / "blocked"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert language.detect(TEXTS["de"]) == "de"
    assert blocked.read_text() == "not a folder"


def test_secrets_drawn_in_bulk_look_like_single_ones_and_are_distinct() -> None:
    alphabet = set(string.ascii_letters + string.digits + "-_")
    many = new_token_secrets(10_000)
    one = new_token_secret()
    assert len(many) == len(set(many)) == 10_000
    assert {len(secret) for secret in many} == {len(one)} == {22}
    assert all(set(secret) <= alphabet for secret in [*many, one])
    assert new_token_secrets(0) == []


def test_secrets_drawn_in_bulk_are_each_their_bytes_encoded_alone(monkeypatch) -> None:
    """One base64 call encodes them all: each is exactly what encoding its own 16 random bytes gives."""
    drawn: list[bytes] = []

    def token_bytes(count: int) -> bytes:
        drawn.append(os.urandom(count))
        return drawn[-1]

    monkeypatch.setattr(secrets, "token_bytes", token_bytes)
    many = new_token_secrets(1000)
    stride = len(drawn[0]) // 1000
    assert many == [
        base64.urlsafe_b64encode(drawn[0][start : start + 16]).rstrip(b"=").decode()
        for start in range(0, len(drawn[0]), stride)
    ]
