"""Which senders are alive, so that deliveries a dead one left ``sending`` are settled at once.

SQLite: one ``digest send`` at a time holds an OS file lock beside the database; the kernel drops it when
the process dies, so a run holding it knows every ``sending`` row is an orphan.

PostgreSQL: every sending process (a run, each ``--workers`` process) holds a *session* advisory lock
``(NAMESPACE, token)`` on a connection of its own for as long as it sends, and stamps the deliveries it
claims with its token (``delivery.claimed_by``). PostgreSQL drops the lock the moment that session ends:
the process was killed, its machine died, or the database lost it. Any run, or any live worker, then sees
rows whose token no session holds and turns them ``uncertain`` without waiting for their lease. A sender
whose lock session is gone stops before its next claim, since others may already have settled its rows.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, and_, or_, text, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session, col

from digest.counters import add_outcomes
from digest.errors import DigestError
from digest.models import Delivery, DeliveryStatus

# The first key of our advisory locks ("digs"), so they never meet another application's.
NAMESPACE = 0x64696773
INTERRUPTED = "interrupted while sending: the provider may have it"


class SenderLock:
    """This process's proof of life while it sends (see the module docstring); ``token`` stamps its claims."""

    def __init__(self, token: int | None = None, connection: Connection | None = None, where: str = "") -> None:
        self.token = token
        self._connection = connection
        self._where = where

    def check(self) -> None:
        """Raise DigestError when the lock's database session is gone: this sender must stop claiming."""
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT 1"))
        except DBAPIError as err:
            raise DigestError(
                f"lost the database {self._where}: stopped; run `digest send` again to settle and resume"
            ) from err


@contextmanager
def sender_lock(engine: Engine) -> Iterator[SenderLock]:
    """Hold this process's sender lock while the block runs (SQLite: refuse a second sender at once)."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine) as lock:
            yield lock
        return
    with _sqlite_file_lock(engine):
        yield SenderLock()


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[SenderLock]:
    where = engine.url.render_as_string(hide_password=True)
    try:
        connection = engine.connect()
    except DBAPIError as err:
        raise DigestError(f"cannot reach the database {where}: {err.orig}") from err
    try:
        while True:
            token = 1 + secrets.randbelow(2**31 - 1)
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:namespace, :token)"), {"namespace": NAMESPACE, "token": token}
            ).scalar_one()
            connection.commit()
            if taken:
                break
        yield SenderLock(token, connection, where)
    finally:
        # Ending the database session releases the lock: the connection is closed, not returned to the pool
        # (where its session, and so the lock, would live on).
        connection.invalidate()
        connection.close()


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    path = Path(database).with_name(Path(database).name + ".send-lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise DigestError(f"already sending: another `digest send` holds {path}") from err
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def live_tokens(session: Session) -> set[int]:
    """The tokens of the senders alive now on this PostgreSQL database."""
    rows = session.execute(
        text(
            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
            "AND classid = CAST(:namespace AS oid) "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"namespace": NAMESPACE},
    ).all()
    return {int(row[0]) for row in rows}


def settle_orphans(session: Session, edition_id: int, now: datetime) -> int:
    """Turn ``uncertain`` the edition's deliveries a dead sender left ``sending``; how many (committed).

    SQLite: the caller holds the send lock, so every ``sending`` row is an orphan. PostgreSQL: rows stamped
    by a sender whose lock nobody holds, and unstamped rows whose lease ran out.
    """
    in_flight = and_(col(Delivery.edition_id) == edition_id, col(Delivery.status) == DeliveryStatus.SENDING)
    if session.get_bind().dialect.name == "postgresql":
        alive = live_tokens(session)
        stamped_dead = and_(
            col(Delivery.claimed_by).is_not(None),
            col(Delivery.claimed_by).not_in(alive) if alive else col(Delivery.claimed_by).is_not(None),
        )
        condition = and_(in_flight, or_(stamped_dead, col(Delivery.lease_until) < now))
    else:
        condition = in_flight
    editions = Counter(
        session.execute(
            update(Delivery)
            .where(condition)
            .values(status=DeliveryStatus.UNCERTAIN, error=INTERRUPTED)
            .returning(col(Delivery.edition_id))
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    # The dashboard's counters move with the deliveries.
    add_outcomes(session, [(edition, DeliveryStatus.UNCERTAIN.value, n) for edition, n in editions.items()])
    session.commit()
    return editions.total()


def lost_database(engine: Engine, err: SQLAlchemyError) -> DigestError:
    """The one-line error for a database lost while sending, naming it and what to do."""
    reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    where = engine.url.render_as_string(hide_password=True)
    return DigestError(f"lost the database {where} ({reason}); run `digest send` again to settle and resume")
