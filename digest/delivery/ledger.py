"""The ledger's per-batch statements (claim, read the readers, record), on the database driver's own cursor.

A send runs three statements for every batch of up to 1000 readers: claim the batch, read its readers,
record what the provider answered. Everything else about deliveries goes through SQLModel; these three run
a million times a day at scale, and through the ORM they cost 10.8 µs per reader at 100,000 readers
(SQLite, 2 cores). On the driver's cursor (:mod:`subscribers.driver`) they cost 4.6 µs per reader for the same
work, 3.4 µs since the claim index holds queued rows only (see ``Delivery``).

The statements run inside the session's transaction: ``session.commit()`` commits them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from digest.counters import add_outcomes
from digest.delivery.policy import MAX_ATTEMPTS
from digest.mail.base import Outcome
from digest.models import DeliveryStatus
from subscribers.driver import Driver
from subscribers.models import SubscriberStatus, SubscriptionStatus

# Outcome of readers never handed to the provider because the run stopped: back to the queue as they were.
REQUEUE = "requeue"

# The next queued deliveries of an edition after an id (parameters: edition, after, how many). 'queued' is
# written out, not bound: the planners use the partial index of queued rows only when they can see that the
# query asks for what it holds.
_NEXT_QUEUED = (
    f"FROM delivery WHERE edition_id = ? AND status = '{DeliveryStatus.QUEUED.value}' AND id > ? ORDER BY id LIMIT ?"
)

#: One reader of a claimed batch: subscriber id, email, name, language, format, sections, still subscribed.
ReaderRow = tuple[int, str, str | None, str | None, str | None, str | None, bool]


class Ledger(Driver):
    """Claims, reads and records batches of one edition's deliveries for one session."""

    def claim(
        self,
        edition_id: int,
        size: int,
        lease_until: datetime,
        after: int = 0,
        *,
        now: datetime | None = None,
        claimer: int | None = None,
    ) -> dict[int, int]:
        """Take up to ``size`` queued deliveries with ids above ``after``, oldest first: {delivery id: subscriber
        id}. Callers move ``after`` forward so no claim rescans what is already sent (the planners, told that
        most rows are queued, walk the primary key and would skip them one by one). The rows keep when
        (``now``) and by whom (``claimer``, the sender's token: digest.delivery.liveness) they were taken."""
        pick = f"SELECT id {_NEXT_QUEUED}"
        # On PostgreSQL other workers skip what this one locked; "= ANY(ARRAY(...))" makes it pick the rows by
        # primary key, where with "IN (...)" it may hash-join the whole table for every claim.
        chosen = f"id = ANY(ARRAY({pick} FOR UPDATE SKIP LOCKED))" if self.postgres else f"id IN ({pick})"
        rows = self.execute(
            "UPDATE delivery SET status = ?, lease_until = ?, claimed_at = ?, claimed_by = ?, attempts = attempts + 1 "
            f"WHERE {chosen} RETURNING id, subscriber_id",
            (
                DeliveryStatus.SENDING.value,
                self.timestamp(lease_until),
                self.timestamp(now or lease_until),
                claimer,
                edition_id,
                after,
                size,
            ),
        )
        return dict(sorted(rows))

    def queued(self, edition_id: int, size: int, after: int = 0) -> dict[int, int]:
        """Like :meth:`claim` without taking anything (a dry run's view of the queue)."""
        rows = self.execute(
            f"SELECT id, subscriber_id {_NEXT_QUEUED}",
            (edition_id, after, size),
        )
        return dict(rows)

    def readers(self, list_id: int, subscriber_ids: Iterable[int]) -> dict[int, ReaderRow]:
        """The readers ``subscriber_ids`` by id, looked up by primary key and the unique (subscriber, list)
        index: a join from the deliveries lets the planners scan the whole subscriber and subscription tables
        for every batch. The outer join keeps a reader whose subscription row is gone, as no longer
        subscribed."""
        ids = self.ids(subscriber_ids)
        joined = "u.subscriber_id = s.id AND u.list_id = ?"
        parameters: list[Any] = [SubscriberStatus.ACTIVE.value, SubscriptionStatus.ACTIVE.value, list_id]
        if self.postgres:
            # Said again of the subscription side, or PostgreSQL hashes the whole list's subscriptions (SQLite
            # looks each one up by the unique index without it).
            joined += f" AND {self.among('u.subscriber_id')}"
            parameters.append(ids)
        parameters.append(ids)
        rows = self.execute(
            "SELECT s.id, s.email, s.name, s.language, u.format, u.sections, "
            "(s.status = ? AND u.status = ?) IS TRUE, s.token_secret "
            f"FROM subscriber s LEFT JOIN subscription u ON {joined} WHERE {self.among('s.id')}",
            parameters,
        )
        return {row[0]: row for row in rows}

    def record(
        self, outcome: str, ids: Sequence[int], now: datetime, provider_id: str | None = None, error: str | None = None
    ) -> None:
        """Store one outcome for the deliveries ``ids`` (see :func:`_assignments`) in one statement, which also
        returns what the editions' counters add (a second statement read the rows again: a fifth of the
        database's time per batch on PostgreSQL)."""
        assignments, parameters = _assignments(outcome, self.timestamp(now))
        recorded = self.execute(
            f"UPDATE delivery SET {assignments} WHERE {self.among('id')} RETURNING edition_id, status",
            [provider_id, error, *parameters, self.ids(ids)],
        )
        counted = Counter((edition_id, status) for edition_id, status in recorded)
        add_outcomes(self.session, ((edition_id, status, n) for (edition_id, status), n in counted.items()))

    def record_each(self, outcome: str, rows: Sequence[tuple[int, str | None, str | None]], now: datetime) -> None:
        """Store one outcome for deliveries that each have their own provider id and error: ``rows`` of
        (delivery id, provider id, error), in one executemany."""
        assignments, parameters = _assignments(outcome, self.timestamp(now))
        self.execute(
            f"UPDATE delivery SET {assignments} WHERE id = ?",
            [(provider_id, error, *parameters, delivery_id) for delivery_id, provider_id, error in rows],
            many=True,
        )
        self._count([delivery_id for delivery_id, _, _ in rows])

    def _count(self, ids: Sequence[int]) -> None:
        """Add the outcomes just recorded for ``ids`` to their editions' counters (the dashboard's figures)."""
        counted = self.execute(
            f"SELECT edition_id, status, COUNT(*) FROM delivery WHERE {self.among('id')} GROUP BY edition_id, status",
            [self.ids(ids)],
        )
        add_outcomes(self.session, counted)

    def forget(self, ids: Sequence[int]) -> None:
        """Delete the deliveries ``ids`` (readers who left after being queued: nobody is mailed)."""
        self.execute(f"DELETE FROM delivery WHERE {self.among('id')}", [self.ids(ids)])

    def extend_lease(self, ids: Iterable[int], lease_until: datetime) -> None:
        """Keep the deliveries ``ids`` ours until ``lease_until`` (while waiting to retry their batch)."""
        self.execute(
            f"UPDATE delivery SET lease_until = ? WHERE {self.among('id')}",
            [self.timestamp(lease_until), self.ids(ids)],
        )


def _assignments(outcome: str, now: Any) -> tuple[str, list[Any]]:
    """The SET clause for deliveries that met ``outcome``, and its parameters after (provider id, error)."""
    settled = "provider_id = ?, error = ?, lease_until = NULL, status = "
    if outcome == Outcome.SENT:
        return settled + "?, sent_at = ?", [DeliveryStatus.SENT.value, now]
    if outcome == Outcome.RETRY:
        # A reader the provider turned away for now goes back to the queue, until it has had its tries.
        return settled + "CASE WHEN attempts >= ? THEN ? ELSE ? END", [
            MAX_ATTEMPTS,
            DeliveryStatus.FAILED.value,
            DeliveryStatus.QUEUED.value,
        ]
    if outcome == REQUEUE:
        # Never handed to the provider (the run stopped): the claim's attempt does not count.
        return settled + "?, attempts = attempts - 1", [DeliveryStatus.QUEUED.value]
    return settled + "?", [DeliveryStatus(outcome).value]
