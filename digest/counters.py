"""Per-edition counters kept as deliveries are recorded and events arrive (the dashboard reads only these).

Three writers, each one call: a send run sets the delivery figures exactly once it has enqueued
(:func:`set_delivery_counts`), the ledger's record step adds each batch's final outcomes
(:func:`add_outcomes`), and each request's new provider events count their deliveries once per kind
(:func:`add_events`).
None of them commits: they ride in the caller's transaction, so a figure moves only with what it counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlmodel import Session, col, select

from digest.models import EditionCounters
from digest.stats import STAT_EVENTS
from subscribers.driver import Driver

# The delivery statuses that are an outcome, each counted under its own name.
OUTCOMES = ("sent", "failed", "uncertain")
# The event kinds a provider reports, and the figure each counts towards.
EVENT_FIGURES = {kind: figure for figure, kinds in STAT_EVENTS.items() for kind in kinds}


def _upsert(driver: Driver, edition_id: int, values: Mapping[str, int], *, add: bool) -> None:
    # On the driver's cursor: SQLAlchemy built and compiled this upsert anew for every webhook request.
    names = ", ".join(values)
    changes = ", ".join(
        f"{name} = edition_counters.{name} + excluded.{name}" if add else f"{name} = excluded.{name}" for name in values
    )
    driver.execute(
        f"INSERT INTO edition_counters (edition_id, {names}) VALUES (?{', ?' * len(values)}) "
        f"ON CONFLICT (edition_id) DO UPDATE SET {changes}",
        [edition_id, *values.values()],
    )


def set_delivery_counts(session: Session, edition_id: int, by_status: Mapping[str, int]) -> None:
    """Set the edition's recipients and outcomes from its deliveries counted by status (at a run's start)."""
    values = {"recipients": sum(by_status.values()), **{name: by_status.get(name, 0) for name in OUTCOMES}}
    _upsert(Driver(session), edition_id, values, add=False)


def add_outcomes(session: Session, counted: Iterable[tuple[int, str, int]]) -> None:
    """Add recorded outcomes, given as (edition id, status now, how many); statuses other than an outcome
    (back to the queue) change nothing."""
    totals: dict[int, dict[str, int]] = {}
    for edition_id, status, count in counted:
        if status in OUTCOMES:
            figures = totals.setdefault(edition_id, dict.fromkeys(OUTCOMES, 0))
            figures[status] += count
    driver = Driver(session)
    for edition_id, figures in totals.items():
        _upsert(driver, edition_id, figures, add=True)


def add_events(driver: Driver, stored: Iterable[tuple[int, int, str]]) -> None:
    """Count just-stored events, given as (edition id, delivery id, kind): a delivery counts once towards a
    figure, when these are its first events of that figure. Two statements for any number of events: one
    count of the deliveries' stored events (on the driver's cursor, the ids as one parameter), one upsert per
    edition."""
    new: dict[tuple[int, str], int] = {}
    edition_of: dict[int, int] = {}
    for edition_id, delivery_id, kind in stored:
        figure = EVENT_FIGURES.get(kind)
        if figure is not None:
            new[delivery_id, figure] = new.get((delivery_id, figure), 0) + 1
            edition_of[delivery_id] = edition_id
    if not new:
        return
    rows = driver.execute(
        "SELECT delivery_id, event, COUNT(*) FROM delivery_event "
        f"WHERE {driver.among('delivery_id')} GROUP BY delivery_id, event",
        [driver.ids(edition_of)],
    )
    stored_count: dict[tuple[int, str], int] = {}
    for found_id, kind, times in rows:
        figure = EVENT_FIGURES.get(kind)
        if figure is not None:
            stored_count[found_id, figure] = stored_count.get((found_id, figure), 0) + times
    added: dict[int, dict[str, int]] = {}
    for (delivery_id, figure), fresh in new.items():
        if stored_count.get((delivery_id, figure), 0) == fresh:  # nothing of that figure before these
            figures = added.setdefault(edition_of[delivery_id], {})
            figures[figure] = figures.get(figure, 0) + 1
    for edition_id, figures in added.items():
        _upsert(driver, edition_id, figures, add=True)


def counters_of(session: Session, edition_ids: Iterable[int]) -> dict[int, EditionCounters]:
    """The counters of ``edition_ids`` that have any, by edition id."""
    ids = list(edition_ids)
    if not ids:
        return {}
    rows = session.exec(select(EditionCounters).where(col(EditionCounters.edition_id).in_(ids))).all()
    return {row.edition_id: row for row in rows}
