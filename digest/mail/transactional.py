"""The transactional mail queue: confirmation requests are written to a table first, then sent, retried with
backoff when the mail server is down, and dropped when there is nothing left to ask.

Who sends: the web process (right after a sign-up, and every minute for retries), `digest send` (at its
start), and `digest subscribers confirm-pending`. Several may run at once: each claims a mail by moving its
``next_attempt_at`` forward in one conditional UPDATE, so a mail goes out once; a sender that dies mid-send
leaves it to be tried again after ``CLAIM``. The sending loop is its own entry point: it commits mail by mail.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from digest.errors import DigestError
from digest.models import TransactionalMail, TransactionalMailStatus
from digest.settings import Settings
from subscribers.models import MailingList, Subscriber, SubscriberStatus, Subscription, SubscriptionStatus, utcnow
from subscribers.store import Reader, confirmable

log = logging.getLogger(__name__)

CONFIRM = "confirm"
#: Tries in all before a mail counts as failed (the delays add up to about a day).
MAX_ATTEMPTS = 10
#: How long a claimed mail is its sender's before another may try it (a sender that died).
CLAIM = timedelta(minutes=10)
#: `confirm-pending` asks a pending reader again at most this often.
ASK_AGAIN_AFTER = timedelta(days=7)
#: How often the web process looks for mail to retry.
WEB_INTERVAL_SECONDS = 60.0


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: 1, 2, 4 ... minutes, at most 6 hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=6))


def enqueue_confirmation(*, session: Session, subscriber_id: int, list_id: int, now: datetime) -> None:
    """Queue a confirmation request to the reader on the list. Does not commit."""
    session.add(
        TransactionalMail(
            kind=CONFIRM, subscriber_id=subscriber_id, list_id=list_id, next_attempt_at=now, created_at=now
        )
    )


def enqueue_pending(*, session: Session, mailing_list: MailingList, now: datetime) -> int:
    """Queue a confirmation request to every pending reader of the list not asked in the last 7 days; the
    number queued. Does not commit."""
    asked = (
        select(TransactionalMail.subscriber_id)
        .where(
            col(TransactionalMail.list_id) == mailing_list.id,
            col(TransactionalMail.kind) == CONFIRM,
            col(TransactionalMail.created_at) > now - ASK_AGAIN_AFTER,
        )
        .scalar_subquery()
    )
    pending = session.exec(
        select(Subscription.subscriber_id)
        .join(Subscriber, col(Subscriber.id) == col(Subscription.subscriber_id))
        .where(
            col(Subscription.list_id) == mailing_list.id,
            col(Subscription.status) == SubscriptionStatus.PENDING,
            col(Subscriber.status) == SubscriberStatus.ACTIVE,
            col(Subscription.subscriber_id).not_in(asked),
        )
    ).all()
    assert mailing_list.id is not None
    for subscriber_id in pending:
        enqueue_confirmation(session=session, subscriber_id=subscriber_id, list_id=mailing_list.id, now=now)
    return len(pending)


@dataclass
class QueueRun:
    """What one pass over the queue did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0


def send_due(engine: Engine, settings: Settings, *, now: datetime | None = None, limit: int = 500) -> QueueRun:
    """Send the queued mail that is due; a mail the server refuses or cannot take is retried later.

    Raises ConfigError only for a setting no mail could be sent with; a mail server that is down is a retry.
    """
    from digest.mail import open_backend

    now = now or utcnow()
    run = QueueRun()
    with Session(engine, expire_on_commit=False) as session:
        due = session.exec(
            select(TransactionalMail)
            .where(
                col(TransactionalMail.status) == TransactionalMailStatus.QUEUED,
                col(TransactionalMail.next_attempt_at) <= now,
            )
            .order_by(col(TransactionalMail.id))
            .limit(limit)
        ).all()
        if not due:
            return run
        # Imported once there is mail to render: a send with an empty queue needs no templates (Jinja2, Babel).
        from digest.mail.confirmation import send_confirmation

        with open_backend(settings) as backend:
            for mail in due:
                if not _claim(session, mail, now):
                    continue
                subscriber = session.get(Subscriber, mail.subscriber_id)
                mailing_list = session.get(MailingList, mail.list_id)
                subscription = session.exec(
                    select(Subscription).where(
                        Subscription.subscriber_id == mail.subscriber_id, Subscription.list_id == mail.list_id
                    )
                ).first()
                if (
                    subscriber is None
                    or mailing_list is None
                    or subscriber.status != SubscriberStatus.ACTIVE
                    or subscription is None
                    or not _still_to_ask(session, Reader(subscriber, subscription, mailing_list), now)
                ):
                    _settle(session, mail, TransactionalMailStatus.DROPPED, now)
                    run.dropped += 1
                    continue
                try:
                    send_confirmation(
                        settings=settings,
                        backend=backend,
                        subscriber=subscriber,
                        mailing_list=mailing_list,
                        message_key=f"mail-{mail.id}",
                    )
                except DigestError as err:
                    mail.attempts += 1
                    mail.error = str(err)[:1000]
                    if mail.attempts >= MAX_ATTEMPTS:
                        _settle(session, mail, TransactionalMailStatus.FAILED, now)
                        run.failed += 1
                    else:
                        mail.next_attempt_at = now + retry_delay(mail.attempts)
                        session.add(mail)
                        session.commit()
                        run.retrying += 1
                    log.warning(
                        "confirmation to reader %s not sent (try %s): %s", mail.subscriber_id, mail.attempts, err
                    )
                    continue
                mail.attempts += 1
                mail.error = None
                mail.sent_at = now
                _settle(session, mail, TransactionalMailStatus.SENT, now)
                run.sent += 1
    return run


def _claim(session: Session, mail: TransactionalMail, now: datetime) -> bool:
    """Take ``mail`` for this sender (no other sender takes it before ``CLAIM`` has passed)."""
    claimed = session.execute(
        update(TransactionalMail)
        .where(
            col(TransactionalMail.id) == mail.id,
            col(TransactionalMail.status) == TransactionalMailStatus.QUEUED,
            col(TransactionalMail.next_attempt_at) == mail.next_attempt_at,
        )
        .values(next_attempt_at=now + CLAIM)
    )
    session.commit()
    if getattr(claimed, "rowcount", 0) != 1:
        return False
    session.refresh(mail)
    return True


def _settle(session: Session, mail: TransactionalMail, status: TransactionalMailStatus, now: datetime) -> None:
    mail.status = status
    mail.next_attempt_at = now
    session.add(mail)
    session.commit()


def send_queued_mail(engine: Engine, settings: Settings) -> QueueRun:
    """:func:`send_due`, for a background task: errors are logged, never raised (the web process goes on)."""
    try:
        return send_due(engine, settings)
    except Exception:  # a broken setting or database: said in the log; the mail stays queued for the next pass
        log.exception("the transactional mail queue could not be sent")
        return QueueRun()


class QueueSender:
    """The web process's retries: a pass over the queue every ``interval`` seconds, in a thread."""

    def __init__(self, engine: Engine, settings: Settings, interval: float = WEB_INTERVAL_SECONDS) -> None:
        self.engine = engine
        self.settings = settings
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="transactional-mail", daemon=True)

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current pass."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        # Sign-ups send their own mail at once (a background task); this thread only retries.
        while not self._stop.wait(self.interval):
            send_queued_mail(self.engine, self.settings)


def _still_to_ask(session: Session, reader: Reader, now: datetime) -> bool:
    """Whether the reader still waits for this confirmation: pending, or left and asked again since by a
    sign-up (:func:`subscribers.store.confirmable`, for a link made now)."""
    status = reader.subscription.status
    if status == SubscriptionStatus.PENDING:
        return True
    return status == SubscriptionStatus.UNSUBSCRIBED and confirmable(
        session=session, reader=reader, issued=int(now.timestamp())
    )
