"""A reader leaving one list or every list: the subscription unsubscribed, the consent logged with who asked,
and the reader's queued deliveries dropped, together (one-click unsubscribe runs this on every request).

On PostgreSQL the three effects are one statement (data-modifying CTEs): one round trip, atomic on its own,
so on a connection in autocommit it is committed when it returns. Elsewhere they are the store's
:func:`~subscribers.store.unsubscribe_on` and :func:`~digest.delivery.queue.drop_queued`, in the connection's
transaction. No session: its set-up and commit were a sixth of a one-click request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func
from sqlalchemy import select as sql_select

from digest.delivery.queue import drop_queued, drop_queued_statement
from subscribers.models import utcnow
from subscribers.prepared import Prepared
from subscribers.store import Actor, unsubscribe_ctes, unsubscribe_on


def _one_statement(*, everything: bool) -> Prepared:
    left, logged = unsubscribe_ctes(everything=everything)
    dropped = drop_queued_statement(every_list=everything).cte("dropped")
    return Prepared(sql_select(func.count()).select_from(left).add_cte(logged, dropped))


# Indexed by "everything": all lists, or the one left.
_LEAVE = {everything: _one_statement(everything=everything) for everything in (False, True)}


def leave(
    *,
    connection: Connection,
    subscriber_id: int,
    list_id: int | None,
    actor: Actor,
    detail: str,
    now: datetime | None = None,
) -> int:
    """Unsubscribe the reader from ``list_id`` (None: every list), log it, drop their queued deliveries of the
    lists left; how many subscriptions changed (0 for a repeated request, which logs nothing more). Does not
    commit."""
    now = now or utcnow()
    if connection.dialect.name != "postgresql":
        left = unsubscribe_on(
            connection, subscriber_id=subscriber_id, list_id=list_id, actor=actor, now=now, detail=detail
        )
        drop_queued(connection, subscriber_id=subscriber_id, list_id=list_id)
        return len(left)
    parameters = {
        "reader": subscriber_id,
        "left_list": list_id,
        "left_at": now,
        "source": actor.source,
        "ip": actor.ip,
        "user_agent": actor.logged_agent,
        "detail": detail,
    }
    ((left,),) = _LEAVE[list_id is None].execute(connection, parameters)
    return int(left)
