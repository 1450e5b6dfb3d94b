"""The daily cron run as a new user meets it: the morning edition's window, what a waiting draft does, one
reader's bad data, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from digest.models import Delivery, Edition
from digest.settings import Settings
from digest.web.app import create_app
from digest.window import parse_day, rolling_window
from subscribers.models import Subscriber
from tests.feeds import write_feed
from tests.seed import add_readers

CASABLANCA = ZoneInfo("Africa/Casablanca")
# 07:00 in Casablanca (UTC+1): the morning run.
MORNING = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")


def _window(summary: dict[str, Any]) -> tuple[datetime, datetime]:
    start, end = summary["window"]
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


def _titles(summary: dict[str, Any]) -> set[str]:
    picks = [summary["featured"], *summary["headlines"]] if summary["featured"] else summary["headlines"]
    return {pick["title"] for pick in picks}


def test_rolling_windows_follow_each_other() -> None:
    day = date(2026, 11, 30)
    first = rolling_window(day=day, now=MORNING, tz=CASABLANCA, cutoff=time(6), previous_end=None)
    assert first == (MORNING - timedelta(hours=24), MORNING), "built on its day: ends at the build time"
    assert first[1].tzinfo is CASABLANCA, "in the publication's time zone"
    later = rolling_window(
        day=day + timedelta(days=1),
        now=MORNING + timedelta(days=3),
        tz=CASABLANCA,
        cutoff=time(6),
        previous_end=first[1],
    )
    cutoff = datetime(2026, 12, 1, 6, tzinfo=CASABLANCA)
    assert later == (first[1], cutoff), "built another day: ends at the cutoff, starts where the last one ended"
    after_gap = rolling_window(
        day=day + timedelta(days=5), now=MORNING, tz=CASABLANCA, cutoff=time(6), previous_end=first[1]
    )
    assert after_gap[1] - after_gap[0] == timedelta(hours=24), "more than 48 h since the last: 24 h"


def test_dates_today_yesterday_and_iso() -> None:
    today = date(2026, 11, 30)
    assert parse_day("today", today) == today
    assert parse_day("Yesterday", today) == date(2026, 11, 29)
    assert parse_day("2025-11-27", today) == date(2025, 11, 27)
    with pytest.raises(ValueError, match="today, yesterday or YYYY-MM-DD"):
        parse_day("tomorrow", today)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_morning_edition_takes_yesterday_evening_and_the_next_one_repeats_nothing(
    run_cli, engine, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.xml"
    stories = [(f"Story from {hours} hours ago", MORNING - timedelta(hours=hours)) for hours in (30, 20, 10, 2)]
    write_feed(feed, stories)
    env = {"DIGEST_EDITION_WINDOW": "rolling", "DIGEST_SOURCES": str(feed)}
    first = run_cli("--now", _iso(MORNING), "build", "--json", env=env)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert _titles(summary) == {"Story from 20 hours ago", "Story from 10 hours ago", "Story from 2 hours ago"}
    assert _window(summary) == (MORNING - timedelta(hours=24), MORNING)

    rebuilt = run_cli("--now", _iso(MORNING + timedelta(hours=5)), "build", "--json", env=env)
    assert json.loads(rebuilt.stdout)["window"] == summary["window"], "a rebuild keeps the window"

    next_morning = MORNING + timedelta(days=1)
    write_feed(feed, [*stories, ("A story of the evening", MORNING + timedelta(hours=12))])
    second = run_cli("--now", _iso(next_morning), "build", "--json", env=env)
    assert second.exit_code == 0, second.output
    next_summary = json.loads(second.stdout)
    assert _titles(next_summary) == {"A story of the evening"}
    assert _window(next_summary) == (MORNING, next_morning)
    assert "fewer than DIGEST_MIN_ARTICLES=3: it waits for the editor" in second.stderr

    nothing = run_cli("--now", _iso(next_morning + timedelta(days=1)), "build", "--date", "today", env=env)
    assert nothing.exit_code == 3, "no article in the window"
    assert "no article from" in nothing.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_draft_is_approved_at_send_time_by_auto_approve_and_a_thin_one_waits(run_cli, engine, tmp_path) -> None:
    add_readers(engine, 3)
    feed = write_feed(tmp_path / "feed.xml", [(f"Story {n}", MORNING - timedelta(hours=n)) for n in range(1, 5)])
    env = {"DIGEST_EDITION_WINDOW": "rolling", "DIGEST_SOURCES": str(feed)}
    assert run_cli("--now", _iso(MORNING), "build", env=env).exit_code == 0
    sent = run_cli("--now", _iso(MORNING), "send", env={**env, "DIGEST_AUTO_APPROVE": "1"})
    assert sent.exit_code == 0, sent.output
    with Session(engine) as session:
        assert session.exec(select(Edition.status)).one() == "sent"
        assert {d.status for d in session.exec(select(Delivery))} == {"sent"}

    thin = write_feed(tmp_path / "thin.xml", [("The only story", MORNING + timedelta(hours=20))])
    tomorrow = MORNING + timedelta(days=1)
    waiting = run_cli(
        "--now", _iso(tomorrow), "send", env={**env, "DIGEST_SOURCES": str(thin), "DIGEST_AUTO_APPROVE": "1"}
    )
    assert waiting.exit_code == 1
    assert waiting.stderr.strip().splitlines()[-1].startswith("error: the 2026-12-01 edition has only 1 article(s)")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bad_name_fails_one_reader_and_a_feed_placeholder_stays_text(
    run_cli, engine, settings: Settings, smtp_server, tmp_path
) -> None:
    add_readers(engine, 5)
    with Session(engine) as session:
        reader = session.exec(select(Subscriber).where(Subscriber.email == "reader2@example.com")).one()
        reader.name = "Zoé\r\nBcc: victim@example.com"
        session.add(reader)
        session.commit()
    feed = write_feed(
        tmp_path / "feed.xml",
        [("Prices up 100%% says %%x%% and %%unsubscribe_url%%", MORNING - timedelta(hours=1))]
        + [(f"Story {n}", MORNING - timedelta(hours=n + 1)) for n in range(1, 4)],
    )
    env = {
        "DIGEST_EDITION_WINDOW": "rolling",
        "DIGEST_SOURCES": str(feed),
        "DIGEST_AUTO_APPROVE": "1",
        "DIGEST_MAIL_BACKEND": "smtp",
        "DIGEST_SMTP_URL": smtp_server.url(),
    }
    result = run_cli("--now", _iso(MORNING), "send", env=env)
    assert result.exit_code == 1, result.output
    assert "sent 4, failed 1" in result.stdout
    with Session(engine) as session:
        rows = session.exec(select(Subscriber.email, Delivery.status, Delivery.error).join(Delivery)).all()
    failed = [(email, error) for email, status, error in rows if status == "failed"]
    assert [email for email, _ in failed] == ["reader2@example.com"]
    assert "line break" in (failed[0][1] or "")
    received = smtp_server.handler.received
    assert len(received) == 4
    text = received[0].message.get_body(("plain",)).get_content().replace("\u2060", "")
    assert "Prices up 100%% says %%x%% and %%unsubscribe_url%%" in text, "sources' text reaches readers as text"
    with Session(engine) as session:
        day = session.exec(select(Edition.date)).one()
    page = TestClient(create_app(settings, engine=engine), base_url=settings.base_url).get(f"/editions/quotidien/{day}")
    assert page.status_code == 200
    assert "%%x%%" in page.text.replace("\u2060", "")
