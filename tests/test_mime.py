"""The wire bytes of each reader's message: parsed back by the email package, every header and both parts
decode to exactly what that reader should get; CRLF line endings, line lengths and verbatim URLs checked
on the raw bytes."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.errors import RecipientError
from digest.mail.base import Batch, Content, Recipient
from digest.mail.mime import MessageBuilder
from digest.personalize import Personalizable
from tests.golden import render_sample

SENDER = "Le Quotidien <news@example.com>"
LIST_ID = "Quotidien <quotidien.example.com>"
NOW = datetime(2025, 11, 27, 6, tzinfo=UTC)
NAMES = [None, "Lecteur", 'Zoé "Z" Ünal, Jr.', "Smith, John", "O'Brien (Bob) <bob>", "محمد العلوي", "李小龙 😀"]


def _fields(i: int, tail: str = "") -> dict[str, str]:
    return {
        "unsubscribe_url": f"https://news.example.com/u/{i}.1.token-{i}{tail}",
        "preferences_url": f"https://news.example.com/p/{i}.1.token-{i}{tail}",
    }


def _batch(content: Content, recipients: list[Recipient]) -> Batch:
    return Batch(
        content=content,
        recipients=recipients,
        sender=SENDER,
        list_id=LIST_ID,
        now=NOW,
        edition_key="2025-11-27.quotidien",
    )


def _parse(data: bytes) -> EmailMessage:
    if data.isascii():
        message = email.message_from_bytes(data, policy=email.policy.default)
    else:
        # The bytes parser leaves raw UTF-8 headers (RFC 6532) as undecoded bytes in addresses; from text it
        # reads them. Bodies are quoted-printable or base64, ASCII either way.
        message = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message.defects == [] and all(part.defects == [] for part in message.walk())
    return message


def _expected(content: str, fields: dict[str, str]) -> str:
    # What get_content() returns: the filled text in canonical form (RFC 2046 4.1.1), every line break a
    # CRLF and the last line ended. The email package does not normalise decoded text further.
    text = re.sub("\r\n|\r|\n", "\r\n", Personalizable.compile(content).fill(fields))
    return text if text.endswith("\r\n") else text + "\r\n"


def _lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    lines = data[:-2].split(b"\r\n")
    assert not any(b"\r" in line or b"\n" in line for line in lines), "a bare CR or LF"
    return lines


def _check_wire(data: bytes, *, header_limit: int = 78) -> None:
    """CRLF only; headers within ``header_limit``; every body line of quoted-printable or base64 within 76."""
    head, _, body = data.partition(b"\r\n\r\n")
    assert all(len(line) <= header_limit for line in _lines(head + b"\r\n"))
    assert all(len(line) <= 76 for line in _lines(body))


def _check(content: Content, recipient: Recipient, data: bytes) -> EmailMessage:
    """Every header and both parts of ``data`` decode to what ``recipient`` should get from ``content``."""
    message = _parse(data)
    assert message["From"].addresses == (Address("Le Quotidien", "news", "example.com"),)
    (to,) = message["To"].addresses
    assert to.addr_spec == recipient.email
    assert to.display_name == (recipient.name or "")
    assert message["Subject"] == content.subject
    assert message["Date"].datetime == NOW
    assert message["List-Id"] == LIST_ID
    # The parser keeps the white space that starts a folded line: `List-Unsubscribe:` CRLF SP `<url>`.
    assert message["List-Unsubscribe"].lstrip() == f"<{recipient.fields['unsubscribe_url']}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",))
    assert text is not None and text.get_content_type() == "text/plain"
    assert text.get_content_charset() == "utf-8"
    assert text.get_content() == _expected(content.text, dict(recipient.fields))
    if content.html is None:
        assert not message.is_multipart() and message.get_body(("html",)) is None
    else:
        assert message.get_content_type() == "multipart/alternative"
        html = message.get_body(("html",))
        assert html is not None and html.get_content_charset() == "utf-8"
        assert html.get_content() == _expected(content.html, dict(recipient.fields))
    # The URL is in the raw header itself, not in RFC 2047 encoded words that only a parser would undo.
    head = data.partition(b"\r\n\r\n")[0].replace(b"\r\n ", b" ")
    assert f"List-Unsubscribe: <{recipient.fields['unsubscribe_url']}>\r\n".encode() in head + b"\r\n"
    return message


@pytest.mark.parametrize("language", ["fr", "en", "ar"])
def test_every_reader_of_a_rendered_edition_gets_exactly_their_filled_content(language: str) -> None:
    variant = render_sample(language)
    content = Content(subject=variant.subject, html=variant.html, text=variant.text)
    recipients = [
        Recipient(email=f"reader{i}@example.ma", name=name, fields=_fields(i), delivery_id=1000 + i)
        for i, name in enumerate(NAMES)
    ]
    builder = MessageBuilder(_batch(content, recipients))
    for recipient in recipients:
        wire = builder.build(recipient)
        assert wire.recipient == recipient
        assert (
            wire.message_id
            == builder.message_id(recipient)
            == f"<2025-11-27.quotidien.{recipient.delivery_id}@example.com>"
        )
        message = _check(content, recipient, wire.data)
        assert message["Message-ID"] == wire.message_id
        _check_wire(wire.data)
        assert list(message.keys()) == [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "List-Id",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "MIME-Version",
            "Content-Type",
        ]


@pytest.mark.parametrize(
    "subject",
    [
        "Le Quotidien : Net-Pharma Hub projette un écosystème pharmaceutique novateur au Maroc, « enfin »",
        "الجريدة اليومية: مشروع صيدلاني مبتكر في المغرب يفتح آفاقا جديدة للتعاون بين البلدين",
        "Le Quotidien — الجريدة du 27 novembre 😀",
        "Ascii " + "x" * 120,
    ],
)
def test_subjects_are_encoded_and_folded_by_the_email_package(subject: str) -> None:
    content = Content(subject=subject, html="<p>%%unsubscribe_url%%</p>", text="%%unsubscribe_url%%")
    recipient = Recipient(email="reader@example.com", fields=_fields(1))
    data = MessageBuilder(_batch(content, [recipient])).build(recipient).data
    _check(content, recipient, data)
    _check_wire(data)


def test_a_text_only_message_is_one_text_part() -> None:
    content = Content(subject="Le Quotidien", html=None, text="Bonjour\nSe désabonner : %%unsubscribe_url%%\n")
    recipient = Recipient(email="reader@example.com", name="Zoé", fields=_fields(1), delivery_id=1)
    data = MessageBuilder(_batch(content, [recipient])).build(recipient).data
    message = _check(content, recipient, data)
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    _check_wire(data)


@pytest.mark.parametrize("length", [40, 76, 77, 78, 79, 200, 900])
def test_a_long_unsubscribe_url_stays_verbatim_in_its_header(length: int) -> None:
    # The email package would fold the URL of a reader with a long id into RFC 2047 encoded words, which a
    # mail client does not take for a URL: List-Unsubscribe is written on a line of its own instead.
    url = "https://news.example.com/u/" + "x" * (length - len("https://news.example.com/u/"))
    fields = {"unsubscribe_url": url, "preferences_url": url.replace("/u/", "/p/")}
    recipient = Recipient(email="reader@example.com", fields=fields, delivery_id=1683)
    content = Content(subject="S", html="<a href='%%unsubscribe_url%%'>x</a>", text="%%unsubscribe_url%%")
    data = MessageBuilder(_batch(content, [recipient])).build(recipient).data
    _check(content, recipient, data)
    _check_wire(data, header_limit=998)


def test_a_url_longer_than_a_line_of_998_is_refused_not_mangled() -> None:
    fields = _fields(1, tail="x" * 1000)
    recipient = Recipient(email="reader@example.com", fields=fields, delivery_id=1)
    with pytest.raises(RecipientError, match="List-Unsubscribe"):
        MessageBuilder(_batch(Content("S", None, "t"), [recipient])).build(recipient)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Bonjour, voici les titres du jour.\n" * 20, "quoted-printable"),
        ("مرحبا بكم في نشرة اليوم، إليكم أهم العناوين\n" * 20, "base64"),
        # ASCII with short lines would be 7bit for the email package; a filled link may make a line long.
        ("Short line\nLink: %%unsubscribe_url%%\n", "quoted-printable"),
    ],
)
def test_each_part_has_one_transfer_encoding_for_all_readers(text: str, encoding: str) -> None:
    content = Content(subject="S", html=text, text=text)
    recipients = [
        Recipient(email="a@example.com", fields=_fields(1)),
        Recipient(email="b@example.com", fields=_fields(2, tail="-" + "y" * 90)),
    ]
    builder = MessageBuilder(_batch(content, recipients))
    for recipient in recipients:
        data = builder.build(recipient).data
        message = _check(content, recipient, data)
        assert [part["Content-Transfer-Encoding"] for part in message.iter_parts()] == [encoding, encoding]
        _check_wire(data, header_limit=998)


@pytest.mark.parametrize(
    "address", ["o'brien+news@example.com", "a.b-c_d@sub.example.co.uk", '"a b"@example.com', "a.@example.com"]
)
def test_addresses_come_out_as_the_email_package_writes_them(address: str) -> None:
    local, domain = address.rsplit("@", 1)
    recipient = Recipient(email=local.strip('"') + "@" + domain, name="Zoé", fields=_fields(1))
    data = MessageBuilder(_batch(Content("S", None, "t"), [recipient])).build(recipient).data
    (to,) = _parse(data)["To"].addresses
    assert to.addr_spec == Address(username=local.strip('"'), domain=domain).addr_spec == address
    assert to.display_name == "Zoé"


@pytest.mark.parametrize("address", ["ünal@example.com", "reader@exämple.com", "δοκιμή@παράδειγμα.δοκιμή"])
def test_a_non_ascii_address_gets_an_smtputf8_message(address: str) -> None:
    recipient = Recipient(email=address, name="Zoé Ünal", fields=_fields(1), delivery_id=1)
    content = Content(subject="Le Quotidien — الجريدة", html="<p>é</p>", text="é")
    data = MessageBuilder(_batch(content, [recipient])).build(recipient).data
    # RFC 6532: the address is raw UTF-8 in To (an encoded word may not stand in an address).
    assert f"To: Zoé Ünal <{address}>\r\n".encode() in data
    _check(content, recipient, data)


def test_a_name_with_a_line_break_is_refused() -> None:
    recipient = Recipient(email="reader@example.com", name="Zoé\r\nBcc: victim@example.com", fields=_fields(1))
    with pytest.raises(RecipientError, match="CR or LF"):
        MessageBuilder(_batch(Content("S", None, "t"), [recipient])).build(recipient)


def test_a_reader_whose_message_cannot_be_made_is_failed_alone() -> None:
    good = Recipient(email="good@example.com", name="Amina", fields=_fields(1), delivery_id=1)
    broken = Recipient(email="bad@example.com", name="Zoé\nBcc: victim@example.com", fields=_fields(2), delivery_id=2)
    lacking = Recipient(email="lacking@example.com", fields={}, delivery_id=3)
    content = Content("S", None, "%%unsubscribe_url%%")
    built = MessageBuilder(_batch(content, [good, broken, lacking])).build_each([good, broken, lacking])
    assert [m.recipient.email for m in built.messages] == ["good@example.com"]
    assert [(r.recipient.email, r.outcome) for r in built.refused] == [
        ("bad@example.com", "failed"),
        ("lacking@example.com", "failed"),
    ]
    assert "CR or LF" in (built.refused[0].error or "")
    assert "unsubscribe_url" in (built.refused[1].error or "")


def test_test_sends_get_a_fresh_message_id_and_deliveries_a_stable_one() -> None:
    test = Recipient(email="reader@example.com", fields=_fields(1))
    delivery = replace(test, delivery_id=42)
    builder = MessageBuilder(_batch(Content("S", None, "t"), [test, delivery]))
    assert builder.build(test).message_id != builder.build(test).message_id
    assert builder.build(delivery).message_id == MessageBuilder(builder.batch).build(delivery).message_id


# Fragments that stress the encodings: SMTP's dot, mbox's "From ", trailing white space (which
# quoted-printable must protect), "=" and what looks like its escapes, every kind of line break, a
# placeholder, long runs, Arabic and non-BMP characters.
FRAGMENTS = st.sampled_from(
    [
        *(".", "..", "From ", " ", "\t", "=", "=3D", "=\n", "\r", "\n", "\r\n", "\n.\n", "%%unsubscribe_url%%"),
        *("x" * 80, "é", "€", "ا", "😀", "\x00", "\x0c", "\u2028", "\x85", "-- ", "--=_"),
    ]
)
TEXTS = st.lists(FRAGMENTS | st.text(max_size=30), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, html=st.none() | TEXTS, tail=st.text(alphabet="abc-_=.~%", max_size=120))
def test_any_text_round_trips_to_exactly_the_filled_content(text: str, html: str | None, tail: str) -> None:
    content = Content(subject="S", html=html, text=text)
    recipient = Recipient(email="reader@example.com", fields=_fields(1, tail=tail), delivery_id=1)
    data = MessageBuilder(_batch(content, [recipient])).build(recipient).data
    _check(content, recipient, data)
    _check_wire(data, header_limit=998)


def _library_display_name(name: str) -> Any:
    message = EmailMessage()
    message["To"] = Address(display_name=name, username="reader", domain="example.com")
    parsed = _parse(message.as_bytes(policy=email.policy.SMTP))
    return parsed["To"].addresses[0].display_name


NAME_CHARACTERS = st.characters(categories=["L", "N", "P", "S", "Zs"])


# Names as subscribers give them: white space runs (some non-ASCII) read back as one space in any case.
NAMES_GIVEN = st.text(NAME_CHARACTERS, min_size=1, max_size=120).map(lambda name: " ".join(name.split())).filter(bool)


@settings(max_examples=300, deadline=None)
@given(name=NAMES_GIVEN)
def test_any_name_reads_back_exactly(name: str) -> None:
    recipient = Recipient(email="reader@example.com", name=name, fields=_fields(1))
    data = MessageBuilder(_batch(Content("S", None, "t"), [recipient])).build(recipient).data
    (to,) = _parse(data)["To"].addresses
    assert to.addr_spec == "reader@example.com"
    assert to.display_name == _library_display_name(name)
    if name.isascii():
        assert to.display_name == name
    else:
        # A long name is folded into several encoded words; the parser above puts a space between them where
        # RFC 2047 6.2 says to drop the white space, as decode_header does.
        head = data.partition(b"\r\n\r\n")[0].replace(b"\r\n ", b" ").decode("ascii")
        (to_line,) = [line for line in head.split("\r\n") if line.startswith("To:")]
        words = to_line.removeprefix("To:").removesuffix("<reader@example.com>").strip()
        assert str(make_header(decode_header(words))) == name
    _check_wire(data)
