"""The fast path of :func:`subscribers.addresses.normalize_email` (plain ASCII addresses, each domain checked
once) gives email-validator's verdict on every address: the same normalised form, or the same refusal with
email-validator's own reason; and :func:`~subscribers.addresses.normalize_email_and_key` gives the
:func:`~subscribers.addresses.email_key` of that form (Hypothesis)."""

from __future__ import annotations

import string

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from digest.errors import SubscriberError
from subscribers.addresses import email_key, normalize_email, normalize_email_and_key

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
ROLE_NAMES = ["info", "postmaster", "abuse", "news", "www", "noc", "security", "ftp"]


def _cased(word: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flip else c for c, flip in zip(word, flips + [False] * len(word), strict=False))


LOCALS = st.one_of(
    st.text(alphabet=ATEXT + ".", min_size=1, max_size=80),
    st.text(alphabet=ATEXT, min_size=60, max_size=250),  # around the limits of a part and of the address
    st.builds(_cased, st.sampled_from(ROLE_NAMES), st.lists(st.booleans(), max_size=10)),
    st.text(alphabet=ATEXT + '. "\\@<>()[],;:\t', max_size=20),  # quoting, display names, specials
    st.text(max_size=12),  # anything, Unicode included
)
LABEL = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=70)
PUNYCODE = st.text(alphabet="abcdéüßçαβمثالब्", min_size=1, max_size=30).map(
    lambda label: label.encode("punycode").decode("ascii")
)
DOMAINS = st.one_of(
    st.lists(LABEL, min_size=1, max_size=5).map(".".join),
    st.lists(st.one_of(LABEL, PUNYCODE.map(lambda p: "xn--" + p)), min_size=1, max_size=4).map(".".join),
    st.lists(st.text(alphabet="aüßé日本مثال-", min_size=1, max_size=40), min_size=1, max_size=6).map(
        lambda labels: ".".join(labels) + ".ma"
    ),
    st.sampled_from(
        [
            "example.com",
            "EXAMPLE.MA",
            "localhost",
            "x.local",
            "mail.invalid",
            "1.in-addr.arpa",
            "example.123",
            "[192.0.2.1]",
            "[IPv6:2001:db8::1]",
            "",
            "a..b.com",
            "-a.com",
            "a-.com",
            "ab--cd.com",
            "xn--.com",
            "xn--zz-.com",
            "example.com.",
        ]
    ),
    st.text(max_size=15),
)


def _reference(candidate: str) -> tuple[str, str] | tuple[None, str]:
    """email-validator's normalised form of ``candidate`` and nothing else, or None and its reason."""
    try:
        return validate_email(candidate, check_deliverability=False).normalized, ""
    except EmailNotValidError as err:
        return None, str(err)


@hypothesis_settings(max_examples=1500, deadline=None)
@given(local=LOCALS, domain=DOMAINS, at=st.sampled_from(["@", "@", "@", "", "@@"]), space=st.sampled_from(["", " "]))
@example(local="INFO", domain="example.com", at="@", space="")  # a role name email-validator lower-cases
@example(local="PostMaster", domain="XN--BCHER-KVA.DE", at="@", space="")
@example(local="a" * 60, domain=".".join(["ü" * 30] * 4) + ".ma", at="@", space="")  # too long as Punycode
@example(local="a" * 64, domain="b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com", at="@", space="")
def test_the_fast_path_gives_email_validators_verdict(local: str, domain: str, at: str, space: str) -> None:
    raw = f"{space}{local}{at}{domain}{space}"
    candidate = raw.strip()
    if not candidate:
        with pytest.raises(SubscriberError, match="empty email address"):
            normalize_email(raw)
        return
    expected, reason = _reference(candidate)
    if expected is None:
        with pytest.raises(SubscriberError) as refused:
            normalize_email_and_key(raw)
        assert str(refused.value) == f"invalid email address {candidate!r}: {reason}"
        return
    address, key = normalize_email_and_key(raw)
    assert address == expected == normalize_email(raw)
    assert key == email_key(expected)
