"""The end-to-end run on embedded defaults: init, import, send to the outbox, send again."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from sqlmodel import Session, select

from digest.models import Delivery
from digest.settings import SAMPLE_SUBSCRIBERS
from tests.conftest import SAMPLE_DAY

REQUIRED_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe")


def _demo(run_cli) -> None:
    assert run_cli("init").exit_code == 0
    imported = run_cli("subscribers", "import", str(SAMPLE_SUBSCRIBERS), "--confirmed")
    assert imported.exit_code == 0, imported.output
    assert "5 added" in imported.output


def test_send_writes_one_rfc5322_message_per_reader(run_cli, settings) -> None:
    _demo(run_cli)
    result = run_cli("send", "--date", SAMPLE_DAY, env={"DIGEST_AUTO_APPROVE": "1"})
    assert result.exit_code == 0, result.output
    files = sorted((settings.outbox_dir / SAMPLE_DAY / "quotidien").glob("*.eml"))
    assert len(files) == 5
    recipients = set()
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for header in REQUIRED_HEADERS:
            assert message[header], f"{path.name} lacks {header}"
        assert message["List-Unsubscribe"].strip().startswith("<https://news.example.com/u/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.get_content_type() == "multipart/alternative"
        parts = list(message.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert all(p.get_content_charset() == "utf-8" for p in parts)
        html = parts[1].get_content()
        assert f"<title>{message['Subject']}</title>" in html
        assert "%%" not in html and "%%" not in parts[0].get_content()
        recipients.add(message["To"].addresses[0].addr_spec)
    assert len(recipients) == 5


def test_second_send_mails_nobody_twice(run_cli, settings, engine) -> None:
    _demo(run_cli)
    env = {"DIGEST_AUTO_APPROVE": "1"}
    assert run_cli("send", "--date", SAMPLE_DAY, env=env).exit_code == 0
    again = run_cli("send", "--date", SAMPLE_DAY, env=env)
    assert again.exit_code == 3
    assert "already sent to everyone" in again.output
    with Session(engine) as session:
        deliveries = session.exec(select(Delivery)).all()
    assert len(deliveries) == 5
    assert {d.status for d in deliveries} == {"sent"}
    assert len(list(Path(settings.outbox_dir).rglob("*.eml"))) == 5


def test_draft_is_not_sent_without_approval(run_cli) -> None:
    _demo(run_cli)
    assert run_cli("build", "--date", SAMPLE_DAY).exit_code == 0
    refused = run_cli("send", "--date", SAMPLE_DAY)
    assert refused.exit_code == 1
    assert "draft" in refused.output
    assert run_cli("approve", "--date", SAMPLE_DAY).exit_code == 0
    assert run_cli("send", "--date", SAMPLE_DAY).exit_code == 0


def test_day_without_articles_exits_3_and_names_the_newest_day(run_cli) -> None:
    _demo(run_cli)
    result = run_cli("build", "--date", "2026-01-05")
    assert result.exit_code == 3
    assert "nothing to send for 2026-01-05" in result.output
    assert "2025-11-27" in result.output


def test_init_is_idempotent(run_cli) -> None:
    assert run_cli("init").exit_code == 0
    again = run_cli("init")
    assert again.exit_code == 0
    listed = run_cli("lists", "list")
    assert listed.output.count("quotidien") == 1


def test_commands_need_init_first(run_cli) -> None:
    result = run_cli("subscribers", "list")
    assert result.exit_code == 1
    assert "digest init" in result.output
