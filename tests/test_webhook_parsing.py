"""The webhook's body parser: its fast path (a body with no run of 19 digits and no \\u escape is parsed as it
is and only its depth checked) gives the same verdict as the full check of every string and number."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.web.webhooks import INT64_MAX, INT64_MIN, MAX_DEPTH, parse_events

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([INT64_MIN, INT64_MAX, INT64_MIN - 1, INT64_MAX + 1, 10**18, 10**19]),
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _acceptable(value: Any, depth: int = 1) -> bool:
    """What the webhook accepts, said plainly: no container deeper than MAX_DEPTH, no integer (nor string of
    digits) outside 64 bits, no NUL."""
    if isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            return False
        items = [item for pair in value.items() for item in pair] if isinstance(value, dict) else value
        return all(_acceptable(item, depth + 1) for item in items)
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    if isinstance(value, str):
        digits = value.isascii() and value.lstrip("-").isdigit()
        return "\x00" not in value and not (digits and not INT64_MIN <= int(value) <= INT64_MAX)
    return True


@settings(max_examples=200)
@given(st.lists(values, max_size=5), st.booleans())
def test_the_parser_accepts_exactly_what_the_rule_allows(events: list[Any], ascii_only: bool) -> None:
    # ensure_ascii writes every non-ASCII character as a \u escape (the full check), otherwise they stay as
    # they are (the fast path, unless a 19-digit run shows up).
    body = json.dumps(events, ensure_ascii=ascii_only).encode()
    if _acceptable(events):
        assert parse_events(body) == events
    else:
        with pytest.raises(ValueError):
            parse_events(body)


def test_a_long_run_of_digits_in_a_harmless_string_is_still_accepted() -> None:
    body = json.dumps([{"sg_message_id": "1" * 40 + ".filter", "event": "open"}]).encode()
    assert parse_events(body)[0]["sg_message_id"].startswith("1" * 40)
