"""Send an edition: settle and fill its queue, run the deliverer (or worker processes), mark it sent.

Batches are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so worker processes (``--workers``) and
other machines share one edition; on SQLite one process sends at a time. The hot path holds one batch of
readers at a time and writes each batch's outcome in a statement per distinct answer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from digest.delivery.batches import Clock, Mailing
from digest.delivery.deliverer import Deliverer
from digest.delivery.policy import SendOptions
from digest.delivery.queue import count_by_status, finish, prepare
from digest.delivery.runtime import Pacing, sqlite_send_lock
from digest.delivery.workers import run_workers
from digest.errors import ConfigError, NothingToSend
from digest.models import DeliveryStatus, EditionStatus
from digest.settings import Settings
from subscribers.models import utcnow


@dataclass
class SendReport:
    """What one `digest send` did, and where the edition stands afterwards."""

    newly_queued: int = 0
    made_uncertain: int = 0
    requeued_uncertain: int = 0
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

    ``on_start(waiting)`` is called once the queue is known, ``on_progress(n)`` after each batch of ``n``;
    ``should_stop()`` true ends the send after the batch in flight (workers stop on SIGTERM/SIGINT themselves).
    With ``options.workers`` > 1 (PostgreSQL only) that many processes, built from ``worker_settings``,
    share the queue. Raises EditionError for a draft (unless ``options.force``), NothingToSend when every
    reader already has it, MailError when the provider stays unavailable (its readers stay queued).
    """
    options = options or SendOptions()
    engine, edition_id = mailing.engine, mailing.edition_id
    if options.workers > 1 and engine.dialect.name != "postgresql":
        raise ConfigError("--workers needs PostgreSQL (DATABASE_URL=postgresql+psycopg://...); SQLite sends alone")
    report = SendReport()
    # Not expired on commit: the edition, its list and its rendered variants are read once, not again after
    # every batch's commit (that reloaded them for every batch).
    with sqlite_send_lock(engine), Session(engine, expire_on_commit=False) as session:
        context = mailing.load(session)
        edition = context.edition
        prepared = prepare(session, edition, options, clock())
        report.made_uncertain, report.requeued_uncertain, report.newly_queued, waiting = prepared
        if not waiting:
            report.totals = count_by_status(session, edition_id)
            if report.finished:
                finish(session, edition, clock())
            raise NothingToSend(
                f"the {edition.date} edition of {context.mailing_list.slug} was already sent to everyone "
                f"({report.totals[DeliveryStatus.SENT]} sent, {report.totals[DeliveryStatus.FAILED]} failed, "
                f"{report.totals[DeliveryStatus.UNCERTAIN]} uncertain)"
            )
        edition.status = EditionStatus.SENDING
        session.add(edition)
        session.commit()
        if on_start:
            on_start(waiting)
        started = time.perf_counter()
        try:
            if options.workers > 1:
                assert worker_settings is not None, "workers build their own backend from the settings"
                run_workers(worker_settings, edition_id, options, report.this_run, report.errors, on_progress)
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
                )
                try:
                    deliverer.run()
                finally:
                    report.this_run.update(deliverer.counts)
                    report.errors.extend(deliverer.errors)
        finally:
            report.seconds = time.perf_counter() - started
            report.totals = count_by_status(session, edition_id)
        if report.finished:
            finish(session, edition, clock())
    return report
