"""Facts kept in one place: how a subscription stores its sections, and the List-Id header."""

from __future__ import annotations

import pytest

from digest.errors import SubscriberError
from digest.mail.base import list_id
from subscribers.sections import MAX_SECTIONS, Sections


def test_sections_round_trip_through_the_stored_column() -> None:
    chosen = Sections.chosen([" Tech ", "Économie", "Tech", ""])
    assert chosen.names == ("Tech", "Économie")
    assert chosen.stored() == "Tech,Économie"
    assert Sections.parse(chosen.stored()) == chosen
    assert chosen.as_set() == frozenset({"Tech", "Économie"})


def test_no_sections_means_every_section() -> None:
    assert Sections.parse(None).stored() is None and Sections.parse("").as_set() is None
    assert Sections.chosen([]).stored() is None and list(Sections.parse(",,")) == []


@pytest.mark.parametrize(
    ("names", "message"),
    [(["a,b"], "no commas"), (["x" * 61], "under 60"), ([f"s{i}" for i in range(MAX_SECTIONS + 1)], "at most")],
)
def test_bad_sections_are_refused_naming_why(names: list[str], message: str) -> None:
    with pytest.raises(SubscriberError, match=message):
        Sections.chosen(names)


def test_list_id_names_the_list_under_the_senders_domain() -> None:
    assert list_id("Le Quotidien", "quotidien", "News <news@example.org>") == "Le Quotidien <quotidien.example.org>"
