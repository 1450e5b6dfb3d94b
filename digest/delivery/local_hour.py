"""Delivery at each reader's local hour (``DIGEST_DELIVERY_HOUR``): which editions a run serves, to whom.

The schedule itself is pure (:mod:`digest.delivery.schedule`); this module reads what it needs from the
database (the readers' time zones, the editions' statuses) and runs a send per edition date served, each
limited to the zones due. An edition of any kind is delivered the same way: the schedule depends on its
date only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, select

from digest.delivery.policy import SendOptions
from digest.delivery.queue import count_by_status, finish, left_behind
from digest.delivery.schedule import DaySchedule, ZoneState, ZoneTurn, day_schedule, days_around, next_turn
from digest.models import DeliveryStatus, Edition, EditionStatus
from subscribers.eligibility import eligible_timezones


@dataclass(frozen=True, slots=True)
class LocalHour:
    """The delivery hour, how late a reader may still get the edition, the publication's zone."""

    hour: time
    late: timedelta
    publication_zone: str


@dataclass
class Plan:
    """What a run at ``now`` has to do: the dates it serves, and the next zone to become due."""

    days: list[DaySchedule] = field(default_factory=list)
    next_turn: ZoneTurn | None = None


def _unfinished(session: Session, list_id: int, day: date, kind: str) -> Edition | None:
    """The list's edition of ``day`` and ``kind`` when built and not sent yet."""
    return session.exec(
        select(Edition).where(
            col(Edition.list_id) == list_id,
            col(Edition.date) == day,
            col(Edition.kind) == kind,
            col(Edition.status) != EditionStatus.SENT,
        )
    ).first()


def plan(
    session: Session,
    *,
    list_id: int,
    local: LocalHour,
    now: datetime,
    day: date | None = None,
    kind: str = "daily",
    weekday: int | None = None,
) -> Plan:
    """The edition dates of ``kind`` a run at ``now`` serves (``day`` only, when given; else the dates around
    ``now``, only those of ``weekday`` when given): those with a zone due, and those whose every zone's hour
    has passed while an edition of theirs is still unsent (the runs stopped before its last zone's turn: its
    late readers are counted and it is marked sent)."""
    result = Plan()
    schedules = []
    candidates = [day] if day is not None else days_around(now, local.publication_zone)
    for candidate in candidates:
        if day is None and weekday is not None and candidate.weekday() != weekday:
            continue
        zones = eligible_timezones(session=session, list_id=list_id, day=candidate, kind=kind)
        schedule = day_schedule(
            day=candidate,
            hour=local.hour,
            late=local.late,
            now=now,
            zones=zones,
            publication_zone=local.publication_zone,
        )
        schedules.append(schedule)
        if schedule.zones(ZoneState.DUE) or (
            schedule.turns and schedule.complete and _unfinished(session, list_id, candidate, kind) is not None
        ):
            result.days.append(schedule)
    result.next_turn = next_turn(schedules)
    return result


def zone_options(options: SendOptions, schedule: DaySchedule) -> SendOptions:
    """``options`` for a send of ``schedule``'s edition: its due zones only, the last turn when none waits."""
    return dataclasses.replace(options, zones=schedule.zones(ZoneState.DUE), last_turn=schedule.complete)


def skip_late(session: Session, edition: Edition, schedule: DaySchedule) -> int:
    """How many readers of ``schedule``'s late zones have no delivery of ``edition``: skipped, never mailed."""
    return left_behind(session, edition, schedule.zones(ZoneState.LATE))


def close_if_complete(session: Session, edition: Edition, schedule: DaySchedule, now: datetime) -> None:
    """Mark ``edition`` sent when every zone has had its turn and nothing of it is waiting or in flight
    (a run after its last zone's window, with nobody due: nothing else would). Commits."""
    if not schedule.complete or edition.status not in (EditionStatus.APPROVED, EditionStatus.SENDING):
        return
    counts = count_by_status(session, edition.id or 0)
    if not counts[DeliveryStatus.QUEUED] and not counts[DeliveryStatus.SENDING]:
        finish(session, edition, now)
