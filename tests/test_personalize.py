"""Per-reader placeholders: compiled once, filled for each reader with exactly their values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.personalize import FIELDS, Personalizable, literal, placeholder, unfilled

text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40).filter(lambda s: "%%" not in s)
values = st.fixed_dictionaries({name: st.text(max_size=30) for name in FIELDS})


@given(pieces=st.lists(st.tuples(text, st.sampled_from(FIELDS)), max_size=6), tail=text, reader=values)
def test_fill_puts_each_readers_value_where_its_placeholder_was(
    pieces: list[tuple[str, str]], tail: str, reader: dict[str, str]
) -> None:
    content = "".join(before + placeholder(name) for before, name in pieces) + tail
    expected = "".join(before + reader[name] for before, name in pieces) + tail
    compiled = Personalizable.compile(content)
    assert compiled.fill(reader) == expected
    assert compiled.fill(reader) == expected, "filling leaves the compiled content as it was"


def test_a_missing_value_is_a_key_error_naming_it() -> None:
    with pytest.raises(KeyError, match="preferences_url"):
        Personalizable.compile("see %%preferences_url%%").fill({"unsubscribe_url": "u"})


def test_unknown_names_stay_text_and_literal_text_never_forms_a_placeholder() -> None:
    compiled = Personalizable.compile("%%x%% and %%unsubscribe_url%% and %%first_name%%")
    assert compiled.fill({"unsubscribe_url": "U"}) == "%%x%% and U and %%first_name%%"
    for hostile in ("%%unsubscribe_url%%", "%%%unsubscribe_url%%%", "100%% sûr %%"):
        shown = literal(hostile)
        assert "%%" not in shown
        assert shown.replace("\u2060", "") == hostile, "the reader sees the same characters"
        assert Personalizable.compile(shown).names == ()


def test_unknown_placeholders_are_reported_and_parts_must_match_names() -> None:
    assert unfilled("%%unsubscribe_url%% %%first_name%%") == ["first_name"]
    with pytest.raises(ValueError, match="one more part"):
        Personalizable(parts=("a",), names=("unsubscribe_url",))
