"""Delivery at each reader's local hour (DIGEST_DELIVERY_HOUR): the pure schedule, and `digest send` run every
15 minutes over whole days, across clock changes, through a crash: every reader gets one edition, at their hour."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from digest.delivery.schedule import (
    DaySchedule,
    ZoneState,
    day_schedule,
    days_around,
    local_instant,
    next_turn,
    zone_state,
)
from digest.models import Delivery, Edition
from subscribers.models import Subscriber, Subscription
from tests.feeds import write_feed
from tests.seed import add_readers

HOUR = time(6, 30)
LATE = timedelta(hours=6)
STEP = timedelta(minutes=15)
CASABLANCA = "Africa/Casablanca"
# The four readers of the acceptance test; Casablanca's is stored as None: the publication's zone.
READERS = {
    "reader0@example.com": None,
    "reader1@example.com": "Europe/Paris",
    "reader2@example.com": "America/Montreal",
    "reader3@example.com": "Asia/Dubai",
}


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def days_due(
    *, hour: time, late: timedelta, now: datetime, zones: list[str | None] | list[str], publication_zone: str
) -> list[DaySchedule]:
    """The schedules of the dates around ``now`` with a zone due, as a run serves them."""
    schedules = (
        day_schedule(day=day, hour=hour, late=late, now=now, zones=zones, publication_zone=publication_zone)
        for day in days_around(now, publication_zone)
    )
    return [schedule for schedule in schedules if schedule.zones(ZoneState.DUE)]


# --- the pure schedule ---------------------------------------------------------------------------------------


def test_the_local_hour_of_each_zone_across_the_clock_changes() -> None:
    paris, casablanca = ZoneInfo("Europe/Paris"), ZoneInfo(CASABLANCA)
    assert local_instant(date(2026, 3, 28), HOUR, paris) == _utc(2026, 3, 28, 5, 30), "CET, UTC+1"
    assert local_instant(date(2026, 3, 29), HOUR, paris) == _utc(2026, 3, 29, 4, 30), "CEST from that night"
    assert local_instant(date(2026, 10, 25), HOUR, paris) == _utc(2026, 10, 25, 5, 30), "CET again"
    # Morocco leaves UTC+1 for Ramadan: 2026-02-15 03:00 becomes 02:00, and comes back on 2026-03-22.
    assert local_instant(date(2026, 2, 14), HOUR, casablanca) == _utc(2026, 2, 14, 5, 30)
    assert local_instant(date(2026, 2, 15), HOUR, casablanca) == _utc(2026, 2, 15, 6, 30)
    assert local_instant(date(2026, 3, 21), HOUR, casablanca) == _utc(2026, 3, 21, 6, 30)
    assert local_instant(date(2026, 3, 22), HOUR, casablanca) == _utc(2026, 3, 22, 5, 30)


def test_an_hour_in_the_gap_comes_after_the_jump_and_a_repeated_hour_the_first_time() -> None:
    paris = ZoneInfo("Europe/Paris")
    # 02:30 does not exist on 2026-03-29 (02:00 CET -> 03:00 CEST): delivered at 03:30 CEST.
    gap = local_instant(date(2026, 3, 29), time(2, 30), paris)
    assert gap == _utc(2026, 3, 29, 1, 30) and gap.astimezone(paris).strftime("%H:%M %Z") == "03:30 CEST"
    # 02:30 happens twice on 2026-10-25 (03:00 CEST -> 02:00 CET): the first, in summer time.
    twice = local_instant(date(2026, 10, 25), time(2, 30), paris)
    assert twice == _utc(2026, 10, 25, 0, 30) and twice.astimezone(paris).strftime("%H:%M %Z") == "02:30 CEST"
    # Morocco's change is at 03:00 -> 02:00 (twice 02:xx on Feb 15) and 02:00 -> 03:00 (no 02:xx on Mar 22).
    casablanca = ZoneInfo(CASABLANCA)
    assert local_instant(date(2026, 2, 15), time(2, 30), casablanca) == _utc(2026, 2, 15, 1, 30)
    assert local_instant(date(2026, 3, 22), time(2, 30), casablanca) == _utc(2026, 3, 22, 2, 30)


def test_due_from_the_hour_for_late_then_late() -> None:
    due = _utc(2026, 11, 30, 5, 30)
    assert zone_state(due, due - timedelta(seconds=1), LATE) is ZoneState.WAITING
    assert zone_state(due, due, LATE) is ZoneState.DUE
    assert zone_state(due, due + LATE, LATE) is ZoneState.DUE
    assert zone_state(due, due + LATE + timedelta(seconds=1), LATE) is ZoneState.LATE


def test_a_readers_edition_is_of_their_own_date() -> None:
    zones = [None, "Pacific/Auckland", "America/Los_Angeles"]
    # 17:30 UTC on Nov 30 is 18:30 in Casablanca, 09:30 on Nov 30 in Los Angeles (its 06:30 was 3 hours ago)
    # and 06:30 on Dec 1 in Auckland (UTC+13): the publication's today and tomorrow are both due.
    evening = days_due(hour=HOUR, late=LATE, now=_utc(2026, 11, 30, 17, 30), zones=zones, publication_zone=CASABLANCA)
    assert [(s.day, s.zones(ZoneState.DUE)) for s in evening] == [
        (date(2026, 11, 30), {"America/Los_Angeles"}),
        (date(2026, 12, 1), {"Pacific/Auckland"}),
    ]
    # Published from Kiritimati (UTC+14): Montréal's morning of Nov 30 is the publication's Dec 1, 01:30.
    kiritimati = days_due(
        hour=HOUR,
        late=LATE,
        now=_utc(2026, 11, 30, 11, 30),
        zones=["America/Montreal"],
        publication_zone="Pacific/Kiritimati",
    )
    assert [s.day for s in kiritimati] == [date(2026, 11, 30)], "the publication's yesterday"


def test_the_next_zone_due_and_when_the_edition_is_complete() -> None:
    zones = [None, "Asia/Dubai", "America/Montreal"]
    night = _utc(2026, 11, 30, 1, 0)
    turn = next_turn(
        day_schedule(day=each, hour=HOUR, late=LATE, now=night, zones=zones, publication_zone=CASABLANCA)
        for each in days_around(night, CASABLANCA)
    )
    assert turn is not None and (turn.key, turn.day, turn.due_at) == (
        "Asia/Dubai",
        date(2026, 11, 30),
        _utc(2026, 11, 30, 2, 30),
    )
    day = date(2026, 11, 30)

    def at(moment: datetime) -> Any:
        return day_schedule(day=day, hour=HOUR, late=LATE, now=moment, zones=zones, publication_zone=CASABLANCA)

    assert at(night).first_due_at == _utc(2026, 11, 30, 2, 30) and not at(night).started
    assert at(_utc(2026, 11, 30, 5, 30)).zones(ZoneState.DUE) == {None, "Asia/Dubai"}
    assert not at(_utc(2026, 11, 30, 5, 30)).complete, "Montréal's 06:30 is still to come"
    assert at(_utc(2026, 11, 30, 11, 30)).complete
    assert at(_utc(2026, 11, 30, 11, 30)).zones(ZoneState.LATE) == {"Asia/Dubai"}, "02:30 UTC was 9 hours ago"


ZONES = st.sampled_from(
    [
        CASABLANCA,
        "Europe/Paris",
        "America/Montreal",
        "Asia/Dubai",
        "Pacific/Auckland",
        "Australia/Lord_Howe",
        "America/St_Johns",
        "Asia/Kathmandu",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "Antarctica/Troll",
    ]
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    zone=ZONES,
    day=st.dates(date(2025, 1, 1), date(2027, 12, 31)),
    hour=st.times(),
)
def test_every_local_hour_has_one_instant_on_the_wall_clock_or_just_after_the_jump(
    zone: str, day: date, hour: time
) -> None:
    tz = ZoneInfo(zone)
    instant = local_instant(day, hour, tz)
    wall = instant.astimezone(tz)
    asked = datetime.combine(day, hour)
    shown = wall.replace(tzinfo=None)
    if shown != asked:
        # Only an hour that does not exist moves: forward, by the length of the gap (at most 2 h, Troll).
        assert timedelta(0) < shown - asked <= timedelta(hours=2)
        assert datetime.combine(day, hour, tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != asked
    else:
        # An hour that exists twice is its first occurrence: an hour earlier is before it on the same wall.
        other = datetime.combine(day, hour, tzinfo=tz).replace(fold=1).astimezone(UTC)
        assert instant <= other


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    zones=st.lists(ZONES, min_size=1, max_size=4),
    now=st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31)).map(lambda moment: moment.replace(tzinfo=UTC)),
    hour=st.times(),
    late_minutes=st.integers(15, 20 * 60),
)
def test_a_zone_is_due_for_at_most_one_date_at_any_instant(
    zones: list[str], now: datetime, hour: time, late_minutes: int
) -> None:
    late = timedelta(minutes=late_minutes)
    schedules = days_due(hour=hour, late=late, now=now, zones=zones, publication_zone=CASABLANCA)
    due = Counter(zone for schedule in schedules for zone in schedule.zones(ZoneState.DUE))
    assert all(count == 1 for count in due.values()), due
    for schedule in schedules:
        for turn in schedule.turns:
            if turn.state is ZoneState.DUE:
                assert turn.due_at <= now <= turn.due_at + late


# --- digest send every 15 minutes ------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")


def _set_zones(engine: Engine, zones: dict[str, str | None]) -> None:
    with Session(engine) as session:
        for email, zone in zones.items():
            session.execute(update(Subscriber).where(Subscriber.email == email).values(timezone=zone))  # type: ignore[arg-type]
        session.commit()


def _feed(tmp_path: Path, start: datetime, days: int) -> Path:
    """A story every 3 hours from ``start`` for ``days`` days: every edition's window has some."""
    stories = [(f"Story {n}", start + timedelta(hours=3 * n)) for n in range(8 * days)]
    return write_feed(tmp_path / "feed.xml", stories)


def _sent(engine: Engine) -> dict[tuple[str, date], datetime | None]:
    with Session(engine) as session:
        rows = session.exec(
            select(Subscriber.email, Edition.date, Delivery.status)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)  # type: ignore[arg-type]
            .join(Edition, Edition.id == Delivery.edition_id)  # type: ignore[arg-type]
        ).all()
    return {(email, day): status for email, day, status in rows}


def _step(
    run_cli: Callable[..., Any],
    engine: Engine,
    start: datetime,
    end: datetime,
    env: dict[str, str],
    seen: dict[tuple[str, date], datetime] | None = None,
    options: tuple[str, ...] = (),
) -> tuple[dict[tuple[str, date], datetime], Counter[int]]:
    """`digest send` (with ``options``) at every quarter hour from ``start`` to ``end`` (excluded): when each
    reader's delivery of each edition appeared (added to ``seen``), and the exit codes."""
    seen = {} if seen is None else seen
    codes: Counter[int] = Counter()
    moment = start
    while moment < end:
        result = run_cli("--now", _iso(moment), "send", *options, env=env)
        codes[result.exit_code] += 1
        assert result.exit_code in (0, 3), (moment, result.output)
        for key, status in _sent(engine).items():
            if key not in seen:
                assert status == "sent", (key, status, result.output)
                seen[key] = moment
        moment += STEP
    return seen, codes


def _env(tmp_path: Path, feed: Path, **extra: str) -> dict[str, str]:
    return {
        "DIGEST_DELIVERY_HOUR": "06:30",
        "DIGEST_EDITION_WINDOW": "rolling",
        "DIGEST_AUTO_APPROVE": "1",
        "DIGEST_MIN_ARTICLES": "1",
        "DIGEST_SOURCES": str(feed),
        **extra,
    }


def _assert_on_time(seen: dict[tuple[str, date], datetime], days: list[date]) -> None:
    """Each reader got each edition of ``days`` once (the ledger's unique pair), within 15 minutes after
    06:30 on that date in their own zone, and no other edition."""
    assert sorted(seen) == sorted((email, day) for email in READERS for day in days)
    for (email, day), moment in seen.items():
        zone = ZoneInfo(READERS[email] or CASABLANCA)
        due = local_instant(day, HOUR, zone)
        assert timedelta(0) <= moment - due < STEP, (email, day, moment.astimezone(zone))
        assert moment.astimezone(zone).strftime("%H:%M") in ("06:30", "06:35", "06:40", "06:45")


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_every_reader_gets_the_edition_at_half_past_six_in_their_own_zone(
    run_cli: Callable[..., Any], engine: Engine, tmp_path: Path
) -> None:
    add_readers(engine, len(READERS))
    _set_zones(engine, READERS)
    day = date(2026, 11, 30)
    env = _env(tmp_path, _feed(tmp_path, _utc(2026, 11, 28), 4))
    seen, codes = _step(run_cli, engine, _utc(2026, 11, 30), _utc(2026, 12, 1), env)
    _assert_on_time(seen, [day])
    # Dubai 02:30 UTC; Paris and Casablanca 05:30; Montréal 11:30: three runs mail someone, the rest exit 3.
    assert codes == Counter({0: 3, 3: 93})
    with Session(engine) as session:
        edition = session.exec(select(Edition)).one()
    assert edition.status == "sent"
    assert edition.window_end is not None
    assert edition.window_end.replace(tzinfo=UTC) == _utc(2026, 11, 30, 2, 30), "built at the first zone's hour"
    outbox = list((tmp_path / "outbox" / day.isoformat() / "quotidien").glob("*.eml"))
    assert len(outbox) == len(READERS)


@pytest.mark.parametrize(
    "day",
    [
        pytest.param(date(2026, 2, 15), id="casablanca-ramadan-to-utc"),
        pytest.param(date(2026, 3, 22), id="casablanca-back-to-utc+1"),
        pytest.param(date(2026, 3, 29), id="paris-summer-time"),
        pytest.param(date(2026, 10, 25), id="paris-winter-time"),
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_clock_changes_move_nobodys_half_past_six(
    run_cli: Callable[..., Any], engine: Engine, tmp_path: Path, day: date
) -> None:
    add_readers(engine, len(READERS))
    _set_zones(engine, READERS)
    start = datetime.combine(day, time(0), tzinfo=UTC)
    env = _env(tmp_path, _feed(tmp_path, start - timedelta(days=2), 4))
    # From 02:00 to 12:15 UTC: before Dubai's 06:30, the first, to after Montréal's, the last (the whole day
    # is the test above; the offsets of the days before are in the pure tests).
    seen, _ = _step(run_cli, engine, start + timedelta(hours=2), start + timedelta(hours=12, minutes=15), env)
    _assert_on_time(seen, [day])
    by_utc = {email: seen[email, day].strftime("%H:%M") for email in READERS}
    expected = {
        date(2026, 2, 15): {"reader0@example.com": "06:30", "reader1@example.com": "05:30"},
        date(2026, 3, 22): {"reader0@example.com": "05:30", "reader1@example.com": "05:30"},
        date(2026, 3, 29): {"reader0@example.com": "05:30", "reader1@example.com": "04:30"},
        date(2026, 10, 25): {"reader0@example.com": "05:30", "reader1@example.com": "05:30"},
    }[day]
    assert {email: by_utc[email] for email in expected} == expected


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_nobody_due_says_when_the_next_readers_are_and_a_dry_run_shows_who_would_be_mailed(
    run_cli: Callable[..., Any], engine: Engine, tmp_path: Path
) -> None:
    add_readers(engine, len(READERS))
    _set_zones(engine, READERS)
    env = _env(tmp_path, _feed(tmp_path, _utc(2026, 11, 28), 4))
    early = run_cli("--now", _iso(_utc(2026, 11, 30, 1, 0)), "send", env=env)
    assert early.exit_code == 3
    assert early.stderr.strip() == (
        "nobody is due yet: the next readers are due at 2026-11-30 02:30 UTC (Asia/Dubai, 06:30 local, the "
        "2026-11-30 edition of quotidien)"
    )
    dry = run_cli("send", "--dry-run", "--now", "2026-11-30T06:40+01:00", env=env)
    assert dry.exit_code == 0, dry.output
    lines = dry.stdout.splitlines()
    assert lines[0] == (
        "dry run at 2026-11-30 06:40 Africa/Casablanca: the 2026-11-30 edition of quotidien would go to 3 readers "
        "(06:30 local in Africa/Casablanca, Asia/Dubai, Europe/Paris); nothing was sent"
    )
    assert lines[1:4] == [
        "         1  Africa/Casablanca (the publication's)",
        "         1  Asia/Dubai",
        "         1  Europe/Paris",
    ]
    assert lines[4].startswith("  first: reader")
    assert _sent(engine) == {}, "a dry run writes nothing"
    with Session(engine) as session:
        assert session.exec(select(Edition)).all() == [], "not even the edition it built"
    refused = run_cli("send", "--now", "2026-11-30T06:40+01:00", env=env)
    assert refused.exit_code == 2 and "--now" in refused.stderr and "only with --dry-run" in refused.stderr
    naive = run_cli("send", "--dry-run", "--now", "2026-11-30T06:40", env=env)
    assert naive.exit_code == 2 and "needs its offset" in naive.stderr


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_reader_whose_hour_passed_more_than_late_ago_is_skipped_and_counted(
    run_cli: Callable[..., Any], engine: Engine, tmp_path: Path
) -> None:
    add_readers(engine, len(READERS))
    _set_zones(engine, READERS)
    env = _env(tmp_path, _feed(tmp_path, _utc(2026, 11, 28), 4))
    # The timer was down all night: the first run is at 12:00 UTC, when Dubai's 06:30 (02:30 UTC) is 9.5 hours
    # old, Paris's and Casablanca's (05:30 UTC) 6.5 hours, and Montréal's (11:30 UTC) half an hour.
    noon = run_cli("--now", _iso(_utc(2026, 11, 30, 12, 0)), "send", env=env)
    assert noon.exit_code == 0, noon.output
    assert (
        "warning: 3 readers skipped: their 06:30 passed more than 6:00:00 ago (DIGEST_DELIVERY_LATE), in "
        in noon.stderr
    )
    assert "2026-11-30 quotidien: 06:30 local has come in America/Montreal; 3 skipped (too late)" in noon.stdout
    assert set(_sent(engine)) == {("reader2@example.com", date(2026, 11, 30))}
    with Session(engine) as session:
        assert session.exec(select(Edition.status)).one() == "sent", "every zone has had its turn"
    again = run_cli("--now", _iso(_utc(2026, 11, 30, 12, 15)), "send", env=env)
    assert again.exit_code == 3, again.output
    assert set(_sent(engine)) == {("reader2@example.com", date(2026, 11, 30))}, "the skipped stay skipped"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_edition_whose_last_zone_passed_while_the_timer_was_down_is_closed_with_its_late_readers_counted(
    run_cli: Callable[..., Any], engine: Engine, tmp_path: Path
) -> None:
    add_readers(engine, len(READERS))
    _set_zones(engine, READERS)
    env = _env(tmp_path, _feed(tmp_path, _utc(2026, 11, 28), 4))
    assert run_cli("--now", _iso(_utc(2026, 11, 30, 2, 30)), "send", env=env).exit_code == 0
    with Session(engine) as session:
        assert session.exec(select(Edition.status)).one() == "approved", "Paris, Casablanca, Montréal to come"
    late = run_cli("--now", _iso(_utc(2026, 11, 30, 20, 0)), "send", env=env)
    assert late.exit_code == 3, late.output
    assert "2026-11-30 quotidien: nobody due, 3 skipped (too late); edition sent" in late.stdout
    with Session(engine) as session:
        assert session.exec(select(Edition.status)).one() == "sent"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_send_killed_at_the_paris_hour_and_the_next_runs_keep_every_reader_to_one_message(
    run_cli: Callable[..., Any], engine: Engine, settings: Any, tmp_path: Path, smtp_server: Any
) -> None:
    from tests.processes import digest, smtp_env, wait_for_messages

    parisians = {email: "Europe/Paris" for email in add_readers(engine, 40, start=len(READERS))}
    add_readers(engine, len(READERS))
    _set_zones(engine, {**READERS, **parisians})
    env = {**_env(tmp_path, _feed(tmp_path, _utc(2026, 11, 28), 4)), **smtp_env(settings.database_url, smtp_server)}
    seen: dict[tuple[str, date], datetime] = {}
    _step(run_cli, engine, _utc(2026, 11, 30), _utc(2026, 11, 30, 5, 30), env, seen)
    assert list(seen) == [("reader3@example.com", date(2026, 11, 30))], "Dubai's at 02:30 UTC"

    # 05:30 UTC: Paris's and Casablanca's 06:30. The run is killed half-way on a slow server.
    smtp_server.handler.delay = 0.2
    killed = digest(["--now", _iso(_utc(2026, 11, 30, 5, 30)), "send"], env, tmp_path)
    wait_for_messages(smtp_server, 8, killed)
    killed.kill()
    killed.communicate(timeout=10)
    smtp_server.handler.delay = 0.0

    # The timer's next runs: 05:45 settles the dead run's readers in flight (uncertain) and mails the rest.
    codes: dict[str, int] = {}
    moment = _utc(2026, 11, 30, 5, 45)
    while moment < _utc(2026, 12, 1):
        codes[f"{moment:%H:%M}"] = run_cli("--now", _iso(moment), "send", env=env).exit_code
        moment += STEP
    statuses = _sent(engine)
    uncertain = {email for (email, _), status in statuses.items() if status == "uncertain"}
    received = Counter(address for message in smtp_server.handler.received for address in message.rcpt_tos)
    assert max(received.values()) == 1, "nobody twice"
    everyone = {*READERS, *parisians}
    assert {email for email, _ in statuses} == everyone and set(received) <= everyone
    assert {email for (email, _), status in statuses.items() if status == "sent"} <= set(received)
    assert set(received) - uncertain == {email for (email, _), status in statuses.items() if status == "sent"}
    assert len(uncertain) <= 2, f"{len(uncertain)} uncertain: at most the messages in flight"
    # While some zone is due (until Montréal's 06:30 + 6 h, 17:30 UTC) every run serves the edition: with a
    # reader uncertain it says so (exit 1), never "done" (0) or "nothing to do" (3); then nobody is due (3).
    serving = {hour: code for hour, code in codes.items() if hour <= "17:30"}
    if uncertain:
        assert set(serving.values()) == {1}, codes
    else:
        assert {hour for hour, code in serving.items() if code == 0} == {"05:45", "11:30"}, codes
    assert {code for hour, code in codes.items() if hour > "17:30"} == {3}


def test_the_two_settings_and_their_refusals() -> None:
    from pydantic import ValidationError

    from digest.settings import Settings

    def build(**values: str) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    assert build().delivery_hour is None and build().delivery_late == LATE, "none: when cron runs; 6 h"
    assert build(DIGEST_DELIVERY_HOUR="none").delivery_hour is None
    assert build(DIGEST_DELIVERY_HOUR="06:30", DIGEST_DELIVERY_LATE="90m").delivery_late == timedelta(minutes=90)
    for values, message in (
        ({"DIGEST_DELIVERY_HOUR": "25:00"}, "not a time like 06:00"),
        ({"DIGEST_DELIVERY_HOUR": "06:30+01:00"}, "a local time without offset"),
        ({"DIGEST_DELIVERY_LATE": "5m"}, "must be from 15m to 20h"),
        ({"DIGEST_DELIVERY_LATE": "1d"}, "must be from 15m to 20h"),
    ):
        with pytest.raises(ValidationError, match=message):
            build(**values)


def test_a_zone_zoneinfo_does_not_know_follows_the_publications_clock() -> None:
    schedule = day_schedule(
        day=date(2026, 11, 30),
        hour=HOUR,
        late=LATE,
        now=_utc(2026, 11, 30, 5, 30),
        zones=[None, "Mars/Olympus_Mons", "../../etc/passwd"],
        publication_zone=CASABLANCA,
    )
    assert {(turn.zone, turn.key, turn.state) for turn in schedule.turns} == {
        (None, CASABLANCA, ZoneState.DUE),
        ("Mars/Olympus_Mons", CASABLANCA, ZoneState.DUE),
        ("../../etc/passwd", CASABLANCA, ZoneState.DUE),
    }, "stored by hand in the table: mailed at the publication's hour, never a crash for everyone"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_weekly_round_up_reaches_each_weekly_reader_at_their_hour_of_its_own_day(
    run_cli: Callable[..., Any], engine: Engine, tmp_path: Path
) -> None:
    # Weekly readers only; Auckland's Sunday 06:30 is the publication's Saturday evening (17:30 UTC).
    zones = {**READERS, "reader4@example.com": "Pacific/Auckland"}
    add_readers(engine, len(zones))
    _set_zones(engine, zones)
    with Session(engine) as session:
        session.execute(update(Subscription).values(frequency="weekly"))  # type: ignore[arg-type]
        session.commit()
    sunday = date(2026, 11, 29)
    env = _env(tmp_path, _feed(tmp_path, _utc(2026, 11, 22), 8), DIGEST_WEEKLY_DAY="sunday")
    seen, codes = _step(
        run_cli, engine, _utc(2026, 11, 28, 6), _utc(2026, 11, 29, 12), env, options=("--kind", "weekly")
    )
    assert sorted(seen) == sorted((email, sunday) for email in zones)
    for (email, day), moment in seen.items():
        zone = ZoneInfo(zones[email] or CASABLANCA)
        assert timedelta(0) <= moment - local_instant(day, HOUR, zone) < STEP, (email, moment.astimezone(zone))
    # Auckland 17:30 UTC Saturday, Dubai 02:30, Paris and Casablanca 05:30, Montréal 11:30: four runs mail.
    assert codes[0] == 4
    with Session(engine) as session:
        editions = session.exec(select(Edition.date, Edition.kind, Edition.status)).all()
    assert editions == [(sunday, "weekly", "sent")]
    # Daily runs the same morning have nobody to mail: every reader chose the round-up only.
    assert run_cli("--now", _iso(_utc(2026, 11, 29, 6)), "send", env=env).exit_code == 3
