"""A `digest send` killed with SIGKILL mid-run, then run again: nobody twice, sent + uncertain = everyone."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.models import Delivery
from subscribers.models import Subscriber
from tests.processes import digest
from tests.seed import DAY, add_readers, seed_edition
from tests.servers.sendgrid import Answer, SendGridStandIn

READERS = 200


def _env(settings, server: SendGridStandIn) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url,
        "DIGEST_MAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": server.api_key,
        "DIGEST_SENDGRID_HOST": server.url,
        "DIGEST_SECRET_KEY": "test-secret",
        "DIGEST_BASE_URL": "https://news.example.com",
    }


def _wait_until_sent(server: SendGridStandIn, count: int, run: subprocess.Popen[str]) -> None:
    """Wait until the provider has ``count`` messages while ``run`` is still going."""
    deadline = time.monotonic() + 60
    while len(server.messages) < count and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_killed_send_resumes_without_mailing_anyone_twice(engine: Engine, settings, tmp_path: Path) -> None:
    add_readers(engine, READERS)
    seed_edition(engine)
    with SendGridStandIn(delay=0.03) as server:
        # The tenth request (readers 46-50) is held unanswered: the kill lands while it is in flight, however
        # slowly this machine runs the test (a kill between two batches would leave nobody uncertain).
        server.script(*[Answer()] * 9, Answer(stall=60))
        env = _env(settings, server)
        first = digest(["send", "--date", DAY.isoformat(), "--batch-size", "5"], env, tmp_path)
        _wait_until_sent(server, 50, first)
        assert first.poll() is None, "the first run must still be sending when it is killed"
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        received_before = len(server.messages)
        assert 0 < received_before < READERS

        second = digest(["send", "--date", DAY.isoformat(), "--batch-size", "5"], env, tmp_path)
        out, err = second.communicate(timeout=120)
        assert second.returncode in (0, 1), err
        assert "interrupted earlier now uncertain" in out or second.returncode == 0

        # Everyone has an outcome, yet not every one is final: never "nothing to do" while any is uncertain.
        third = digest(["send", "--date", DAY.isoformat()], env, tmp_path)
        _, err3 = third.communicate(timeout=60)
        assert third.returncode == 1, err3
        assert err3.strip().splitlines()[-1].startswith("readers not done: ")
        assert "uncertain" in err3.strip().splitlines()[-1]

    received = Counter(m.to for m in server.messages)
    assert max(received.values()) == 1, "nobody is mailed twice"
    with Session(engine) as session:
        rows = session.exec(select(Subscriber.email, Delivery.status).join(Delivery)).all()
    statuses = Counter(status for _, status in rows)
    assert statuses["sent"] + statuses["uncertain"] == READERS, statuses
    sent = {email for email, status in rows if status == "sent"}
    uncertain = {email for email, status in rows if status == "uncertain"}
    assert sent <= set(received), "every delivery marked sent reached the provider"
    assert set(received) <= sent | uncertain


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sigterm_stops_after_the_batch_in_flight(engine: Engine, settings, tmp_path: Path) -> None:
    add_readers(engine, READERS)
    seed_edition(engine)
    with SendGridStandIn(delay=0.03) as server:
        env = _env(settings, server)
        run = digest(["send", "--date", DAY.isoformat(), "--batch-size", "5"], env, tmp_path)
        _wait_until_sent(server, 20, run)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=30)
    assert run.returncode == 1
    assert "stopped on request" in err
    with Session(engine) as session:
        statuses = Counter(d.status for d in session.exec(select(Delivery)))
    assert set(statuses) == {"sent", "queued"}, "a stop leaves nobody uncertain"
    assert statuses["sent"] == len(server.messages)
