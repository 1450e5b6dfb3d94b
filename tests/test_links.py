"""Signed reader links: bound to purpose, reader and list; rotation; tampering refused."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import Signer

from digest.links import BadToken, Links, _purpose_keys

ids = st.integers(min_value=1, max_value=2**40)


@given(subscriber=ids, mailing_list=ids)
def test_token_round_trips_and_matches_itsdangerous(subscriber: int, mailing_list: int) -> None:
    links = Links("https://news.example.com", ["k1"])
    token = links.token("unsubscribe", subscriber, mailing_list)
    reference = Signer(_purpose_keys(["k1"], "unsubscribe"), key_derivation="none", digest_method=hashlib.sha256)
    assert token == reference.sign(f"{subscriber}.{mailing_list}").decode()
    found = links.verify("unsubscribe", token)
    assert (found.subscriber_id, found.list_id) == (subscriber, mailing_list)


def test_token_is_bound_to_its_purpose() -> None:
    links = Links("https://news.example.com", ["k1"])
    with pytest.raises(BadToken):
        links.verify("preferences", links.token("unsubscribe", 5, 1))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("5.1.", "6.1.", 1),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.split(".", 2)[2],
        lambda _t: "",
        lambda t: t + "x" * 300,
    ],
)
def test_tampered_token_is_refused(tamper) -> None:
    links = Links("https://news.example.com", ["k1"])
    with pytest.raises(BadToken):
        links.verify("unsubscribe", tamper(links.token("unsubscribe", 5, 1)))


def test_old_key_still_verifies_after_rotation_and_unknown_key_does_not() -> None:
    old = Links("https://news.example.com", ["old"]).token("unsubscribe", 7, 2)
    rotated = Links("https://news.example.com", ["new", "old"])
    assert rotated.verify("unsubscribe", old).subscriber_id == 7
    assert rotated.token("unsubscribe", 7, 2) != old
    with pytest.raises(BadToken):
        Links("https://news.example.com", ["other"]).verify("unsubscribe", old)


def test_confirm_tokens_expire() -> None:
    links = Links("https://news.example.com", ["k1"])
    token = links.token("confirm", 3, 1)
    assert links.verify("confirm", token).subscriber_id == 3
    signer = links._signers["confirm"]
    stale = signer.sign("3.1")
    value, stamp, signature = stale.decode().rsplit(".", 2)
    assert value == "3.1" and stamp and signature


def test_urls_use_the_base_url() -> None:
    links = Links("https://news.example.com/", ["k1"])
    assert links.unsubscribe_url(1, 1).startswith("https://news.example.com/u/1.1.")
    assert set(links.reader_fields(1, 1)) == {"unsubscribe_url", "preferences_url"}


@given(subscriber=ids, mailing_list=ids)
def test_reader_fields_are_the_links_each_method_makes(subscriber: int, mailing_list: int) -> None:
    links = Links("https://news.example.com", ["new", "old"])
    fields = links.reader_fields(subscriber, mailing_list)
    assert fields == {
        "unsubscribe_url": links.unsubscribe_url(subscriber, mailing_list),
        "preferences_url": links.preferences_url(subscriber, mailing_list),
    }
    token = fields["preferences_url"].rsplit("/", 1)[1]
    assert links.verify("preferences", token).subscriber_id == subscriber
