"""The delivery ledger: each reader once, retries and backoff, uncertain outcomes, dry runs and test sends."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from digest.db import init_database, make_engine
from digest.delivery import MAX_ATTEMPTS, Mailing, Pacing, SendOptions, dry_run, send_edition, send_test
from digest.errors import ConfigError, DigestError, EditionError, MailError, NothingToSend
from digest.links import Links
from digest.mail.outbox import OutboxBackend
from digest.mail.sendgrid import SendGridBackend
from digest.mail.smtp import SmtpBackend
from digest.models import Delivery, Edition
from digest.settings import Settings
from subscribers.models import Subscriber, Subscription
from tests.seed import SUBJECT, add_readers, seed_edition
from tests.servers.sendgrid import Answer, SendGridStandIn, expand


class FakeTime:
    """Sleep and monotonic clock for the sender: sleeping only moves the clock forward."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def pacing(self, jitter: float = 0.5) -> Pacing:
        return Pacing(sleep=self.sleep, monotonic=lambda: self.now, jitter=lambda: jitter)


def mailing(engine: Engine, settings: Settings, backend: Any, edition_id: int) -> Mailing:
    """The edition through ``backend``, addressed as ``settings`` say."""
    links = Links(settings.base_url, settings.signing_keys())
    return Mailing(engine, edition_id, backend, links, settings.from_address, settings.language)


def _send(engine: Engine, settings: Settings, backend: Any, edition_id: int, **kwargs: Any) -> Any:
    try:
        return send_edition(mailing(engine, settings, backend, edition_id), **kwargs)
    finally:
        backend.close()


def _statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(dict(session.exec(select(Delivery.status, func.count()).group_by(col(Delivery.status))).all()))


def _sendgrid(server: SendGridStandIn) -> SendGridBackend:
    return SendGridBackend(api_key=server.api_key, host=server.url, timeout=1)


@pytest.fixture
def edition(engine: Engine) -> int:
    add_readers(engine, 25)
    return seed_edition(engine)


def test_each_reader_once_then_nothing_to_send(engine: Engine, settings: Settings, edition: int) -> None:
    backend = OutboxBackend(settings.outbox_dir)
    report = _send(engine, settings, backend, edition, options=SendOptions(batch_size=7))
    assert report.this_run["sent"] == 25 and report.finished
    assert len(list(settings.outbox_dir.rglob("*.eml"))) == 25
    with pytest.raises(NothingToSend, match="already sent to everyone"):
        _send(engine, settings, backend, edition)
    with Session(engine) as session:
        edition_row = session.get(Edition, edition)
        assert edition_row is not None and edition_row.status == "sent"
        assert {d.attempts for d in session.exec(select(Delivery))} == {1}


def test_readers_added_later_get_the_edition_on_the_next_run(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    _send(engine, settings, _sendgrid(sendgrid_server), edition)
    add_readers(engine, 3, start=100)
    report = _send(engine, settings, _sendgrid(sendgrid_server), edition)
    assert report.newly_queued == 3 and report.this_run["sent"] == 3
    addresses = [m.to for m in sendgrid_server.messages]
    assert len(addresses) == len(set(addresses)) == 28


def test_each_reader_gets_their_language_and_format(engine: Engine, settings: Settings) -> None:
    add_readers(engine, 2, language="en")
    add_readers(engine, 2, start=10, fmt="text")
    add_readers(engine, 1, start=20, language="ar")
    add_readers(engine, 1, start=30, sections="sport,economie")
    add_readers(engine, 1, start=40, sections="culture")
    edition = seed_edition(engine, languages=("fr", "en"), section_variants=("economie,sport",))
    with SendGridStandIn() as server:
        _send(engine, settings, _sendgrid(server), edition)
        got = {m.to: m for m in server.messages}
    assert got["reader0@example.com"].subject == f"{SUBJECT} (en)"
    assert got["reader10@example.com"].subject == SUBJECT and got["reader10@example.com"].html is None
    assert got["reader20@example.com"].subject == SUBJECT, "no ar variant: the default language"
    assert got["reader20@example.com"].html is not None
    assert got["reader30@example.com"].subject == f"{SUBJECT} (fr:economie+sport)", "their sections"
    assert got["reader40@example.com"].subject == SUBJECT, "no variant for their sections: every section"


def test_readers_of_one_variant_share_requests_whatever_order_they_joined_in(
    engine: Engine, settings: Settings
) -> None:
    for i in range(6):
        add_readers(engine, 1, start=i, language="en" if i % 2 else "fr")
    edition = seed_edition(engine, languages=("fr", "en"))
    with SendGridStandIn() as server:
        _send(engine, settings, _sendgrid(server), edition, options=SendOptions(batch_size=3))
        subjects = [{m.subject for m in expand(request)} for request in server.requests]
    assert sorted(len(r["personalizations"]) for r in server.requests) == [3, 3], "not 2+1+1+2"
    assert sorted(map(sorted, subjects)) == [[SUBJECT], [f"{SUBJECT} (en)"]]


def test_rate_limits_and_server_errors_are_retried_with_backoff(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    sendgrid_server.script(Answer.rate_limited(reset_in=30), Answer(500), Answer(502))
    fake = FakeTime()
    report = _send(engine, settings, _sendgrid(sendgrid_server), edition, pacing=fake.pacing())
    assert report.this_run["sent"] == 25 and _statuses(engine) == {"sent": 25}
    assert len(sendgrid_server.messages) == 25
    first, second, third = fake.sleeps
    assert 28 <= first <= 32, "waits until X-RateLimit-Reset"
    assert second == pytest.approx(1.5) and third == pytest.approx(3.0), "exponential (2 s, 4 s) with jitter"


def test_a_provider_that_stays_down_stops_the_run_and_keeps_readers_queued(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    sendgrid_server.script(*[Answer(503, {"errors": [{"message": "maintenance"}]})] * 3)
    fake = FakeTime()
    with pytest.raises(MailError, match=r"503.*maintenance"):
        _send(
            engine, settings, _sendgrid(sendgrid_server), edition, pacing=fake.pacing(), options=SendOptions(retries=2)
        )
    assert len(fake.sleeps) == 2
    assert _statuses(engine) == {"queued": 25}
    report = _send(engine, settings, _sendgrid(sendgrid_server), edition)
    assert report.this_run["sent"] == 25
    with Session(engine) as session:
        assert {d.attempts for d in session.exec(select(Delivery))} == {1}, "a stopped run's claim does not count"


def test_a_refused_key_stops_at_once(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    backend = SendGridBackend(api_key="SG.revoked", host=sendgrid_server.url, timeout=1)
    with pytest.raises(MailError, match="401"):
        _send(engine, settings, backend, edition, pacing=FakeTime().pacing())
    assert _statuses(engine) == {"queued": 25}


def test_a_refused_request_fails_its_readers_with_the_reason(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    sendgrid_server.script(Answer(400, {"errors": [{"message": "The from address does not match a verified Sender"}]}))
    report = _send(engine, settings, _sendgrid(sendgrid_server), edition, options=SendOptions(batch_size=10))
    assert report.this_run == {"failed": 10, "sent": 15}
    with Session(engine) as session:
        failed = session.exec(select(Delivery).where(Delivery.status == "failed")).all()
    assert all("verified Sender" in (d.error or "") for d in failed)


def test_a_request_too_large_is_split(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    sendgrid_server.script(Answer(413, {"errors": [{"message": "too large"}]}))
    report = _send(engine, settings, _sendgrid(sendgrid_server), edition)
    assert report.this_run["sent"] == 25
    assert [len(r["personalizations"]) for r in sendgrid_server.requests] == [12, 13]


def test_a_split_batch_keeps_its_sent_half_when_the_provider_then_refuses_the_key(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    sendgrid_server.script(Answer(413, {"errors": [{"message": "too large"}]}), Answer(), Answer(401))
    with pytest.raises(MailError, match="401"):
        _send(engine, settings, _sendgrid(sendgrid_server), edition)
    assert _statuses(engine) == {"sent": 12, "queued": 13}
    sent_to = {message.to for message in sendgrid_server.messages}
    report = _send(engine, settings, _sendgrid(sendgrid_server), edition)
    assert report.this_run == {"sent": 13}
    assert len(sendgrid_server.messages) == 25 and not sent_to & {m.to for m in sendgrid_server.messages[12:]}


def test_no_answer_makes_the_batch_uncertain_and_it_is_never_resent_unless_asked(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    sendgrid_server.script(Answer(stall=5))
    report = _send(engine, settings, _sendgrid(sendgrid_server), edition, options=SendOptions(batch_size=10))
    assert report.this_run == {"uncertain": 10, "sent": 15}
    # Nothing left to send, but not done either: the run says so instead of "nothing to do".
    rerun = _send(engine, settings, _sendgrid(sendgrid_server), edition)
    assert rerun.this_run.total() == 0
    assert "10 uncertain" in (rerun.needs_attention or "")
    assert len(sendgrid_server.messages) == 25
    again = _send(engine, settings, _sendgrid(sendgrid_server), edition, options=SendOptions(retry_uncertain=True))
    assert again.requeued_uncertain == 10 and again.this_run["sent"] == 10
    assert _statuses(engine) == {"sent": 25}


def test_max_rate_spaces_the_batches(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    fake = FakeTime()
    options = SendOptions(batch_size=5, max_rate=10)
    _send(engine, settings, _sendgrid(sendgrid_server), edition, options=options, pacing=fake.pacing())
    assert fake.sleeps == [pytest.approx(0.5)] * 4, "5 batches of 5 at 10/s: 4 waits of half a second"


def _attempts_by_status(engine: Engine) -> dict[str, set[int]]:
    with Session(engine) as session:
        rows = session.exec(select(Delivery.status, Delivery.attempts)).all()
    by_status: dict[str, set[int]] = {}
    for status, attempts in rows:
        by_status.setdefault(status, set()).add(attempts)
    return by_status


def test_a_stop_between_batches_records_what_was_sent_and_mails_nobody_twice(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    # The stop is asked for as soon as the first batch is recorded.
    recorded: list[int] = []
    with pytest.raises(DigestError, match="stopped on request"):
        _send(
            engine,
            settings,
            _sendgrid(sendgrid_server),
            edition,
            options=SendOptions(batch_size=5),
            on_progress=recorded.append,
            should_stop=lambda: bool(recorded),
        )
    assert recorded == [5], "no batch is claimed after the stop"
    assert _statuses(engine) == {"sent": 5, "queued": 20}
    assert _attempts_by_status(engine) == {"sent": {1}, "queued": {0}}
    report = _send(engine, settings, _sendgrid(sendgrid_server), edition, options=SendOptions(batch_size=5))
    assert report.this_run == {"sent": 20} and report.finished
    addresses = [m.to for m in sendgrid_server.messages]
    assert len(addresses) == len(set(addresses)) == 25


def test_a_refusal_stops_the_run_and_leaves_the_rest_queued(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    # The second request is refused: the key was revoked mid-run.
    sendgrid_server.script(Answer(), Answer(401, {"errors": [{"message": "key revoked"}]}))
    with pytest.raises(MailError, match="401"):
        _send(engine, settings, _sendgrid(sendgrid_server), edition, options=SendOptions(batch_size=5))
    assert _statuses(engine) == {"sent": 5, "queued": 20}
    assert _attempts_by_status(engine) == {"sent": {1}, "queued": {0}}, "no claim of a stopped run counts"
    report = _send(engine, settings, _sendgrid(sendgrid_server), edition, options=SendOptions(batch_size=5))
    assert report.this_run == {"sent": 20} and report.finished
    addresses = [m.to for m in sendgrid_server.messages]
    assert len(addresses) == len(set(addresses)) == 25


def test_smtp_temporary_refusals_are_retried_then_failed(engine: Engine, settings: Settings, smtp_server: Any) -> None:
    add_readers(engine, 4)
    edition = seed_edition(engine)
    smtp_server.handler.refuse["reader1@example.com"] = (450, "4.2.0 mailbox busy")
    smtp_server.handler.refuse["reader2@example.com"] = (550, "5.1.1 unknown")
    report = _send(engine, settings, SmtpBackend(smtp_server.url(), timeout=5), edition)
    with Session(engine) as session:
        rows = {d.subscriber_id: d for d in session.exec(select(Delivery))}
    by_status = Counter(d.status for d in rows.values())
    assert by_status == {"sent": 2, "failed": 2}
    busy = next(d for d in rows.values() if "mailbox busy" in (d.error or ""))
    assert busy.attempts == MAX_ATTEMPTS
    assert report.this_run["sent"] == 2 and len(smtp_server.handler.received) == 2


def test_a_draft_is_refused(engine: Engine, settings: Settings) -> None:
    add_readers(engine, 1)
    edition = seed_edition(engine, status="draft")
    with pytest.raises(EditionError, match="draft"):
        _send(engine, settings, OutboxBackend(settings.outbox_dir), edition)
    assert _statuses(engine) == {}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_workers_need_postgresql(engine: Engine, settings: Settings, edition: int) -> None:
    with pytest.raises(ConfigError, match="--workers needs PostgreSQL"):
        _send(engine, settings, OutboxBackend(settings.outbox_dir), edition, options=SendOptions(workers=2))


def test_dry_run_stores_nothing_and_sendgrid_checks_in_sandbox(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    report = dry_run(mailing(engine, settings, _sendgrid(sendgrid_server), edition), options=SendOptions(batch_size=10))
    assert report.total == 25 and report.checked_by_provider
    assert report.sample[:2] == ["reader0@example.com", "reader1@example.com"]
    assert _statuses(engine) == {}, "no ledger row"
    assert len(sendgrid_server.requests) == 3
    assert all(m.sandbox for m in sendgrid_server.messages)


def test_dry_run_with_the_outbox_writes_nothing(engine: Engine, settings: Settings, edition: int) -> None:
    report = dry_run(mailing(engine, settings, OutboxBackend(settings.outbox_dir), edition))
    assert report.total == 25 and not report.checked_by_provider
    assert not settings.outbox_dir.exists()
    assert _statuses(engine) == {}


def test_test_send_goes_only_to_the_test_addresses(
    engine: Engine, settings: Settings, sendgrid_server: SendGridStandIn
) -> None:
    add_readers(engine, 5)
    edition = seed_edition(engine, status="draft")
    addresses = ["editor@example.com", "editor@example.com", "chief@example.com"]
    results = send_test(mailing(engine, settings, _sendgrid(sendgrid_server), edition), addresses)
    assert [r.recipient.email for r in results] == ["editor@example.com", "chief@example.com"]
    assert {m.to for m in sendgrid_server.messages} == {"editor@example.com", "chief@example.com"}
    assert all(m.subject == f"[TEST] {SUBJECT}" for m in sendgrid_server.messages)
    assert _statuses(engine) == {}


def test_progress_is_reported_per_batch(engine: Engine, settings: Settings, edition: int) -> None:
    seen: list[tuple[str, int]] = []
    start: Callable[[int], None] = lambda total: seen.append(("start", total))  # noqa: E731
    _send(
        engine,
        settings,
        OutboxBackend(settings.outbox_dir),
        edition,
        options=SendOptions(batch_size=10),
        on_start=start,
        on_progress=lambda n: seen.append(("batch", n)),
    )
    # A backend answering message by message starts with one reader and doubles its claims up to the batch size.
    assert seen == [("start", 25), ("batch", 1), ("batch", 2), ("batch", 4), ("batch", 8), ("batch", 10)]


def _send_one_batch_then_stop(engine: Engine, settings: Settings, server: SendGridStandIn, edition: int) -> None:
    """A send asked to stop (as by SIGTERM) once its first batch of 10 is in flight."""
    asked = iter([False, True])
    options = SendOptions(batch_size=10)
    _send(engine, settings, _sendgrid(server), edition, options=options, should_stop=lambda: next(asked, True))


def test_a_stop_request_finishes_the_batch_in_flight_and_keeps_the_rest_queued(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    with pytest.raises(DigestError, match="stopped on request"):
        _send_one_batch_then_stop(engine, settings, sendgrid_server, edition)
    assert _statuses(engine) == {"sent": 10, "queued": 15}, "nobody uncertain after a stop"
    assert len(sendgrid_server.messages) == 10


def test_readers_who_left_after_being_queued_are_skipped(
    engine: Engine, settings: Settings, edition: int, sendgrid_server: SendGridStandIn
) -> None:
    with pytest.raises(DigestError):
        _send_one_batch_then_stop(engine, settings, sendgrid_server, edition)
    with Session(engine) as session:
        gone = session.exec(select(Subscriber).where(Subscriber.email == "reader20@example.com")).one()
        gone.status = "bounced"
        left = session.exec(
            select(Subscription).join(Subscriber).where(Subscriber.email == "reader21@example.com")
        ).one()
        left.status = "unsubscribed"
        session.add_all([gone, left])
        session.commit()
    report = _send(engine, settings, _sendgrid(sendgrid_server), edition)
    assert report.this_run == {"sent": 13, "skipped": 2}
    received = {m.to for m in sendgrid_server.messages}
    assert len(received) == 23 and not received & {"reader20@example.com", "reader21@example.com"}
    assert _statuses(engine) == {"sent": 23}, "their queued deliveries are gone: a later return re-queues them"


def test_a_database_that_stays_locked_stops_the_send_with_one_line_and_loses_nobody(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    settings = Settings(_env_file=None, database_url=url, outbox_dir=tmp_path / "outbox", secret_key="test-secret")  # type: ignore[call-arg]
    init_database(make_engine(url), default_list="quotidien")
    # A short busy timeout: the lock below is held for the whole claim.
    engine = make_engine(url, connect_args={"timeout": 0.2})
    add_readers(engine, 5)
    edition = seed_edition(engine)
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    with pytest.raises(DigestError, match=r"^database: database is locked$"):
        send_edition(
            mailing(engine, settings, OutboxBackend(settings.outbox_dir), edition),
            on_start=lambda _waiting: blocker.execute("BEGIN EXCLUSIVE"),
        )
    blocker.execute("ROLLBACK")
    blocker.close()
    report = _send(engine, settings, OutboxBackend(settings.outbox_dir), edition)
    assert report.this_run == {"sent": 5} and _statuses(engine) == {"sent": 5}
    engine.dispose()


def test_smtp_claims_grow_from_one_reader_and_stay_under_smtps_cap(
    engine: Engine, settings: Settings, smtp_server: Any
) -> None:
    add_readers(engine, 250)
    edition = seed_edition(engine)
    batches: list[int] = []
    backend = SmtpBackend(smtp_server.url(), timeout=5)
    send_edition(mailing(engine, settings, backend, edition), on_progress=batches.append)
    backend.close()
    assert batches[0] == 1, "the first claim is one reader: the server's pace is not known yet"
    assert sum(batches) == 250 and max(batches) <= 200, "the default 1000 readers per request is capped at 200"
    assert len(smtp_server.handler.received) == 250
