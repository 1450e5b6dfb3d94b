"""The cron run's send under crashes and stops, with real processes: `digest send` killed with SIGKILL
or stopped with SIGTERM mid-send on a slow SMTP server; a dry run that writes nothing."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, distinct, func
from sqlmodel import Session, col, select

from digest.models import Delivery, Edition
from subscribers.models import Subscriber
from tests.processes import digest, smtp_env, wait_for_messages
from tests.seed import DAY, add_readers, seed_edition
from tests.servers.smtp import SmtpStandIn

SQLITE_ONLY = ["sqlite"]


def statuses_by_reader(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return dict(session.exec(select(Subscriber.email, Delivery.status).join(Delivery)).all())


@pytest.mark.parametrize("database_url", SQLITE_ONLY, indirect=True)
def test_a_killed_send_leaves_at_most_the_message_in_flight_uncertain(
    engine: Engine, settings: Any, tmp_path: Path
) -> None:
    add_readers(engine, 50)
    seed_edition(engine)
    with SmtpStandIn(tmp_path) as server:
        server.handler.delay = 0.3
        env = smtp_env(settings.database_url, server)
        first = digest(["send", "--date", DAY.isoformat()], env, tmp_path)
        wait_for_messages(server, 10, first)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        left_before = len(server.handler.received)

        rerun = digest(["send", "--date", DAY.isoformat()], env, tmp_path)
        _, err = rerun.communicate(timeout=120)
        statuses = statuses_by_reader(engine)
        uncertain = [email for email, status in statuses.items() if status == "uncertain"]
        assert rerun.returncode == (1 if uncertain else 0), err
        if uncertain:
            assert err.strip().splitlines()[-1].startswith(f"readers not done: {len(uncertain)} uncertain")

        # Run again: never "nothing to do" (3) nor "done" (0) while a reader is uncertain.
        again = digest(["send", "--date", DAY.isoformat()], env, tmp_path)
        again.communicate(timeout=60)
        assert again.returncode == (1 if uncertain else 3)

    received = Counter(address for message in server.handler.received for address in message.rcpt_tos)
    assert max(received.values()) == 1, "nobody twice"
    assert set(statuses.values()) <= {"sent", "uncertain"}
    assert len(uncertain) <= 3, f"{len(uncertain)} uncertain after a kill at {left_before} messages"
    _ledger_matches_the_server(statuses, received)


def _ledger_matches_the_server(statuses: dict[str, str], received: Counter[str]) -> None:
    """Every reader marked sent reached the server; every one the server got is sent or uncertain."""
    sent = {email for email, status in statuses.items() if status == "sent"}
    uncertain = {email for email, status in statuses.items() if status == "uncertain"}
    assert sent <= set(received) <= sent | uncertain


@pytest.mark.parametrize("database_url", SQLITE_ONLY, indirect=True)
def test_sigterm_leaves_a_truthful_edition_and_nobody_uncertain(engine: Engine, settings: Any, tmp_path: Path) -> None:
    add_readers(engine, 20)
    seed_edition(engine)
    with SmtpStandIn(tmp_path) as server:
        server.handler.delay = 0.1
        run = digest(["send", "--date", DAY.isoformat()], smtp_env(settings.database_url, server), tmp_path)
        wait_for_messages(server, 3, run)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=30)
    assert run.returncode == 1
    assert "stopped on request" in err.strip().splitlines()[-1]
    statuses = Counter(statuses_by_reader(engine).values())
    assert set(statuses) == {"sent", "queued"} and statuses["sent"] == len(server.handler.received)
    with Session(engine) as session:
        assert session.exec(select(Edition.status)).one() == "approved", "no longer sending: back to approved"


@pytest.mark.parametrize("database_url", SQLITE_ONLY, indirect=True)
def test_a_dry_run_writes_nothing(run_cli, engine: Engine) -> None:
    add_readers(engine, 4)
    before = run_cli("stats", "--json").stdout
    dry = run_cli("send", "--date", "2025-11-27", "--dry-run", env={"DIGEST_AUTO_APPROVE": "1"})
    assert dry.exit_code == 0, dry.output
    assert "would go to 4 readers" in dry.stdout
    assert run_cli("stats", "--json").stdout == before, "not even the edition it built is stored"

    assert run_cli("build", "--date", "2025-11-27").exit_code == 0
    before = run_cli("stats", "--json").stdout
    dry = run_cli("send", "--date", "2025-11-27", "--dry-run", env={"DIGEST_AUTO_APPROVE": "1"})
    assert dry.exit_code == 0, dry.output
    assert run_cli("stats", "--json").stdout == before, "the draft stays a draft, nobody is queued"


POSTGRES_ONLY = [pytest.param("postgresql", marks=pytest.mark.postgres)]


def _named(database_url: str, name: str) -> str:
    """``database_url`` with an application name, so the test finds this run's sessions and no other."""
    return database_url + ("&" if "?" in database_url else "?") + f"application_name={name}"


def _worker_pids(parent: int) -> list[int]:
    """The `--workers` processes of ``parent``: forked by its forkserver, a child of ``parent``."""
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        processes[int(entry.name)] = (int(stat[1]), command)
    servers = {pid for pid, (ppid, command) in processes.items() if ppid == parent and b"forkserver" in command}
    return [pid for pid, (ppid, _) in processes.items() if ppid in servers]


def _wait_for_senders(engine: Engine, count: int, run: Any) -> None:
    """Wait until ``count`` senders each hold deliveries in flight while ``run`` still goes."""
    deadline = time.monotonic() + 60
    while run.poll() is None and time.monotonic() < deadline:
        with Session(engine) as session:
            holding = session.exec(
                select(func.count(distinct(col(Delivery.claimed_by)))).where(col(Delivery.status) == "sending")
            ).one()
        if holding >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"{count} senders never held deliveries at once")


@pytest.mark.parametrize("database_url", POSTGRES_ONLY, indirect=True)
def test_a_killed_worker_is_seen_at_once_and_its_rows_settled(engine: Engine, settings: Any, tmp_path: Path) -> None:
    add_readers(engine, 60)
    seed_edition(engine)
    with SmtpStandIn(tmp_path) as server:
        server.handler.delay = 0.1
        env = smtp_env(settings.database_url, server)
        run = digest(["send", "--date", DAY.isoformat(), "--workers", "2"], env, tmp_path)
        wait_for_messages(server, 6, run)
        # Both workers holding a batch: on a loaded machine one may still be starting when the other has sent
        # six, and killing it then would leave nothing in flight to settle.
        _wait_for_senders(engine, 2, run)
        workers = _worker_pids(run.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        # A run started now sees the dead worker's rows at once: no 10-minute lease to wait for.
        other = digest(["send", "--date", DAY.isoformat()], env, tmp_path)
        other.communicate(timeout=120)
        _, err = run.communicate(timeout=120)
        assert run.returncode == 1, err
        statuses = statuses_by_reader(engine)
        assert "sending" not in statuses.values(), "nothing stays in flight once its sender is gone"
        uncertain = [email for email, status in statuses.items() if status == "uncertain"]
        # At most the dead worker's claim: half a second of sending at 0.1 s a message.
        assert 1 <= len(uncertain) <= 6
        rerun = digest(["send", "--date", DAY.isoformat()], env, tmp_path)
        _, rerun_err = rerun.communicate(timeout=60)
        assert rerun.returncode == 1, "uncertain readers remain"
        assert "uncertain" in rerun_err.strip().splitlines()[-1]
    received = Counter(address for message in server.handler.received for address in message.rcpt_tos)
    assert max(received.values()) == 1, "nobody twice"
    assert len(statuses) == 60
    _ledger_matches_the_server(statuses, received)


@pytest.mark.parametrize("database_url", POSTGRES_ONLY, indirect=True)
def test_a_lost_database_ends_the_run_in_one_line_and_the_rerun_settles(
    engine: Engine, settings: Any, tmp_path: Path
) -> None:
    from sqlalchemy import text

    add_readers(engine, 60)
    seed_edition(engine)
    name = f"digest-lost-{os.getpid()}-{time.monotonic_ns()}"
    with SmtpStandIn(tmp_path) as server:
        server.handler.delay = 0.1
        env = smtp_env(_named(settings.database_url, name), server)
        run = digest(["send", "--date", DAY.isoformat(), "--workers", "2"], env, tmp_path)
        wait_for_messages(server, 6, run)
        # The database drops every session of this run (as a restart would), and only those.
        with engine.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": name},
            )
            connection.commit()
        _, err = run.communicate(timeout=120)
        assert run.returncode == 1
        last = err.strip().splitlines()[-1]
        assert "lost the database" in last and "digest send" in last, err
        assert "Traceback" not in err

        rerun = digest(["send", "--date", DAY.isoformat()], env, tmp_path)
        _, rerun_err = rerun.communicate(timeout=120)
        statuses = statuses_by_reader(engine)
        assert "sending" not in statuses.values()
        uncertain = [email for email, status in statuses.items() if status == "uncertain"]
        assert rerun.returncode == (1 if uncertain else 0), rerun_err
    received = Counter(address for message in server.handler.received for address in message.rcpt_tos)
    assert max(received.values()) == 1, "nobody twice"
    _ledger_matches_the_server(statuses, received)


@pytest.mark.parametrize("database_url", SQLITE_ONLY, indirect=True)
def test_provider_events_settle_uncertain_readers_and_retry_waits_for_them(
    run_cli, engine: Engine, make_settings: Any, sendgrid_server: Any
) -> None:
    import json

    import httpx

    from digest.web.app import create_app
    from tests.servers.sendgrid import Answer
    from tests.servers.web import serve
    from tests.test_webhook import HOST, Signer

    add_readers(engine, 5)
    seed_edition(engine)
    env = {
        "DIGEST_MAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": sendgrid_server.api_key,
        "DIGEST_SENDGRID_HOST": sendgrid_server.url,
        "DIGEST_SEND_TIMEOUT": "0.5",
    }
    sendgrid_server.script(Answer(stall=3))
    first = run_cli("send", "--date", DAY.isoformat(), env=env)
    assert first.exit_code == 1
    with Session(engine) as session:
        ids = sorted(session.exec(select(Delivery.id).where(Delivery.status == "uncertain")).all())
    assert len(ids) == 5
    processed = [
        {"event": "processed", "sg_event_id": f"e{i}", "timestamp": 1764230400, "delivery_id": str(i)} for i in ids[:2]
    ]
    # SendGrid's signed event webhook reports two of them processed.
    signer = Signer()
    body = json.dumps(processed).encode()
    with serve(create_app(make_settings(sendgrid_webhook_public_key=signer.public), engine=engine)) as url:
        answer = httpx.post(f"{url}/webhooks/sendgrid", content=body, headers={**HOST, **signer.headers(body)})
    assert answer.json()["recorded"] == 2

    waiting = run_cli("send", "--date", DAY.isoformat(), "--retry-uncertain", env=env)
    assert waiting.exit_code == 1
    assert "retry-uncertain: 0 sent again; 3 skipped, left less than 1:00:00 ago" in waiting.stdout
    assert waiting.stderr.strip().splitlines()[-1].startswith("readers not done: 3 uncertain, 3 of them too recent")

    settled = run_cli(
        "send", "--date", DAY.isoformat(), "--retry-uncertain", env={**env, "DIGEST_UNCERTAIN_SETTLE": "0s"}
    )
    assert settled.exit_code == 0, settled.output
    assert "retry-uncertain: 3 sent again" in settled.stdout
    statuses = Counter(statuses_by_reader(engine).values())
    assert statuses == {"sent": 5}
    resent = Counter(message.to for message in sendgrid_server.messages)
    assert sum(resent.values()) == 8, "the two the provider reported were never sent again"
