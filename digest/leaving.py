"""A reader leaving one list or every list: the subscription unsubscribed, the consent logged with who asked,
and the reader's queued deliveries dropped, together (one-click unsubscribe runs this on every request).

On PostgreSQL the three effects are one statement (data-modifying CTEs): one round trip, atomic on its own,
so on a connection in autocommit it is committed when it returns. Elsewhere they are the store's
:func:`~subscribers.store.unsubscribe` and :func:`~digest.delivery.queue.drop_queued`, in the session's
transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlmodel import Session

from digest.delivery.queue import drop_queued, drop_queued_statement
from subscribers.models import utcnow
from subscribers.prepared import Prepared
from subscribers.store import Actor, unsubscribe, unsubscribe_ctes


def _one_statement(*, everything: bool) -> Prepared:
    left, logged = unsubscribe_ctes(everything=everything)
    dropped = drop_queued_statement(every_list=everything).cte("dropped")
    return Prepared(sql_select(func.count()).select_from(left).add_cte(logged, dropped))


# Indexed by "everything": all lists, or the one left.
_LEAVE = {everything: _one_statement(everything=everything) for everything in (False, True)}


def leave(
    *, session: Session, subscriber_id: int, list_id: int | None, actor: Actor, detail: str, now: datetime | None = None
) -> int:
    """Unsubscribe the reader from ``list_id`` (None: every list), log it, drop their queued deliveries of the
    lists left; how many subscriptions changed (0 for a repeated request, which logs nothing more). Does not
    commit."""
    now = now or utcnow()
    if session.get_bind().dialect.name != "postgresql":
        left = unsubscribe(
            session=session, subscriber_id=subscriber_id, list_id=list_id, actor=actor, now=now, detail=detail
        )
        drop_queued(session, subscriber_id=subscriber_id, list_id=list_id)
        return left
    parameters = {
        "reader": subscriber_id,
        "left_list": list_id,
        "left_at": now,
        "source": actor.source,
        "ip": actor.ip,
        "user_agent": actor.logged_agent,
        "detail": detail,
    }
    ((left,),) = _LEAVE[list_id is None].execute(session.connection(), parameters)
    return int(left)
