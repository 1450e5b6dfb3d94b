"""POST /webhooks/sendgrid: signed with a key pair made here, idempotent, suppresses and unsubscribes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session, select

from digest.mail.outbox import OutboxBackend
from digest.models import Delivery, DeliveryEvent
from digest.settings import Settings
from digest.web.app import create_app
from digest.web.webhooks import MAX_BODY_BYTES
from subscribers.models import ConsentEvent, Subscriber, Subscription, Suppression, utcnow
from tests.seed import DAY, add_readers, seed_edition
from tests.servers.web import serve
from tests.test_send import _send

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
# The app answers its DIGEST_BASE_URL's host only.
HOST = {"Host": "news.example.com"}


class Signer:
    """A key pair like SendGrid's: the public key as SendGrid shows it (base64 DER), ECDSA P-256 / SHA-256."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public = base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        signature = self.private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE: base64.b64encode(signature).decode(), TIMESTAMP: stamp}


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def sent(engine: Engine, settings: Settings) -> dict[str, Any]:
    """An edition sent to 3 readers through the outbox: their delivery ids and the edition id."""
    add_readers(engine, 3)
    edition = seed_edition(engine)
    _send(engine, settings, OutboxBackend(settings.outbox_dir), edition)
    with Session(engine) as session:
        rows = session.exec(select(Subscriber.email, Delivery.id).join(Delivery)).all()
    return {"edition": edition, "deliveries": dict(rows)}


@pytest.fixture
def client(engine: Engine, make_settings: Callable[..., Settings], signer: Signer) -> Iterator[httpx.Client]:
    """An HTTP client to the web app served on loopback, with the webhook key set."""
    app = create_app(make_settings(sendgrid_webhook_public_key=signer.public), engine=engine)
    with serve(app) as url, httpx.Client(base_url=url, timeout=10, headers=HOST) as http:
        yield http


def event(sent: dict[str, Any], email: str, kind: str, n: int, **extra: Any) -> dict[str, Any]:
    """A SendGrid event for ``email``'s delivery, with our custom_args at the top level as SendGrid sends them."""
    return {
        "email": email,
        "event": kind,
        "timestamp": 1764230400 + n,
        "sg_event_id": f"evt-{kind}-{email}-{n}",
        "sg_message_id": "standin-1.filter0001",
        "edition_id": str(sent["edition"]),
        "delivery_id": str(sent["deliveries"][email]),
        **extra,
    }


def post(client: httpx.Client, signer: Signer, events: list[dict[str, Any]], **kwargs: Any) -> Any:
    body = json.dumps(events).encode()
    return client.post("/webhooks/sendgrid", content=body, headers=signer.headers(body, **kwargs))


def test_a_good_signature_is_accepted_and_counted(client, signer, sent, run_cli) -> None:
    events = [
        event(sent, "reader0@example.com", "delivered", 1),
        event(sent, "reader1@example.com", "delivered", 2),
        event(sent, "reader0@example.com", "open", 3),
        event(sent, "reader0@example.com", "open", 4),
        event(sent, "reader0@example.com", "click", 5, url="https://www.example.ma/a"),
    ]
    answer = post(client, signer, events)
    assert answer.status_code == 200
    assert answer.json() == {"recorded": 5, "duplicates": 0, "unmatched": 0, "invalid": 0}
    stats = json.loads(run_cli("stats", "--json").output)["editions"][0]
    assert stats["recipients"] == 3 and stats["sent"] == 3
    assert (stats["delivered"], stats["opened"], stats["clicked"]) == (2, 1, 1), "one reader opening twice is one"


def test_a_tampered_body_is_refused(client, signer, sent, engine) -> None:
    body = json.dumps([event(sent, "reader0@example.com", "bounce", 1)]).encode()
    headers = signer.headers(body)
    tampered = body.replace(b"reader0", b"reader1")
    answer = client.post("/webhooks/sendgrid", content=tampered, headers=headers)
    assert answer.status_code == 403 and answer.json() == {"error": "bad signature"}
    with Session(engine) as session:
        assert session.exec(select(DeliveryEvent)).all() == []
        assert {s.status for s in session.exec(select(Subscriber))} == {"active"}


def test_unsigned_and_stale_requests_are_refused(client, signer, sent) -> None:
    body = json.dumps([event(sent, "reader0@example.com", "delivered", 1)]).encode()
    unsigned = client.post("/webhooks/sendgrid", content=body)
    assert unsigned.status_code == 403 and "unsigned" in unsigned.json()["error"]
    stale = post(
        client, signer, [event(sent, "reader0@example.com", "delivered", 1)], timestamp=int(time.time()) - 3600
    )
    assert stale.status_code == 403 and "stale" in stale.json()["error"]
    other = Signer()
    forged = client.post("/webhooks/sendgrid", content=body, headers=other.headers(body))
    assert forged.status_code == 403


def test_retried_events_count_once(client, signer, sent, run_cli) -> None:
    events = [event(sent, "reader0@example.com", "delivered", 1), event(sent, "reader1@example.com", "open", 2)]
    assert post(client, signer, events).json()["recorded"] == 2
    again = post(client, signer, events)
    assert again.status_code == 200 and again.json()["duplicates"] == 2
    stats = json.loads(run_cli("stats", "--json").output)["editions"][0]
    assert (stats["delivered"], stats["opened"]) == (1, 1)


def test_bounces_and_complaints_suppress_the_reader(client, signer, sent, engine) -> None:
    events = [
        event(sent, "reader0@example.com", "bounce", 1, type="bounce", reason="550 5.1.1 unknown user"),
        event(sent, "reader1@example.com", "bounce", 2, type="blocked", reason="451 try later"),
        event(sent, "reader2@example.com", "spamreport", 3),
    ]
    assert post(client, signer, events).status_code == 200
    with Session(engine) as session:
        statuses = dict(session.exec(select(Subscriber.email, Subscriber.status)).all())
        suppressed = {s.email: s.reason for s in session.exec(select(Suppression))}
    assert statuses == {
        "reader0@example.com": "bounced",
        "reader1@example.com": "active",
        "reader2@example.com": "complained",
    }, "a blocked bounce is temporary"
    assert suppressed == {"reader0@example.com": "bounced", "reader2@example.com": "complained"}


def test_dropped_suppresses_too(client, signer, sent, engine) -> None:
    post(client, signer, [event(sent, "reader1@example.com", "dropped", 1, reason="Bounced Address")])
    with Session(engine) as session:
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == "reader1@example.com")).one()
    assert subscriber.status == "bounced"


def test_unsubscribe_events_end_the_subscription(client, signer, sent, engine, run_cli) -> None:
    events = [
        event(sent, "reader0@example.com", "unsubscribe", 1),
        event(sent, "reader1@example.com", "group_unsubscribe", 2, asm_group_id=7),
    ]
    post(client, signer, events)
    with Session(engine) as session:
        subscriptions = dict(session.exec(select(Subscriber.email, Subscription.status).join(Subscription)).all())
        consent = session.exec(select(ConsentEvent).where(ConsentEvent.source == "webhook")).all()
    assert subscriptions == {
        "reader0@example.com": "unsubscribed",
        "reader1@example.com": "unsubscribed",
        "reader2@example.com": "active",
    }
    assert sorted(c.detail or "" for c in consent) == ["group_unsubscribe", "unsubscribe"]
    assert json.loads(run_cli("stats", "--json").output)["editions"][0]["unsubscribed"] == 2


def test_acting_events_reach_the_right_readers_and_log_it(client, signer, sent, engine) -> None:
    # An unsubscribe through one of our deliveries also takes the reader off a later edition's queue (of that
    # list); a bounce SendGrid reports for no delivery of ours finds its reader by address, whatever its case.
    later = seed_edition(engine, day=DAY + timedelta(days=1))
    with Session(engine) as session:
        ids = dict(session.exec(select(Subscriber.email, Subscriber.id)).all())
        session.add(Delivery(edition_id=later, subscriber_id=ids["reader0@example.com"]))
        session.add(Delivery(edition_id=later, subscriber_id=ids["reader1@example.com"]))
        session.commit()
    stranger = {"email": "Reader2@EXAMPLE.com", "event": "bounce", "timestamp": 1764230400, "sg_event_id": "x-b"}
    answer = post(client, signer, [event(sent, "reader0@example.com", "unsubscribe", 1), stranger])
    assert answer.json() == {"recorded": 2, "duplicates": 0, "unmatched": 1, "invalid": 0}
    with Session(engine) as session:
        queued = session.exec(select(Delivery.subscriber_id).where(Delivery.edition_id == later)).all()
        consent = session.exec(select(ConsentEvent).where(ConsentEvent.source == "webhook")).one()
        statuses = dict(session.exec(select(Subscriber.email, Subscriber.status)).all())
        suppressed = session.exec(select(Suppression)).one()
        left = select(Subscription.list_id).where(Subscription.subscriber_id == ids["reader0@example.com"])
        list_id = session.exec(left).one()
    assert queued == [ids["reader1@example.com"]], "reader0's queued delivery dropped, reader1's kept"
    assert (consent.subscriber_id, consent.list_id, consent.kind, consent.detail) == (
        ids["reader0@example.com"],
        list_id,
        "unsubscribe",
        "unsubscribe",
    )
    assert abs((_aware(consent.at) - utcnow()).total_seconds()) < 60
    assert statuses == {
        "reader0@example.com": "active",
        "reader1@example.com": "active",
        "reader2@example.com": "bounced",
    }
    # Suppressed as the reader's address is stored, not as the event spelled it.
    assert (suppressed.email, suppressed.email_key, suppressed.reason) == (
        "reader2@example.com",
        "reader2@example.com",
        "bounced",
    )


def test_events_of_unknown_deliveries_and_junk(client, signer, sent) -> None:
    events: list[Any] = [
        {"email": "test@example.com", "event": "delivered", "timestamp": 1764230400, "sg_event_id": "x-1"},
        {"event": "open"},
        "not an event",
    ]
    answer = post(client, signer, events)
    assert answer.json() == {"recorded": 1, "duplicates": 0, "unmatched": 1, "invalid": 2}
    body = b"{not json"
    assert client.post("/webhooks/sendgrid", content=body, headers=signer.headers(body)).status_code == 400


def test_without_a_key_the_webhook_is_closed(engine, make_settings, sent, caplog) -> None:
    with caplog.at_level("WARNING", logger="digest.web.webhooks"):
        app = create_app(make_settings(), engine=engine)
    assert [r.message for r in caplog.records if "SENDGRID_WEBHOOK_PUBLIC_KEY" in r.message], "said at start-up"
    with serve(app) as url:
        answer = httpx.post(
            f"{url}/webhooks/sendgrid", json=[event(sent, "reader0@example.com", "spamreport", 1)], headers=HOST
        )
    assert answer.status_code == 403
    with Session(engine) as session:
        assert session.exec(select(DeliveryEvent)).all() == []
        assert {s.status for s in session.exec(select(Subscriber))} == {"active"}


def test_a_malformed_public_key_is_a_server_error_not_a_crash(engine, make_settings, sent, signer) -> None:
    body = json.dumps([event(sent, "reader0@example.com", "delivered", 1)]).encode()
    with serve(create_app(make_settings(sendgrid_webhook_public_key="not-a-key"), engine=engine)) as url:
        answer = httpx.post(f"{url}/webhooks/sendgrid", content=body, headers={**signer.headers(body), **HOST})
    assert answer.status_code == 500
    assert answer.json() == {"error": "webhook verification is misconfigured"}


# --- Reading the request: size cap before verification, hostile JSON answered 4xx, never 500 ----------


def test_a_declared_oversized_body_is_refused_before_reading(client: httpx.Client, signer: Signer) -> None:
    body = b"[" + b" " * (MAX_BODY_BYTES + 10) + b"]"
    answer = client.post("/webhooks/sendgrid", content=body, headers=signer.headers(body))
    assert answer.status_code == 413


def test_a_streamed_oversized_body_is_cut_off(client: httpx.Client, signer: Signer) -> None:
    # No Content-Length: chunked, so only the running count can stop it.
    def chunks() -> Any:
        yield b"["
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536
        yield b"]"

    answer = client.post("/webhooks/sendgrid", content=chunks(), headers=signer.headers(b"[]"))
    assert answer.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps([{"event": "open", "sg_event_id": "x", "timestamp": 1, "delivery_id": 2**70}]).encode(),
        json.dumps([{"event": "open", "sg_event_id": "x", "timestamp": 1, "delivery_id": str(2**70)}]).encode(),
        json.dumps([{"event": "open", "sg_event_id": "x\u0000y", "timestamp": 1}]).encode(),
        json.dumps([{"event": "open\u0000", "sg_event_id": "y", "email": "a\u0000@b.c", "timestamp": 1}]).encode(),
        b'[{"event": "open", "sg_event_id": "z", "timestamp": ' + b"9" * 5000 + b"}]",
        json.dumps([[[[[[[[[[{"a": 1}]]]]]]]]]]).encode(),
        # Digits spelled as \u escapes: the body shows no run of digits, the string is one.
        b'[{"event": "open", "sg_event_id": "e", "timestamp": 1, "delivery_id": "' + b"\\u0039" * 25 + b'"}]',
        b'[{"event": "open", "sg_event_id": "n", "timestamp": 1, "delivery_id": "-9999999999999999999"}]',
        b'[{"event": "open", "sg_event_id": "i", "timestamp": 9223372036854775808}]',
    ],
    ids=[
        "deep",
        "huge-int",
        "huge-int-string",
        "nul-id",
        "nul-fields",
        "long-digits",
        "nested",
        "escaped-digits",
        "negative-digits",
        "int64-plus-one",
    ],
)
def test_hostile_json_is_a_client_error(client: httpx.Client, signer: Signer, body: bytes) -> None:
    answer = client.post("/webhooks/sendgrid", content=body, headers=signer.headers(body))
    assert answer.status_code == 400, answer.text


def test_good_events_still_pass(client: httpx.Client, signer: Signer, sent: dict[str, Any]) -> None:
    body = json.dumps([event(sent, "reader0@example.com", "delivered", 1)]).encode()
    answer = client.post("/webhooks/sendgrid", content=body, headers=signer.headers(body))
    assert answer.status_code == 200 and answer.json()["recorded"] == 1


def test_a_large_mixed_request_stores_each_event_once_and_acts_once(client, signer, sent, engine) -> None:
    # More events than one INSERT holds, repeats inside the request, events matched by address only (no
    # delivery id), events of nobody we know; then the same request again, as SendGrid retries it.
    events = [event(sent, "reader0@example.com", "open", n) for n in range(1200)]
    events += [event(sent, "reader0@example.com", "open", n) for n in range(5)]  # repeated in the request
    events += [
        event(sent, "reader1@example.com", "bounce", 1, type="bounce"),
        event(sent, "reader1@example.com", "spamreport", 2),  # the later event's reason wins
        {"email": "READER2@example.com", "event": "unsubscribe", "timestamp": 1764230400, "sg_event_id": "by-address"},
        {"email": "stranger@example.org", "event": "bounce", "timestamp": 1764230400, "sg_event_id": "stranger"},
        {"event": "delivered", "timestamp": 1764230400, "sg_event_id": "unknown", "delivery_id": "99999999"},
    ]
    first = post(client, signer, events).json()
    assert first == {"recorded": 1205, "duplicates": 5, "unmatched": 3, "invalid": 0}
    again = post(client, signer, events).json()
    assert again == {"recorded": 0, "duplicates": 1210, "unmatched": 0, "invalid": 0}
    with Session(engine) as session:
        stored = session.exec(select(DeliveryEvent.event_id)).all()
        statuses = dict(session.exec(select(Subscriber.email, Subscriber.status)).all())
        suppressed = {s.email: s.reason for s in session.exec(select(Suppression))}
        subscriptions = dict(session.exec(select(Subscriber.email, Subscription.status).join(Subscription)).all())
        consent = session.exec(select(ConsentEvent).where(ConsentEvent.source == "webhook")).all()
    assert len(stored) == len(set(stored)) == 1205
    assert statuses["reader1@example.com"] == "complained" and suppressed == {"reader1@example.com": "complained"}
    assert subscriptions["reader2@example.com"] == "unsubscribed" and subscriptions["reader0@example.com"] == "active"
    assert [c.detail for c in consent] == ["unsubscribe"], "the retried request acts no more"


def _status(engine: Engine, delivery_id: int) -> str:
    with Session(engine) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery.status


def test_an_event_settles_an_uncertain_delivery(client, signer, sent, engine) -> None:
    ids = sent["deliveries"]
    with Session(engine) as session:
        for delivery in session.exec(select(Delivery)):
            delivery.status = "uncertain"
            session.add(delivery)
        session.commit()
    events = [
        event(sent, "reader0@example.com", "processed", 1),
        event(sent, "reader1@example.com", "dropped", 2, reason="Bounced Address"),
    ]
    assert post(client, signer, events).status_code == 200
    assert _status(engine, ids["reader0@example.com"]) == "sent", "the provider had it"
    assert _status(engine, ids["reader1@example.com"]) == "failed", "the provider refused it"
    assert _status(engine, ids["reader2@example.com"]) == "uncertain", "no event: still unknown"


def _stored_events(engine: Engine) -> dict[str, int | None]:
    with Session(engine) as session:
        return dict(session.exec(select(DeliveryEvent.event_id, DeliveryEvent.delivery_id)).all())


def test_an_erased_readers_events_go_with_their_deliveries(client, signer, sent, engine, run_cli) -> None:
    # The events' delivery key has no foreign key (the webhook's INSERT takes it from the delivery it joins):
    # the trigger on delivery does what the key's cascade did.
    events = [
        event(sent, email, kind, n) for n, email in enumerate(sent["deliveries"]) for kind in ("delivered", "open")
    ]
    events.append({"event": "delivered", "timestamp": 1764230400, "sg_event_id": "nobody", "delivery_id": "99999999"})
    assert post(client, signer, events).json()["recorded"] == 7
    assert run_cli("subscribers", "remove", "reader1@example.com", "--erase").exit_code == 0
    left = _stored_events(engine)
    assert len(left) == 5 and not any("reader1" in event_id for event_id in left)
    assert left["nobody"] is None, "an event of no delivery we know is kept, as it was stored"
    stats = json.loads(run_cli("stats", "--json").output)["editions"][0]
    assert (stats["recipients"], stats["delivered"], stats["opened"]) == (2, 2, 2)


def _open_every_delivery(connection: Connection) -> None:
    """An open event for every delivery, stored straight in the table."""
    connection.execute(
        text(
            "INSERT INTO delivery_event (event_id, delivery_id, edition_id, event, occurred_at, received_at) "
            "SELECT 'e' || id, id, edition_id, 'open', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM delivery"
        )
    )


def test_a_dropped_deliverys_events_go_with_it(engine, sent) -> None:
    # Deleting deliveries straight (many rows in one statement) and through a cascade from their edition.
    with engine.begin() as connection:
        _open_every_delivery(connection)
        reader0 = sent["deliveries"]["reader0@example.com"]
        connection.execute(text("DELETE FROM delivery WHERE id = :id"), {"id": reader0})
    assert sorted(_stored_events(engine).values()) == sorted(set(sent["deliveries"].values()) - {reader0})
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM edition"))
    assert _stored_events(engine) == {}


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_events_trigger_finds_its_schema_from_any_search_path(engine, sent) -> None:
    with engine.begin() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        _open_every_delivery(connection)
        connection.execute(text("SET LOCAL search_path TO public"))
        connection.execute(text(f'DELETE FROM "{schema}".delivery'))
        connection.execute(text(f'SET LOCAL search_path TO "{schema}"'))
    assert _stored_events(engine) == {}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
