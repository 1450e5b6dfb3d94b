"""Send an edition: settle and fill its queue, run the deliverer (or worker processes), mark it sent.

Batches are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so worker processes (``--workers``) and
other machines share one edition; on SQLite one process sends at a time. The hot path holds one batch of
readers at a time and writes each batch's outcome in a statement per distinct answer.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from digest.delivery.batches import Clock, Mailing
from digest.delivery.deliverer import Deliverer
from digest.delivery.liveness import SenderLock, lost_database, sender_lock, settle_orphans
from digest.delivery.policy import SendOptions
from digest.delivery.queue import count_by_status, finish, prepare
from digest.delivery.runtime import Pacing
from digest.delivery.workers import run_workers
from digest.errors import ConfigError, NothingToSend
from digest.models import DeliveryStatus, Edition, EditionStatus
from digest.settings import Settings
from subscribers.models import utcnow

log = logging.getLogger(__name__)


@dataclass
class SendReport:
    """What one `digest send` did, and where the edition stands afterwards."""

    newly_queued: int = 0
    made_uncertain: int = 0
    requeued_uncertain: int = 0
    #: Uncertain deliveries ``--retry-uncertain`` left alone: the provider's events may still settle them.
    uncertain_waiting: int = 0
    #: Uncertain deliveries a provider event settled at the start of this run.
    settled_by_events: int = 0
    this_run: Counter[str] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    #: Seconds of the sending phase: from the first claim to the last record (start-up and enqueue excluded).
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Readers settled per second of the sending phase."""
        return self.this_run.total() / self.seconds if self.seconds else 0.0

    @property
    def finished(self) -> bool:
        """True when no delivery of the edition is waiting or in flight."""
        return not self.totals[DeliveryStatus.QUEUED] and not self.totals[DeliveryStatus.SENDING]

    @property
    def needs_attention(self) -> str | None:
        """One line saying which readers are not done and what to do, or None when everyone due got it.

        Readers failed in this run, and readers of the edition still uncertain, queued or in flight, all
        need a person (DESIGN's exit table: `digest send` exits 1).
        """
        totals, parts = self.totals, []
        if self.this_run[DeliveryStatus.FAILED]:
            parts.append(
                f"{self.this_run[DeliveryStatus.FAILED]} failed in this run (reasons above, and in the ledger)"
            )
        if totals[DeliveryStatus.UNCERTAIN]:
            waiting = f", {self.uncertain_waiting} of them too recent to resend yet" if self.uncertain_waiting else ""
            parts.append(
                f"{totals[DeliveryStatus.UNCERTAIN]} uncertain{waiting} (the provider may have them: check its "
                "activity log, then `digest send --retry-uncertain`)"
            )
        if totals[DeliveryStatus.QUEUED]:
            parts.append(f"{totals[DeliveryStatus.QUEUED]} still queued (run `digest send` again)")
        if totals[DeliveryStatus.SENDING]:
            parts.append(
                f"{totals[DeliveryStatus.SENDING]} in flight with another live sender (run `digest send` again "
                "once it ends)"
            )
        return "readers not done: " + "; ".join(parts) if parts else None


def send_edition(
    mailing: Mailing,
    *,
    options: SendOptions | None = None,
    pacing: Pacing | None = None,
    clock: Clock = utcnow,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    worker_settings: Settings | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SendReport:
    """Deliver the edition to every eligible reader who does not have it yet, batch after batch.

    ``on_start(waiting)`` is called once the queue is known, ``on_progress(n)`` as ``n`` more messages reach
    the provider (sent, refused or uncertain); ``should_stop()`` true ends the send after the readers in flight
    (workers stop on SIGTERM/SIGINT themselves). With ``options.workers`` > 1 (PostgreSQL only) that many
    processes, built from ``worker_settings``, share the queue. Raises EditionError for a draft (unless
    ``options.force``), NothingToSend only when there is nothing to do (every reader due already had a final
    outcome), MailError when the provider stays unavailable (its readers stay queued), DigestError naming the
    database when it is lost. The edition is ``sending`` only while this run sends: after, ``sent`` when nobody
    is left queued or in flight, else back to its status before the run.
    """
    options = options or SendOptions()
    engine = mailing.engine
    if options.workers > 1 and engine.dialect.name != "postgresql":
        raise ConfigError("--workers needs PostgreSQL (DATABASE_URL=postgresql+psycopg://...); SQLite sends alone")
    report = SendReport()
    try:
        # Not expired on commit: the edition, its list and its rendered variants are read once, not again
        # after every batch's commit (that reloaded them for every batch).
        with sender_lock(engine) as lock, Session(engine, expire_on_commit=False) as session:
            _send(
                session,
                mailing,
                options,
                pacing,
                clock,
                on_start,
                on_progress,
                worker_settings,
                should_stop,
                lock,
                report,
            )
    except SQLAlchemyError as err:
        raise lost_database(engine, err) from err
    return report


def _send(
    session: Session,
    mailing: Mailing,
    options: SendOptions,
    pacing: Pacing | None,
    clock: Clock,
    on_start: Callable[[int], None] | None,
    on_progress: Callable[[int], None] | None,
    worker_settings: Settings | None,
    should_stop: Callable[[], bool],
    lock: SenderLock,
    report: SendReport,
) -> None:
    edition_id = mailing.edition_id
    context = mailing.load(session)
    edition = context.edition
    prepared = prepare(session, edition, options, clock())
    report.made_uncertain, report.requeued_uncertain, report.newly_queued = prepared[:3]
    report.uncertain_waiting, report.settled_by_events = prepared.uncertain_waiting, prepared.settled_by_events
    if not prepared.waiting:
        report.totals = count_by_status(session, edition_id)
        if report.finished:
            finish(session, edition, clock(), options)
        if report.needs_attention is None and not report.made_uncertain:
            raise NothingToSend(
                f"the {edition.date} edition of {context.mailing_list.slug} was already sent to everyone due "
                f"({report.totals[DeliveryStatus.SENT]} sent, {report.totals[DeliveryStatus.FAILED]} failed)"
            )
        # Nothing to send now, yet not done: readers uncertain or in flight elsewhere. The caller says so.
        return
    status_before = edition.status
    edition.status = EditionStatus.SENDING
    session.add(edition)
    session.commit()
    if on_start:
        on_start(prepared.waiting)
    started = time.perf_counter()
    try:
        if options.workers > 1:
            assert worker_settings is not None, "workers build their own backend from the settings"
            try:
                run_workers(worker_settings, edition_id, options, report.this_run, report.errors, on_progress)
            finally:
                # The workers are gone: what a dead one left in flight is settled now, not at the next run.
                settle_orphans(session, edition_id, clock())
        else:
            deliverer = Deliverer(
                session=session,
                context=context,
                mailing=mailing,
                options=options,
                pacing=pacing or Pacing(),
                clock=clock,
                on_progress=on_progress,
                should_stop=should_stop,
                lock=lock,
            )
            try:
                deliverer.run()
            finally:
                report.this_run.update(deliverer.counts)
                report.errors.extend(deliverer.errors)
    finally:
        report.seconds = time.perf_counter() - started
        _settle_status(session, edition, status_before, clock, report, options)


def _settle_status(
    session: Session, edition: Edition, before: str, clock: Clock, report: SendReport, options: SendOptions
) -> None:
    """Leave the edition in a truthful status after a run, even one stopped or failed (the database may be
    gone: then the next run, which settles everything, says where it stands)."""
    try:
        session.rollback()
        report.totals = count_by_status(session, edition.id or 0)
        if report.finished and options.last_turn:
            finish(session, edition, clock())
        elif not report.totals[DeliveryStatus.SENDING]:
            edition.status = before
            session.add(edition)
            session.commit()
    except SQLAlchemyError:
        log.warning("could not record the edition's status: the database is unreachable")
