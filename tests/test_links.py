"""Signed reader links: bound to purpose, reader, list and the reader's secret; dated; rotation; tampering refused."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.links import DAY, MAX_ID, BadToken, Links

ids = st.integers(min_value=1, max_value=MAX_ID)
NOW = 1_764_230_400.0
SECRET = "reader-secret"


def at(seconds: float, keys: list[str] | None = None) -> Links:
    """Links whose clock reads ``seconds``."""
    return Links("https://news.example.com", keys or ["k1"], clock=lambda: seconds)


@given(subscriber=ids, mailing_list=ids)
def test_token_round_trips_and_is_the_documented_hmac(subscriber: int, mailing_list: int) -> None:
    token = at(NOW).token("unsubscribe", subscriber, mailing_list, SECRET)
    value = f"{subscriber}.{mailing_list}.{int(NOW)}."
    key = hmac.new(b"k1", b"digest.unsubscribe", hashlib.sha256).digest()
    mac = hmac.new(key, value.encode() + SECRET.encode(), hashlib.sha256).digest()
    assert token == value + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    found = at(NOW).verify("unsubscribe", token, SECRET)
    assert (found.subscriber_id, found.list_id, found.issued) == (subscriber, mailing_list, int(NOW))


def test_token_is_bound_to_its_purpose_and_its_reader_secret() -> None:
    links = at(NOW)
    token = links.token("unsubscribe", 5, 1, SECRET)
    with pytest.raises(BadToken):
        links.verify("preferences", token, SECRET)
    for other in ("another-reader-secret", "", None):
        with pytest.raises(BadToken):
            links.verify("unsubscribe", token, other)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("5.1.", "6.1.", 1),
        lambda t: t.replace("5.1.", "05.1.", 1),
        lambda t: t.replace("5.1.", "+5.1.", 1),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.split(".", 2)[2],
        lambda t: t + "=",
        lambda _t: "",
        lambda t: t + "x" * 300,
    ],
)
def test_tampered_token_is_refused(tamper) -> None:
    links = at(NOW)
    with pytest.raises(BadToken):
        links.verify("unsubscribe", tamper(links.token("unsubscribe", 5, 1, SECRET)), SECRET)


def test_only_the_canonical_last_base64_character_verifies() -> None:
    # 32 bytes end in a base64 character carrying 4 bits: 3 others decode to the same bytes.
    links = at(NOW)
    token = links.token("unsubscribe", 5, 1, SECRET)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = [
        token[:-1] + c
        for c in alphabet
        if c != token[-1]
        and base64.urlsafe_b64decode(token.rsplit(".", 1)[1][:-1] + c + "=")
        == base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "=")
    ]
    assert same_bytes, "the malleable spellings exist"
    for spelling in same_bytes:
        with pytest.raises(BadToken):
            links.verify("unsubscribe", spelling, SECRET)


def test_old_key_still_verifies_after_rotation_and_unknown_key_does_not() -> None:
    old = at(NOW, ["old"]).token("unsubscribe", 7, 2, SECRET)
    rotated = at(NOW, ["new", "old"])
    assert rotated.verify("unsubscribe", old, SECRET).subscriber_id == 7
    assert rotated.token("unsubscribe", 7, 2, SECRET) != old
    with pytest.raises(BadToken):
        at(NOW, ["other"]).verify("unsubscribe", old, SECRET)


@pytest.mark.parametrize(("purpose", "days"), [("confirm", 7), ("unsubscribe", 400), ("preferences", 400)])
def test_tokens_live_as_long_as_documented(purpose: str, days: int) -> None:
    token = at(NOW).token(purpose, 3, 1, SECRET)
    assert at(NOW + days * DAY - 60).verify(purpose, token, SECRET).subscriber_id == 3
    with pytest.raises(BadToken):
        at(NOW + days * DAY + 60).verify(purpose, token, SECRET)
    with pytest.raises(BadToken):
        at(NOW - 3600).verify(purpose, token, SECRET)  # made an hour in the future: forged


def test_urls_use_the_base_url() -> None:
    links = Links("https://news.example.com/", ["k1"])
    assert links.unsubscribe_url(1, 1, SECRET).startswith("https://news.example.com/u/1.1.")
    assert set(links.reader_fields(1, 1, SECRET)) == {"unsubscribe_url", "preferences_url"}


@given(subscriber=ids, mailing_list=ids)
def test_reader_fields_are_the_links_each_method_makes(subscriber: int, mailing_list: int) -> None:
    links = at(NOW, ["new", "old"])
    fields = links.reader_fields(subscriber, mailing_list, SECRET)
    assert fields == {
        "unsubscribe_url": links.unsubscribe_url(subscriber, mailing_list, SECRET),
        "preferences_url": links.preferences_url(subscriber, mailing_list, SECRET),
    }
    token = fields["preferences_url"].rsplit("/", 1)[1]
    assert links.verify("preferences", token, SECRET).subscriber_id == subscriber


def test_ids_no_row_can_have_are_refused_before_any_lookup() -> None:
    links = at(NOW)
    with pytest.raises(BadToken):
        links.claim("unsubscribe", links.token("unsubscribe", MAX_ID + 1, 1, SECRET))
    assert links.claim("unsubscribe", links.token("unsubscribe", MAX_ID, 1, SECRET)).subscriber_id == MAX_ID
