"""The `digest subscribers` and `digest lists` commands, and `digest serve`'s checks, through the CLI runner."""

from __future__ import annotations

import csv
import io
import json

from tests.subscribers_helpers import link_in, read_messages


def test_add_without_confirmed_mails_a_confirmation_link(run_cli, settings) -> None:
    assert run_cli("init").exit_code == 0
    result = run_cli("subscribers", "add", "Amina@Example.com", "--name", "Amina", "--language", "ar")
    assert result.exit_code == 0, result.output
    assert "added: Amina@example.com on quotidien (pending)" in result.output
    (message,) = read_messages(settings.outbox_dir / "confirm" / "quotidien")
    assert message["Subject"] == "أكد اشتراكك في Quotidien"
    assert link_in(message, "c", settings.base_url)
    confirmed = run_cli("subscribers", "add", "john@example.net", "--confirmed")
    assert "(active)" in confirmed.output
    assert len(read_messages(settings.outbox_dir)) == 1


def test_add_rejects_bad_input_with_a_clear_message(run_cli) -> None:
    run_cli("init")
    for args, message in (
        (["bad-address"], "invalid email address"),
        (["a@example.com", "--language", "de"], "language 'de'"),
        (["a@example.com", "--list", "nope"], "no list 'nope'"),
    ):
        result = run_cli("subscribers", "add", *args)
        assert result.exit_code == 1
        assert message in result.output
        assert "Traceback" not in result.output


def test_list_json_export_and_remove(run_cli, tmp_path) -> None:
    run_cli("init")
    run_cli("subscribers", "add", "amina@example.com", "--name", "Amina", "--confirmed")
    run_cli("subscribers", "add", "john@example.net", "--confirmed")
    listed = json.loads(run_cli("subscribers", "list", "--json").stdout)
    assert [r["email"] for r in listed] == ["amina@example.com", "john@example.net"]
    assert listed[0]["frequency"] == "daily" and listed[0]["confirmed_at"]
    assert set(listed[0]) == {  # DESIGN's shape
        "email",
        "name",
        "language",
        "status",
        "sections",
        "frequency",
        "format",
        "paused_until",
        "timezone",
        "subscribed_at",
        "confirmed_at",
    }
    removed = run_cli("subscribers", "remove", "john@example.net")
    assert removed.exit_code == 0 and "unsubscribed john@example.net from 1 lists" in removed.output
    assert "already unsubscribed" in run_cli("subscribers", "remove", "john@example.net").output
    out = tmp_path / "readers.csv"
    exported = run_cli("subscribers", "export", "--output", str(out))
    assert exported.exit_code == 0 and "exported 2 subscribers" in exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["email"], r["status"]) for r in rows] == [
        ("amina@example.com", "active"),
        ("john@example.net", "unsubscribed"),
    ]
    erased = run_cli("subscribers", "remove", "amina@example.com", "--erase")
    assert erased.exit_code == 0 and "suppression hash kept" in erased.output
    assert "amina" not in run_cli("subscribers", "export").stdout
    again = run_cli("subscribers", "add", "amina@example.com")
    assert again.exit_code == 1 and "suppressed (erased)" in again.output
    assert run_cli("subscribers", "list", "--status", "bogus").exit_code == 1


def test_lists_add_and_list(run_cli) -> None:
    run_cli("init")
    assert run_cli("lists", "add", "hebdo", "--name", "L'hebdo").exit_code == 0
    assert "already exists" in run_cli("lists", "add", "hebdo").output
    assert "must be" in run_cli("lists", "add", "bad slug").output
    run_cli("subscribers", "add", "a@example.com", "--list", "hebdo", "--confirmed")
    listed = run_cli("lists", "list").output
    assert "hebdo\t1 active\tL'hebdo" in listed and "quotidien\t0 active" in listed


def test_serve_refuses_a_real_backend_without_a_secret_key(run_cli) -> None:
    run_cli("init")
    result = run_cli("serve", env={"DIGEST_MAIL_BACKEND": "smtp", "DIGEST_SECRET_KEY": ""})
    assert result.exit_code == 1
    assert "DIGEST_SECRET_KEY" in result.output
