"""`digest send` and `digest stats` from the command line: options, summaries, exit codes, progress."""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.delivery import sender_lock
from digest.models import Delivery
from digest.progress import SendProgress
from tests.seed import DAY, SUBJECT, add_readers, seed_edition

STATS_KEYS = {
    "date",
    "list",
    "kind",
    "status",
    "recipients",
    "queued",
    "sent",
    "failed",
    "uncertain",
    "delivered",
    "bounced",
    "opened",
    "clicked",
    "unsubscribed",
}


@pytest.fixture
def ready(engine: Engine) -> int:
    add_readers(engine, 6)
    return seed_edition(engine)


def _deliveries(engine: Engine) -> list[Delivery]:
    with Session(engine) as session:
        return list(session.exec(select(Delivery)))


def test_send_prints_a_summary_and_logs_progress_without_a_terminal(run_cli, ready, engine) -> None:
    result = run_cli("send", "--date", DAY.isoformat())
    assert result.exit_code == 0, result.output
    assert "sending to 6 readers" in result.stderr
    assert result.stderr.count("6/6 messages out") == 1, "the last line once"
    assert (
        f"{DAY} quotidien: sent 6, failed 0, uncertain 0, skipped 0 (left the list), still queued 0 this run"
        in result.stdout
    )
    assert "edition totals: 6 sent, 0 failed, 0 uncertain, 0 queued" in result.stdout
    assert re.search(r"^sending took \d+\.\d{3} s, [\d,]+ readers/s$", result.stdout, re.MULTILINE)
    again = run_cli("send", "--date", DAY.isoformat())
    assert again.exit_code == 3 and "already sent to everyone" in again.stderr


def test_dry_run_prints_what_would_go_and_stores_nothing(run_cli, ready, engine, settings) -> None:
    result = run_cli("send", "--date", DAY.isoformat(), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would go to 6 readers; nothing was sent" in result.stdout
    assert f"6  {SUBJECT} (html)" in result.stdout
    assert "first: reader0@example.com" in result.stdout
    assert _deliveries(engine) == []
    assert not settings.outbox_dir.exists()


def test_test_to_sends_only_there_with_a_test_subject(run_cli, ready, engine, settings) -> None:
    result = run_cli(
        "send", "--date", DAY.isoformat(), "--test-to", "Editor@Example.com", "--test-to", "chief@example.com"
    )
    assert result.exit_code == 0, result.output
    assert "test Editor@example.com: sent" in result.stdout
    files = sorted(settings.outbox_dir.rglob("test-*.eml"))
    assert len(files) == 2
    messages = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]
    assert {m["Subject"] for m in messages} == {f"[TEST] {SUBJECT}"}
    assert _deliveries(engine) == []


def test_a_bad_test_address_is_a_usage_error(run_cli, ready) -> None:
    result = run_cli("send", "--date", DAY.isoformat(), "--test-to", "not-an-address")
    assert result.exit_code == 2
    assert "--test-to" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_second_send_on_sqlite_says_already_sending(run_cli, ready, engine) -> None:
    with sender_lock(engine):
        result = run_cli("send", "--date", DAY.isoformat())
    assert result.exit_code == 1
    assert "already sending" in result.stderr
    assert {d.status for d in _deliveries(engine)} <= {"queued"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_workers_on_sqlite_is_a_clear_error(run_cli, ready) -> None:
    result = run_cli("send", "--date", DAY.isoformat(), "--workers", "4")
    assert result.exit_code == 1
    assert "--workers needs PostgreSQL" in result.stderr


def test_any_failure_exits_1_with_the_reason(run_cli, ready, smtp_server: Any) -> None:
    smtp_server.handler.refuse["reader3@example.com"] = (550, "5.1.1 no such mailbox")
    env = {"DIGEST_MAIL_BACKEND": "smtp", "DIGEST_SMTP_URL": smtp_server.url()}
    result = run_cli("send", "--date", DAY.isoformat(), env=env)
    assert result.exit_code == 1
    assert "sent 5, failed 1" in result.stdout
    assert "reader3@example.com: smtp refused the reader: 550 5.1.1 no such mailbox" in result.stderr


def test_a_provider_down_exits_1_and_keeps_everyone_queued(run_cli, ready, engine, sendgrid_server) -> None:
    from tests.servers.sendgrid import Answer

    sendgrid_server.script(*[Answer(500, {"errors": [{"message": "internal"}]})] * 2)
    env = {
        "DIGEST_MAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": sendgrid_server.api_key,
        "DIGEST_SENDGRID_HOST": sendgrid_server.url,
        "DIGEST_SEND_RETRIES": "0",
    }
    result = run_cli("send", "--date", DAY.isoformat(), env=env)
    assert result.exit_code == 1
    assert "error: sendgrid answered 500" in result.stderr and "internal" in result.stderr
    assert {d.status for d in _deliveries(engine)} == {"queued"}


def test_stats_json_has_the_design_shape(run_cli, ready) -> None:
    assert run_cli("send", "--date", DAY.isoformat()).exit_code == 0
    stats = json.loads(run_cli("stats", "--json").stdout)
    assert list(stats) == ["editions"]
    (row,) = stats["editions"]
    assert set(row) == STATS_KEYS
    assert row["date"] == DAY.isoformat() and row["status"] == "sent" and row["sent"] == 6
    text = run_cli("stats").stdout
    assert "sent 6" in text and "delivered 0" in text
    assert "Rates of the last editions" in text and f"{DAY.isoformat()} quotidien" in text  # the rich chart
    assert "0.0%" in text and "delivered" in text.split("Rates of the last editions")[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_progress_is_a_bar_with_rate_and_eta() -> None:
    stream = Terminal()
    ticks = iter(range(100))
    with SendProgress("2025-11-27 quotidien", stream, monotonic=lambda: float(next(ticks))) as progress:
        progress.start(1000)
        progress.advance(500)
    shown = stream.getvalue()
    assert "2025-11-27 quotidien" in shown
    assert "1000" in shown and "ETA" in shown and "/s" in shown
