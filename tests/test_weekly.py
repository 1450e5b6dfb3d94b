"""Weekly round-ups: the week's selection (pure), the edition kind in the database, and a week replayed day
by day through the commands: daily editions, then the weekly one, each to the readers who chose it."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command as alembic_command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from digest.content import Article, Pick, Selection
from digest.db import alembic_config, make_engine
from digest.edition import build_edition, load_selection
from digest.models import Delivery, Edition, EditionVariant
from digest.selection import SelectionRules, calendar_window
from digest.selection import select as select_day
from digest.selection.weekly import DailyEdition, select_week
from digest.settings import Settings
from digest.web.app import create_app
from digest.window import week_window
from subscribers.models import Subscriber, Subscription
from subscribers.store import FREQUENCIES
from tests.editions import add_readers
from tests.feeds import write_feed
from tests.subscribers_helpers import make_reader

PARIS = ZoneInfo("Europe/Paris")
CASABLANCA = ZoneInfo("Africa/Casablanca")
# A week of November 2026: Monday 23 to Sunday 29 (DIGEST_WEEKLY_DAY's default).
MONDAY = date(2026, 11, 23)
SUNDAY = date(2026, 11, 29)
WEEK = [MONDAY + timedelta(days=n) for n in range(7)]
REAL = Path(__file__).parent / "data" / "real"
PASSWORD = "weekly-editor-password"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"e:{PASSWORD}".encode()).decode(), "Accept-Language": "en"}


def _article(url: str, title: str, day: date, hour: int = 9, source: str = "Wire", **more: Any) -> Article:
    published = datetime.combine(day, time(hour), tzinfo=PARIS)
    summary = more.pop("summary", f"{title}. The details of the day, and what comes next for those concerned.")
    return Article(url=url, title=title, source=source, published=published, summary=summary, lang="en", **more)


def _shown_urls(selection: Selection) -> list[str]:
    picks = ([selection.featured] if selection.featured else []) + list(selection.headlines)
    return [a.canonical_url for pick in picks for a in (pick.article, *pick.also)]


# --- The week's selection (pure) ------------------------------------------------------------------------


def test_a_story_told_on_two_days_is_one_story_shown_by_its_latest_copy_with_the_editors_signals() -> None:
    monday = _article("https://n.example/tunnel-1", "Harbour tunnel budget vote splits the city council", WEEK[0])
    wednesday = _article(
        "https://n.example/tunnel-2", "Harbour tunnel budget vote splits the city council again", WEEK[2], hour=18
    )
    others = [
        _article(f"https://n.example/other-{n}", f"Unrelated item number {n} about topic{n}", WEEK[n % 7])
        for n in range(8)
    ]
    dailies = [
        DailyEdition(WEEK[0], Selection(day=WEEK[0], featured=Pick(monday, "featured"))),
        DailyEdition(
            WEEK[2],
            Selection(day=WEEK[2], featured=Pick(others[2], "featured"), headlines=(Pick(wednesday, "headline 1"),)),
        ),
        DailyEdition(WEEK[4], Selection(day=WEEK[4], featured=Pick(others[4], "pinned")), pinned=others[4].url),
    ]
    window = week_window(calendar_window(SUNDAY, PARIS)[1])
    weekly = select_week([monday, wednesday, *others], dailies, window=window, day=SUNDAY)

    urls = _shown_urls(weekly)
    assert len(urls) == len(set(urls)), "no story twice"
    tunnel = next(p for p in [weekly.featured, *weekly.headlines] if p and "tunnel" in p.article.url)
    assert tunnel.article.url == wednesday.url, "shown by its latest day's copy"
    assert [a.url for a in tunnel.also] == [monday.url]
    assert f"featured on {WEEK[0]}" in tunnel.reason and f"a headline on {WEEK[2]}" in tunnel.reason
    assert "told on 2 days" in tunnel.reason
    assert weekly.featured is not None and weekly.featured.article.url == wednesday.url, "featured, then again"
    assert weekly.featured.reason.startswith("featured: the week's best story")
    order = [p.article.url for p in weekly.headlines]
    assert order.index(others[4].url) < order.index(others[2].url), "a pinned pick outweighs a chosen one"
    pinned = weekly.headlines[order.index(others[4].url)]
    assert f"pinned as featured by the editor on {WEEK[4]}" in pinned.reason
    assert weekly.window == window and window[1] - window[0] == timedelta(days=7)


def test_what_a_daily_edition_carried_counts_even_when_the_sources_no_longer_hold_it() -> None:
    gone = _article("https://n.example/gone", "Strike closes every port of the coast for a day", WEEK[0])
    today = [_article(f"https://n.example/t{n}", f"Today's own item {n} on subject{n}", WEEK[6]) for n in range(3)]
    dailies = [DailyEdition(WEEK[0], Selection(day=WEEK[0], featured=Pick(gone, "featured")))]
    window = week_window(calendar_window(SUNDAY, PARIS)[1])
    weekly = select_week(today, dailies, window=window, day=SUNDAY)
    assert weekly.featured is not None and weekly.featured.article.url == gone.url
    assert f"featured on {WEEK[0]}" in weekly.featured.reason


def test_the_weekly_cap_is_the_daily_one_and_exclusions_hold() -> None:
    items = [_article(f"https://n.example/i{n}", f"Distinct story {n} about matter{n}", WEEK[n % 7]) for n in range(20)]
    window = week_window(calendar_window(SUNDAY, PARIS)[1])
    from digest.selection import EditorChoices

    weekly = select_week(
        items,
        [],
        window=window,
        day=SUNDAY,
        rules=SelectionRules(headlines_max=5),
        choices=EditorChoices(exclude=frozenset({items[0].url})),
    )
    assert len(weekly.headlines) == 5, "DIGEST_HEADLINES_MAX caps the round-up too"
    assert items[0].url not in _shown_urls(weekly)
    assert any(s.url == items[0].url and s.reason == "excluded by the editor" for s in weekly.skipped)


def test_a_week_of_a_real_feed_replayed_day_by_day_keeps_the_daily_featured_stories() -> None:
    from tests.eval import _read_feed

    articles = _read_feed(REAL / "en" / "daringfireball.atom", ZoneInfo("America/New_York"), date(2017, 6, 22))
    tz = ZoneInfo("America/New_York")
    last = date(2017, 6, 26)
    dailies = []
    for back in range(6, -1, -1):
        day = last - timedelta(days=back)
        daily = select_day(articles, window=calendar_window(day, tz), day=day, rules=SelectionRules(language="en"))
        if not daily.is_empty:
            dailies.append(DailyEdition(day, daily))
    weekly = select_week(
        articles,
        dailies,
        window=week_window(calendar_window(last, tz)[1]),
        day=last,
        rules=SelectionRules(language="en"),
    )
    assert len(dailies) == 6, "the feed holds six of the week's seven days"
    featured = [d.selection.featured.article.canonical_url for d in dailies if d.selection.featured]
    urls = _shown_urls(weekly)
    assert sum(url in urls for url in featured) / len(featured) >= 0.8
    assert len(urls) == len(set(urls))


# --- The edition kind in the database -------------------------------------------------------------------


def test_the_upgrade_keeps_every_edition_daily_and_lets_a_weekly_one_share_its_date(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    alembic_command.upgrade(config, "a4e2c7b91d05")
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO mailing_list (slug, name, created_at) VALUES ('quotidien', 'Q', CURRENT_TIMESTAMP)")
        )
        for day in ("2026-11-28", "2026-11-29"):
            connection.execute(
                text(
                    "INSERT INTO edition (list_id, date, status, subject, preheader, selection_json, choices_json, "
                    "created_at) VALUES (1, :day, 'sent', 'S', '', '{}', '{}', CURRENT_TIMESTAMP)"
                ),
                {"day": day},
            )
    alembic_command.upgrade(config, "head")
    insert = text(
        "INSERT INTO edition (list_id, date, kind, status, subject, preheader, selection_json, choices_json, "
        "lint_json, lint_override, created_at) "
        "VALUES (1, '2026-11-29', :kind, 'draft', 'W', '', '{}', '{}', '[]', false, CURRENT_TIMESTAMP)"
    )
    with engine.begin() as connection:
        assert connection.execute(text("SELECT date, kind FROM edition ORDER BY date")).all() == [
            (date(2026, 11, 28), "daily") if engine.dialect.name == "postgresql" else ("2026-11-28", "daily"),
            (date(2026, 11, 29), "daily") if engine.dialect.name == "postgresql" else ("2026-11-29", "daily"),
        ]
        connection.execute(insert, {"kind": "weekly"})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"kind": "weekly"})
    # Down to the edition kind's own revision first: a refusal in the middle of a multi-step downgrade would
    # leave SQLite's non-transactional table rebuilds half done.
    alembic_command.downgrade(config, "b5d1e7a3c9f2")
    with pytest.raises(RuntimeError, match="1 weekly edition"):
        alembic_command.downgrade(config, "a4e2c7b91d05")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM edition WHERE kind = 'weekly'"))
    alembic_command.downgrade(config, "a4e2c7b91d05")
    alembic_command.upgrade(config, "head")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM edition WHERE kind = 'daily'")).scalar_one() == 2
    engine.dispose()


# --- A week through the commands ------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")


def _evening(day: date) -> str:
    return _iso(datetime.combine(day, time(22), tzinfo=CASABLANCA).astimezone(UTC))


def _week_feed(path: Path) -> Path:
    """Four stories a day, one of them (the harbour tunnel) told again two days later."""
    stories = []
    for number, day in enumerate(WEEK):
        at = datetime.combine(day, time(8), tzinfo=CASABLANCA)
        stories += [
            (f"Day {number} report on matter{number}x{k} and its consequences", at + timedelta(hours=k))
            for k in range(3)
        ]
    stories.append(
        ("Harbour tunnel budget vote splits the city council", datetime.combine(WEEK[0], time(7), tzinfo=CASABLANCA))
    )
    stories.append(
        (
            "Harbour tunnel budget vote splits the city council again",
            datetime.combine(WEEK[2], time(7), tzinfo=CASABLANCA),
        )
    )
    return write_feed(path, stories)


def _readers(engine: Engine) -> None:
    """Three confirmed readers, one per frequency: daily@, weekly@ and both@example.com."""
    for frequency in FREQUENCIES:
        make_reader(engine, f"{frequency}@example.com")
    with Session(engine) as session:
        for subscription, email in session.exec(
            select(Subscription, Subscriber.email).join(
                Subscriber, col(Subscriber.id) == col(Subscription.subscriber_id)
            )
        ).all():
            subscription.frequency = email.split("@")[0]
            session.add(subscription)
        session.commit()


def _replay(run_cli: Any, days: list[date], env: dict[str, str]) -> list[dict[str, Any]]:
    """Build, approve and send the daily edition of each of ``days``; their `build --json` summaries."""
    built = []
    for day in days:
        result = run_cli("--now", _evening(day), "build", "--date", day.isoformat(), "--json", env=env)
        assert result.exit_code == 0, result.output
        built.append(json.loads(result.stdout))
        for command in ("approve", "send"):
            result = run_cli("--now", _evening(day), command, "--date", day.isoformat(), env=env)
            assert result.exit_code == 0, result.output
    return built


def _received(engine_url: str) -> dict[str, list[tuple[str, str]]]:
    engine = make_engine(engine_url)
    with Session(engine) as session:
        rows = session.exec(
            select(Subscriber.email, Edition.date, Edition.kind)
            .join(Delivery, col(Delivery.subscriber_id) == col(Subscriber.id))
            .join(Edition, col(Edition.id) == col(Delivery.edition_id))
            .where(Delivery.status == "sent")
        ).all()
    engine.dispose()
    received: dict[str, list[tuple[str, str]]] = {}
    for email, day, kind in rows:
        received.setdefault(email, []).append((str(day), kind))
    return received


def test_a_week_replayed_day_by_day_then_the_weekly_edition_to_weekly_and_both_readers(
    run_cli, engine, settings: Settings, tmp_path: Path
) -> None:
    env = {
        "DIGEST_SOURCES": str(_week_feed(tmp_path / "week.xml")),
        "DIGEST_EDITION_WINDOW": "calendar",
        "DIGEST_LANGUAGE": "en",
    }
    _readers(engine)
    dailies = _replay(run_cli, WEEK, env)

    saturday = run_cli("--now", _evening(WEEK[5]), "send", "--kind", "weekly", env=env)
    assert saturday.exit_code == 3, "a daily cron line `send --kind weekly`: nothing to do on another day"
    assert "DIGEST_WEEKLY_DAY=sunday" in saturday.output and len(saturday.output.strip().splitlines()) == 1
    refused = run_cli("build", "--kind", "weekly", "--date", WEEK[5].isoformat(), env=env)
    assert refused.exit_code == 2 and "DIGEST_WEEKLY_DAY=sunday" in refused.output

    built = run_cli("--now", _evening(SUNDAY), "build", "--kind", "weekly", "--json", env=env)
    assert built.exit_code == 0, built.output
    weekly = json.loads(built.stdout)
    assert (weekly["date"], weekly["kind"]) == (SUNDAY.isoformat(), "weekly")
    start, end = (datetime.fromisoformat(moment) for moment in weekly["window"])
    assert (start, end) == (
        datetime.combine(MONDAY, time(0), tzinfo=CASABLANCA),
        datetime.combine(SUNDAY + timedelta(days=1), time(0), tzinfo=CASABLANCA),
    )
    assert weekly["subject"] == "Le Quotidien · This week: " + weekly["featured"]["title"]
    picks = [weekly["featured"], *weekly["headlines"]]
    shown = [p["url"] for p in picks] + [c["url"] for p in picks for c in p["also"]]
    assert len(shown) == len(set(shown)), "no story twice"
    featured = [d["featured"]["url"] for d in dailies]
    recall = sum(url in shown for url in featured) / len(featured)
    assert recall >= 0.8, (recall, featured, shown)
    tunnel = [p for p in picks if p["title"].startswith("Harbour tunnel")]
    assert len(tunnel) == 1 and tunnel[0]["title"].endswith("again") and len(tunnel[0]["also"]) == 1
    assert all(p["reason"] for p in picks)
    assert any(f"featured on {day}" in p["reason"] for p in picks for day in WEEK)

    for command in ("approve", "send"):
        result = run_cli("--now", _evening(SUNDAY), command, "--kind", "weekly", env=env)
        assert result.exit_code == 0, result.output
    again = run_cli("--now", _evening(SUNDAY), "send", "--kind", "weekly", env=env)
    assert again.exit_code == 3, again.output

    received = _received(settings.database_url)
    assert sorted(received["daily@example.com"]) == [(d.isoformat(), "daily") for d in WEEK]
    assert received["weekly@example.com"] == [(SUNDAY.isoformat(), "weekly")]
    assert sorted(received["both@example.com"]) == sorted(
        [(d.isoformat(), "daily") for d in WEEK] + [(SUNDAY.isoformat(), "weekly")]
    )

    stats = json.loads(run_cli("stats", "--json").stdout)["editions"]
    assert [(row["date"], row["kind"], row["sent"]) for row in stats[:2]] == [
        (SUNDAY.isoformat(), "daily", 2),
        (SUNDAY.isoformat(), "weekly", 2),
    ]
    only = json.loads(run_cli("stats", "--kind", "weekly", "--json").stdout)["editions"]
    assert [(row["date"], row["kind"], row["recipients"]) for row in only] == [(SUNDAY.isoformat(), "weekly", 2)]
    table = run_cli("stats", "--date", SUNDAY.isoformat())
    assert " weekly " in table.stdout and " daily " in table.stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_weekly_pages_archive_desk_and_dashboard(run_cli, engine, make_settings, tmp_path: Path) -> None:
    env = {
        "DIGEST_SOURCES": str(_week_feed(tmp_path / "week.xml")),
        "DIGEST_EDITION_WINDOW": "calendar",
        "DIGEST_LANGUAGE": "en",
    }
    _readers(engine)
    _replay(run_cli, WEEK[5:], env)
    for command in ("build", "approve", "send"):
        result = run_cli("--now", _evening(SUNDAY), command, "--kind", "weekly", env=env)
        assert result.exit_code == 0, result.output
    settings = make_settings(editor_password=PASSWORD, language="en")
    with TestClient(create_app(settings, engine=engine), base_url=settings.base_url) as client:
        weekly = client.get(f"/editions/quotidien/{SUNDAY}/weekly")
        daily = client.get(f"/editions/quotidien/{SUNDAY}")
        assert weekly.status_code == daily.status_code == 200
        assert "<strong>This week</strong>" in weekly.text and re.search(r"The week(&#39;|')s headlines", weekly.text)
        assert "This week" not in daily.text and re.search(r"Today(&#39;|')s headlines", daily.text)
        archive = client.get("/editions/quotidien")
        assert f"/editions/quotidien/{SUNDAY}/weekly" in archive.text
        feed = client.get("/editions/quotidien/feed.atom")
        assert f"/editions/quotidien/{SUNDAY}/weekly" in feed.text
        desk = client.get(f"/editor/quotidien/{SUNDAY}/weekly", headers=AUTH)
        assert desk.status_code == 200 and "This week" in desk.text
        variant = re.search(rf'"(/editor/quotidien/{SUNDAY}/weekly/variant\?key=[^"&]+)', desk.text)
        assert variant is not None, "the desk loads the weekly edition's variants from under its own path"
        shown = client.get(variant.group(1), headers=AUTH)
        assert shown.status_code == 200 and "<strong>This week</strong>" in shown.text
        assert f"/editor/quotidien/{SUNDAY - timedelta(days=7)}/weekly" in desk.text, "the previous week's desk"
        assert client.get(f"/editor/quotidien/{SUNDAY}/monthly", headers=AUTH).status_code == 404
        dashboard = client.get("/editor", headers=AUTH)
        assert 'id="weekly"' in dashboard.text and f"/editor/quotidien/{SUNDAY}/weekly" in dashboard.text
    with TestClient(create_app(settings, engine=engine), base_url="http://other.example") as stranger:
        assert stranger.get(f"/editions/quotidien/{SUNDAY}/weekly").status_code == 421
        assert stranger.get(f"/editor/quotidien/{SUNDAY}/weekly", headers=AUTH).status_code == 421


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_sample_day_replayed_as_a_week_keeps_its_featured_story(engine, make_settings) -> None:
    # The sample feed holds one day (Thursday 2025-11-27): its week is that day.
    settings = make_settings(weekly_day="thursday")
    sample = date(2025, 11, 27)
    add_readers(engine, settings)  # French, English and Arabic readers: a variant each
    with Session(engine, expire_on_commit=False) as session:
        daily, _ = build_edition(session=session, settings=settings, day=sample)
        weekly, _ = build_edition(session=session, settings=settings, day=sample, kind="weekly")
    assert (daily.kind, weekly.kind, daily.date, weekly.date) == ("daily", "weekly", sample, sample)
    day_pick, week_pick = load_selection(daily.selection_json), load_selection(weekly.selection_json)
    assert day_pick.featured is not None and week_pick.featured is not None
    assert week_pick.featured.article.url == day_pick.featured.article.url
    assert f"featured on {sample}" in week_pick.featured.reason
    assert _shown_urls(week_pick) == list(dict.fromkeys(_shown_urls(week_pick)))
    with Session(engine) as session:
        subjects = dict(
            session.exec(
                select(EditionVariant.key, EditionVariant.subject).where(EditionVariant.edition_id == weekly.id)
            ).all()
        )
        texts = session.exec(select(EditionVariant.text).where(EditionVariant.edition_id == weekly.id)).all()
    title = week_pick.featured.article.title
    assert subjects["fr"].startswith("Le Quotidien · La semaine\u00a0: " + title[:20]), subjects["fr"]
    assert subjects["en"].startswith("Le Quotidien · This week: "), subjects["en"]
    assert subjects["ar"].startswith("اليومية · الأسبوع: "), subjects["ar"]
    assert all("LES TITRES DE LA SEMAINE" in t or "THE WEEK'S HEADLINES" in t or "عناوين الأسبوع" in t for t in texts)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_rolling_daily_edition_starts_where_the_previous_daily_one_ended_not_the_weekly(
    engine, make_settings, tmp_path: Path
) -> None:
    settings = make_settings(edition_window="rolling", sources=[str(_week_feed(tmp_path / "week.xml"))])
    sunday_morning = datetime.combine(SUNDAY, time(7), tzinfo=CASABLANCA)
    with Session(engine, expire_on_commit=False) as session:
        daily, _ = build_edition(session=session, settings=settings, day=SUNDAY, now=sunday_morning)
        weekly, _ = build_edition(
            session=session, settings=settings, day=SUNDAY, now=sunday_morning + timedelta(minutes=30), kind="weekly"
        )
        monday, _ = build_edition(
            session=session, settings=settings, day=SUNDAY + timedelta(days=1), now=sunday_morning + timedelta(days=1)
        )
    assert load_selection(weekly.selection_json).window == (
        sunday_morning + timedelta(minutes=30) - timedelta(days=7),
        sunday_morning + timedelta(minutes=30),
    ), "the 7 days ending at its build time on its date"
    monday_window = load_selection(monday.selection_json).window
    assert monday_window is not None and monday_window[0] == sunday_morning, "after the daily, not the weekly"
    assert (daily.kind, weekly.kind, monday.kind) == ("daily", "weekly", "daily")
