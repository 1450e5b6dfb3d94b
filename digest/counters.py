"""Per-edition counters kept as deliveries are recorded and events arrive (the dashboard reads only these).

Three writers, each one call: a send run sets the delivery figures exactly once it has enqueued
(:func:`set_delivery_counts`), the ledger's record step adds each batch's final outcomes
(:func:`add_outcomes`), and each new provider event counts its delivery once per kind (:func:`add_event`).
None of them commits: they ride in the caller's transaction, so a figure moves only with what it counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from digest.models import DeliveryEvent, EditionCounters
from digest.stats import STAT_EVENTS

# The delivery statuses that are an outcome, each counted under its own name.
OUTCOMES = ("sent", "failed", "uncertain")
# The event kinds a provider reports, and the figure each counts towards.
EVENT_FIGURES = {kind: figure for figure, kinds in STAT_EVENTS.items() for kind in kinds}


def _upsert(session: Session, edition_id: int, values: Mapping[str, int], *, add: bool) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(EditionCounters).values(edition_id=edition_id, **values)
    table = EditionCounters.__table__.c  # type: ignore[attr-defined]
    changes = {name: (table[name] + statement.excluded[name]) if add else statement.excluded[name] for name in values}
    session.execute(statement.on_conflict_do_update(index_elements=["edition_id"], set_=changes))


def set_delivery_counts(session: Session, edition_id: int, by_status: Mapping[str, int]) -> None:
    """Set the edition's recipients and outcomes from its deliveries counted by status (at a run's start)."""
    values = {"recipients": sum(by_status.values()), **{name: by_status.get(name, 0) for name in OUTCOMES}}
    _upsert(session, edition_id, values, add=False)


def add_outcomes(session: Session, counted: Iterable[tuple[int, str, int]]) -> None:
    """Add recorded outcomes, given as (edition id, status now, how many); statuses other than an outcome
    (back to the queue) change nothing."""
    totals: dict[int, dict[str, int]] = {}
    for edition_id, status, count in counted:
        if status in OUTCOMES:
            figures = totals.setdefault(edition_id, dict.fromkeys(OUTCOMES, 0))
            figures[status] += count
    for edition_id, figures in totals.items():
        _upsert(session, edition_id, figures, add=True)


def add_event(session: Session, *, edition_id: int, delivery_id: int, kind: str) -> None:
    """Count a just-stored event of ``kind`` if it is its delivery's first of that figure."""
    figure = EVENT_FIGURES.get(kind)
    if figure is None:
        return
    same = session.exec(
        select(func.count())
        .select_from(DeliveryEvent)
        .where(col(DeliveryEvent.delivery_id) == delivery_id, col(DeliveryEvent.event).in_(STAT_EVENTS[figure]))
    ).one()
    if same == 1:
        _upsert(session, edition_id, {figure: 1}, add=True)


def counters_of(session: Session, edition_ids: Iterable[int]) -> dict[int, EditionCounters]:
    """The counters of ``edition_ids`` that have any, by edition id."""
    ids = list(edition_ids)
    if not ids:
        return {}
    rows = session.exec(select(EditionCounters).where(col(EditionCounters.edition_id).in_(ids))).all()
    return {row.edition_id: row for row in rows}
