"""Address keys (L3): different mailboxes never share a key (``ß`` is not ``ss``), one mailbox written in several
ways has one; the upgrade recomputes stored keys and keeps every row, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import logging

import pytest
from alembic import command as alembic_command
from sqlalchemy import text

from digest.db import alembic_config, make_engine, open_session
from digest.errors import SubscriberError
from subscribers.addresses import email_hash, email_key, legacy_email_hash, normalize_email
from subscribers.store import add_subscriber, create_list, is_suppressed, remove_subscriber

BEFORE = "c3e8a1f4d7b2"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("news@straße.de", "news@strasse.de"),  # two domains
        ("maß@example.com", "mass@example.com"),  # two local parts
        ("ς@example.com", "σ@example.com"),  # final and medial sigma fold together, but are different letters
    ],
)
def test_different_mailboxes_have_different_keys(one: str, other: str) -> None:
    assert email_key(normalize_email(one)) != email_key(normalize_email(other))
    assert email_hash(normalize_email(one)) != email_hash(normalize_email(other))


@pytest.mark.parametrize(
    "spellings",
    [
        ("Foo@Example.COM", "foo@example.com", "FOO@EXAMPLE.COM"),
        ("news@Straße.DE", "news@straße.de", "news@XN--STRAE-OQA.DE", "news@STRAẞE.de"),
        ("amélie@example.com", "ame\u0301lie@example.com", "AMÉLIE@example.com"),  # NFC and NFD
    ],
)
def test_one_mailbox_written_several_ways_has_one_key(spellings: tuple[str, ...]) -> None:
    assert len({email_key(normalize_email(spelling)) for spelling in spellings}) == 1
    assert len({email_key(spelling) for spelling in spellings}) == 1  # also as stored, not normalised


def _insert(connection, table: str, **values: object) -> None:
    columns = ", ".join(values)
    connection.execute(
        text(
            f"INSERT INTO {table} ({columns}, created_at) VALUES ({', '.join(':' + c for c in values)}, "
            "CURRENT_TIMESTAMP)"
        ),
        values,
    )


def _casefold_hash(address: str) -> str:
    return hashlib.sha256(address.casefold().encode()).hexdigest()


def test_the_upgrade_recomputes_keys_keeps_every_row_and_reports_clashes(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    alembic_command.upgrade(config, BEFORE)
    with engine.begin() as connection:
        # Keys as case folding made them: the reader at straße.de got the key of strasse.de, whose bounce then
        # marked them bounced too.
        _insert(
            connection,
            "subscriber",
            email="news@straße.de",
            email_key="news@strasse.de",
            status="bounced",
            token_secret="s1",
        )
        _insert(
            connection,
            "suppression",
            email="news@strasse.de",
            email_key="news@strasse.de",
            email_hash=_casefold_hash("news@strasse.de"),
            reason="bounced",
        )
        _insert(
            connection,
            "subscriber",
            email="Amina@Example.com",
            email_key="amina@example.com",
            status="active",
            token_secret="s2",
        )
        # Two rows that are one mailbox once the domain goes through IDNA (written around the store).
        _insert(
            connection,
            "subscriber",
            email="x@bücher.example",
            email_key="x@bücher.example",
            status="active",
            token_secret="s3",
        )
        _insert(
            connection,
            "subscriber",
            email="x@XN--BCHER-KVA.example",
            email_key="x@xn--bcher-kva.example",
            status="active",
            token_secret="s4",
        )
        # An erasure: only the hash of the case-folded address is left.
        _insert(connection, "suppression", email_hash=_casefold_hash("maß@example.com"), reason="erased")
    with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
        alembic_command.upgrade(config, "head")
    with engine.begin() as connection:
        keys = dict(connection.execute(text("SELECT email, email_key FROM subscriber")).all())
        suppressions = connection.execute(
            text("SELECT email, email_key, email_hash, legacy_key FROM suppression ORDER BY id")
        ).all()
    assert len(keys) == 4, "no row lost"
    assert keys["news@straße.de"] == "news@straße.de"  # apart from strasse.de now
    assert keys["Amina@Example.com"] == "amina@example.com"
    assert keys["x@bücher.example"] == "x@bücher.example"
    assert keys["x@XN--BCHER-KVA.example"] == "x@xn--bcher-kva.example", "the newer clashing row keeps its key"
    bounced, erased = suppressions
    assert tuple(bounced) == ("news@strasse.de", "news@strasse.de", email_hash("news@strasse.de"), False)
    assert erased.email is None and erased.legacy_key and erased.email_hash == legacy_email_hash("maß@example.com")
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("subscriber 4 would share its email_key with subscriber 3" in w for w in warnings), warnings
    assert any("subscriber 1 is bounced but no suppression names its address" in w for w in warnings), warnings

    with open_session(engine) as session:
        quotidien = create_list(session=session, slug="quotidien")
        # The erased address stays refused after the upgrade, however it is written.
        for spelling in ("maß@example.com", "MAẞ@Example.com"):
            with pytest.raises(SubscriberError, match="suppressed"):
                add_subscriber(session=session, mailing_list=quotidien, email=spelling)
        # Two mailboxes that case folding merged are two readers now; erasing one leaves the other alone.
        first = add_subscriber(session=session, mailing_list=quotidien, email="otto@straße.de")
        second = add_subscriber(session=session, mailing_list=quotidien, email="otto@strasse.de")
        assert first.subscriber.id != second.subscriber.id
        remove_subscriber(session=session, email="otto@strasse.de", erase=True)
        assert is_suppressed(session=session, email="otto@straße.de") is None
        session.refresh(first.subscriber)
        assert first.subscriber.status == "active"
        session.commit()
    alembic_command.downgrade(config, BEFORE)  # back to case folding: the clash is reported, nothing lost
    with engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM subscriber")).scalar_one() == 5
    alembic_command.upgrade(config, "head")
    engine.dispose()
