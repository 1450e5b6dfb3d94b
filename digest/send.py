"""Send an edition through the delivery ledger: enqueue, claim batches, hand them to a backend, record.

Every reader has at most one Delivery row per edition (a unique constraint), so a send can be repeated or
resumed without mailing anyone twice. A crashed run leaves rows in ``sending``; the next run marks them
``uncertain`` (the provider may have them) and never resends them unless asked.

What the provider answers decides each batch's fate:

    sent / refused per reader          sent, failed (5xx SMTP), back to the queue (4xx SMTP, up to MAX_ATTEMPTS)
    429, 5xx, connection refused       tried again after a backoff (the provider's reset time when it gives one);
                                       still failing: the run stops, its readers stay queued
    401, 403, a broken setting         the run stops at once, readers stay queued
    400, 413 for a single reader       failed, with the provider's answer (413 halves the batch first)
    no answer after the request left   uncertain

Batches are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so worker processes (``--workers``) and
other machines share one edition; on SQLite one process sends at a time. The hot path holds one batch of
readers at a time and writes each batch's outcome in a statement per distinct answer.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gc
import logging
import multiprocessing
import os
import queue
import random
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    CursorResult,
    Engine,
    distinct,
    func,
    literal,
    true,
    update,
)
from sqlalchemy import select as sql_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from digest.db import make_engine
from digest.edition import parse_sections, variant_key
from digest.errors import (
    ConfigError,
    DigestError,
    EditionError,
    MailError,
    NothingToSend,
    OutcomeUnknown,
    ProviderError,
    ProviderUnreachable,
)
from digest.ledger import REQUEUE, Ledger
from digest.links import Links
from digest.mail import get_backend
from digest.mail.base import Batch, Content, MailBackend, Outcome, Recipient, RecipientResult, sender_address
from digest.models import Delivery, DeliveryEvent, DeliveryStatus, Edition, EditionStatus, EditionVariant
from digest.settings import Settings
from subscribers.models import MailingList, Subscriber, Subscription, utcnow
from subscribers.store import eligible_subscribers

Clock = Callable[[], datetime]
LEASE = timedelta(minutes=10)
# Outcome of readers who left the list after being queued: their delivery row is deleted, nobody is mailed.
SKIP = "skip"
# How each outcome shows in a run's counts.
_COUNTED_AS = {Outcome.RETRY: "queued", REQUEUE: "queued", SKIP: "skipped"}
# Up to this many distinct answers per batch are stored with one UPDATE each; beyond, one executemany.
GROUPED_UPDATES = 8
log = logging.getLogger(__name__)


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


@contextmanager
def sqlite_send_lock(engine: Engine) -> Iterator[None]:
    """On SQLite, one `digest send` at a time: a second one stops with a clear message.

    The lock is an OS file lock beside the database, released by the kernel even when the process is killed,
    so holding it also proves that rows left in ``sending`` belong to a dead run.
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
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


@contextmanager
def _rare_collections() -> Iterator[None]:
    """Keep the cyclic garbage collector mostly out of the way of a send, and put it back after.

    A batch makes thousands of short-lived dicts and strings and no reference cycles, yet every 700 allocations
    started a collection that also walked what the process had loaded (SQLAlchemy, the rendered edition):
    10-15% of the sending time at 100,000 readers. Objects alive at the start are frozen out of the walks, and
    collections start after 10,000 allocations.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def enqueue(session: Session, edition: Edition, day_of_edition: datetime) -> int:
    """Insert, in one statement, a queued Delivery for every eligible reader who has none yet.

    Who is eligible is decided in one place, :func:`subscribers.store.eligible_subscribers`.
    """
    choices = (col(Subscriber.language), col(Subscription.sections), col(Subscription.format))
    readers = eligible_subscribers(list_id=edition.list_id, day=edition.date).add_columns(*choices).subquery()
    eligible = (
        sql_select(
            literal(edition.id),
            readers.c.id,
            literal(DeliveryStatus.QUEUED.value),
            literal(0),
            literal(day_of_edition),
        )
        .where(true())  # SQLite reads "SELECT ... FROM x ON CONFLICT" as a join constraint without a WHERE
        # Readers who get the same variant get consecutive ids, so a claim (by id) holds few variants and each
        # provider request carries as many readers as it may: with readers in claim order, a claim of 1000
        # readers of three languages made three requests.
        .order_by(readers.c.language, readers.c.sections, readers.c.format, readers.c.id)
    )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Readers who already have a delivery are skipped by the unique (edition, subscriber) pair. A NOT EXISTS
    # anti-join did the same but PostgreSQL, told the table is empty, rescans the growing table for every
    # reader (quadratic: 29 s for 60k readers); and concurrent senders simply wait for each other here.
    statement = (
        insert(Delivery)
        .from_select(["edition_id", "subscriber_id", "status", "attempts", "created_at"], eligible)
        .on_conflict_do_nothing(index_elements=["edition_id", "subscriber_id"])
    )
    result = session.execute(statement)
    session.commit()
    return _rowcount(result)


def _rowcount(result: object) -> int:
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


def _count_by_status(session: Session, edition_id: int) -> Counter[str]:
    rows = session.exec(
        select(Delivery.status, func.count()).where(Delivery.edition_id == edition_id).group_by(col(Delivery.status))
    ).all()
    return Counter({status: count for status, count in rows})


def _mark_orphans_uncertain(session: Session, edition_id: int, now: datetime, *, all_in_flight: bool) -> int:
    condition = [col(Delivery.edition_id) == edition_id, col(Delivery.status) == DeliveryStatus.SENDING]
    if not all_in_flight:
        condition.append(col(Delivery.lease_until) < now)
    result = session.execute(
        update(Delivery)
        .where(*condition)
        .values(status=DeliveryStatus.UNCERTAIN, error="interrupted while sending: the provider may have it")
    )
    session.commit()
    return _rowcount(result)


class _Reader(NamedTuple):
    """One reader of a claimed batch."""

    delivery_id: int
    subscriber_id: int
    email: str
    name: str | None
    language: str | None
    format: str | None
    #: Comma-separated sections the reader chose on this list (none: all).
    sections: str | None
    #: False when the reader left (unsubscribed, bounced, complained, erased) after being queued.
    still_subscribed: bool
    #: Signs the reader's links (digest.links).
    token_secret: str = ""


def _readers(ledger: Ledger, list_id: int, claimed: dict[int, int]) -> list[_Reader]:
    """The readers of claimed deliveries ({delivery id: subscriber id}) in claim order; one whose row is gone
    counts as no longer subscribed."""
    rows = ledger.readers(list_id, claimed.values())
    return [
        _Reader(delivery_id, *rows[subscriber_id])
        if subscriber_id in rows
        else _Reader(delivery_id, subscriber_id, "", None, None, None, None, False)
        for delivery_id, subscriber_id in claimed.items()
    ]


class _Outcomes:
    """What became of one claimed batch, grouped by answer: the ledger stores each group in one statement."""

    def __init__(self) -> None:
        self.groups: defaultdict[tuple[str, str | None, str | None], list[int]] = defaultdict(list)

    def add(self, outcome: str, ids: Iterable[int], error: str | None = None) -> None:
        """The same ``outcome`` for every delivery of ``ids``."""
        ids = list(ids)
        if ids:
            self.groups[(outcome, None, error)].extend(ids)

    def add_results(self, results: Iterable[RecipientResult]) -> None:
        """What a backend answered, reader by reader."""
        groups = self.groups
        for result in results:
            if result.recipient.delivery_id is not None:
                groups[(result.outcome, result.provider_id, result.error)].append(result.recipient.delivery_id)

    def settled(self) -> set[int]:
        """The deliveries that have an outcome."""
        return {delivery_id for ids in self.groups.values() for delivery_id in ids}

    def counts(self) -> Counter[str]:
        """How many deliveries each outcome settled, as a run's counts show them."""
        counts: Counter[str] = Counter()
        for (outcome, _, _), ids in self.groups.items():
            counts[_COUNTED_AS.get(outcome, outcome)] += len(ids)
        return counts

    def store(self, ledger: Ledger, now: datetime) -> None:
        """Write every outcome: one statement per distinct answer (a SendGrid batch is one statement); backends
        that answer per message (outbox, SMTP) give each reader its own id, stored in one executemany."""
        groups = dict(self.groups)
        skipped = groups.pop((SKIP, None, None), None)
        if skipped:
            ledger.forget(skipped)
        if len(groups) <= GROUPED_UPDATES:
            for (outcome, provider_id, error), ids in groups.items():
                ledger.record(outcome, ids, now, provider_id=provider_id, error=error)
            return
        by_outcome: defaultdict[str, list[tuple[int, str | None, str | None]]] = defaultdict(list)
        for (outcome, provider_id, error), ids in groups.items():
            by_outcome[outcome].extend((delivery_id, provider_id, error) for delivery_id in ids)
        for outcome, rows in by_outcome.items():
            ledger.record_each(outcome, rows, now)


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How a send runs; the defaults suit a daily cron."""

    batch_size: int = 1000
    retry_uncertain: bool = False
    force: bool = False
    workers: int = 1
    #: Most messages per second over the whole send (0: no limit but the provider's).
    max_rate: float = 0.0
    #: Tries after the first for a batch answered 429 / 5xx or refused at connection.
    retries: int = 5


@dataclass
class Pacing:
    """Time as the sender sees it: waits between retries and for the rate limit. Tests pass fakes."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random
    base_delay: float = 1.0
    max_delay: float = 300.0
    _next_slot: float = 0.0

    def backoff(self, attempt: int, hint: float | None) -> float:
        """Seconds before try ``attempt`` (1, 2, ...): the provider's reset time if it gave one, else
        exponential with jitter, so many senders do not retry in step."""
        if hint is not None:
            return min(self.max_delay, hint + self.jitter() * self.base_delay)
        exponential = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return exponential / 2 + self.jitter() * exponential / 2

    def throttle(self, messages: int, rate: float) -> None:
        """Wait until ``messages`` more messages fit under ``rate`` per second."""
        if rate <= 0:
            return
        now = self.monotonic()
        if self._next_slot > now:
            self.sleep(self._next_slot - now)
            now = self._next_slot
        self._next_slot = now + messages / rate


class StopFlag:
    """Raised by SIGTERM (systemd, kill) or SIGINT (Ctrl-C): the send stops after the batch in flight."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    @classmethod
    @contextmanager
    def on_signals(cls) -> Iterator[StopFlag]:
        """A flag this process's SIGTERM and SIGINT raise (a second Ctrl-C stops at once); the previous
        handlers come back when the block ends."""
        flag = cls()

        def handle(signum: int, frame: Any) -> None:
            if flag.requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            flag.requested = True
            log.warning("stopping after the batch in flight (signal %d)", signum)

        previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield flag
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


class _Stop(Exception):
    """The provider cannot take mail now (down, or refusing our key): stop the run, keep readers queued."""

    def __init__(self, error: MailError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Mailing:
    """One edition going out through one backend: what every kind of send (real, dry run, test) needs."""

    engine: Engine
    edition_id: int
    backend: MailBackend
    links: Links
    sender: str
    default_language: str

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine, edition_id: int) -> Mailing:
        """The mailing of ``edition_id`` through the backend, links and sender the settings name."""
        return cls(
            engine=engine,
            edition_id=edition_id,
            backend=get_backend(settings),
            links=Links(settings.base_url, settings.signing_keys()),
            sender=settings.from_address,
            default_language=settings.language,
        )

    def load(self, session: Session) -> _EditionContext:
        """The edition with its list and rendered variants."""
        edition = session.get(Edition, self.edition_id)
        if edition is None:
            raise EditionError(f"no edition with id {self.edition_id}")
        # Checked before any claim: a bad DIGEST_FROM must stop the send before anyone is taken from the queue.
        sender_address(self.sender)
        return _EditionContext.load(session, edition, self.sender, self.default_language)


@dataclass
class _EditionContext:
    """What every batch of one edition shares, loaded once per process."""

    edition: Edition
    mailing_list: MailingList
    variants: dict[str, EditionVariant]
    sender: str
    default_language: str

    @classmethod
    def load(cls, session: Session, edition: Edition, sender: str, default_language: str) -> _EditionContext:
        mailing_list = session.get(MailingList, edition.list_id)
        assert mailing_list is not None
        variants = {
            v.key: v for v in session.exec(select(EditionVariant).where(EditionVariant.edition_id == edition.id))
        }
        if not variants:
            raise EditionError(f"the {edition.date} edition has no rendered variant: run `digest build` again")
        return cls(edition, mailing_list, variants, sender, default_language)

    @property
    def key(self) -> str:
        return f"{self.edition.date.isoformat()}.{self.mailing_list.slug}"

    def variant(self, language: str | None, sections: str | None = None) -> EditionVariant:
        """The variant a reader gets: their language and sections when rendered, else their language with
        every section, else the publication's default language."""
        chosen = parse_sections(sections)
        candidates = [
            variant_key(language or self.default_language, chosen),
            variant_key(language or self.default_language),
        ]
        candidates += [variant_key(self.default_language, chosen), variant_key(self.default_language)]
        for key in candidates:
            if key in self.variants:
                return self.variants[key]
        return next(iter(self.variants.values()))

    @staticmethod
    def content(variant: EditionVariant, fmt: str) -> Content:
        """``variant`` as a reader of format ``fmt`` (html or text) gets it."""
        return Content(subject=variant.subject, html=None if fmt == "text" else variant.html, text=variant.text)

    def batch(self, content: Content, recipients: list[Recipient], now: datetime) -> Batch:
        """One provider call's worth: ``content`` to ``recipients``."""
        return Batch(
            content=content,
            recipients=recipients,
            sender=self.sender,
            list_id=f"{self.mailing_list.name} <{self.mailing_list.slug}.{sender_address(self.sender).domain}>",
            now=now,
            edition_key=self.key,
            categories=(self.mailing_list.slug, self.edition.date.isoformat()),
            custom_args={"edition_id": str(self.edition.id)},
        )


class _Deliverer:
    """Claims batches of one edition and hands them to the backend until none is left (one per process)."""

    def __init__(
        self,
        *,
        session: Session,
        context: _EditionContext,
        mailing: Mailing,
        options: SendOptions,
        pacing: Pacing,
        clock: Clock,
        on_progress: Callable[[int], None] | None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.should_stop = should_stop
        self.session = session
        self.context = context
        self.backend = mailing.backend
        self.links = mailing.links
        self.options = options
        self.pacing = pacing
        self.clock = clock
        self.on_progress = on_progress
        self.ledger = Ledger(session)
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []

    def run(self) -> None:
        """Send batch after batch; a provider that stays down stops the run with its readers still queued.

        Between batches ``should_stop`` is asked whether to stop (SIGTERM from systemd, Ctrl-C): the batch
        in flight is finished and recorded first, so a stop never leaves anyone uncertain. Batches are sent
        one after another on purpose: claiming the next batch while one is on the wire was measured to gain
        nothing beyond noise here (the sender is CPU-bound), and a crash would leave that claimed, never-sent
        batch looking uncertain.
        """
        with _rare_collections():
            self._deliver()

    def _deliver(self) -> None:
        edition_id = self.context.edition.id
        assert edition_id is not None
        list_id = self.context.edition.list_id
        size = min(self.options.batch_size, self.backend.max_batch)
        after = 0
        while not self.should_stop():
            ids = self.ledger.claim(edition_id, size, self.clock() + LEASE, after)
            self.session.commit()
            if not ids:
                if not after:
                    break
                # Readers put back in the queue (a temporary refusal) sit behind the cursor: one more pass.
                after = 0
                continue
            after = max(ids)
            readers = _readers(self.ledger, list_id, ids)
            outcomes = _Outcomes()
            # Readers who left since they were queued are taken off the queue, not mailed.
            outcomes.add(SKIP, (r.delivery_id for r in readers if not r.still_subscribed))
            try:
                for batch in self._batches([r for r in readers if r.still_subscribed]):
                    self._send(batch, ids, outcomes)
            except _Stop as stop:
                self._requeue_rest(ids, outcomes, stop.error)
                raise stop.error from stop
            except DigestError as err:
                # Raised while building a batch (a bad setting): nothing of the rest reached the provider.
                self._requeue_rest(ids, outcomes, err)
                raise
            self._record(outcomes)
        if self.should_stop():
            raise DigestError("stopped on request; the readers not reached yet stay queued: run `digest send` again")

    def _requeue_rest(self, ids: dict[int, int], outcomes: _Outcomes, error: DigestError) -> None:
        settled = outcomes.settled()
        outcomes.add(REQUEUE, (i for i in ids if i not in settled), error=str(error))
        self._record(outcomes)

    def _record(self, outcomes: _Outcomes) -> None:
        outcomes.store(self.ledger, self.clock())
        self.session.commit()
        counts = outcomes.counts()
        self.counts.update(counts)
        if self.on_progress:
            self.on_progress(counts.total())

    def _batches(self, readers: list[_Reader]) -> Iterator[Batch]:
        groups: dict[tuple[str, str], list[_Reader]] = defaultdict(list)
        # Readers share a handful of (language, sections) choices: each is resolved to its variant once, not
        # per reader (resolving parses the sections and reads ORM attributes).
        variant_keys: dict[tuple[str | None, str | None], str] = {}
        for reader in readers:
            choice = (reader.language, reader.sections)
            key = variant_keys.get(choice)
            if key is None:
                key = variant_keys[choice] = self.context.variant(*choice).key
            groups[(key, reader.format or "html")].append(reader)
        list_id = self.context.edition.list_id
        reader_fields = self.links.reader_fields
        for (key, fmt), group in groups.items():
            recipients = [
                Recipient(
                    email=r.email,
                    name=r.name,
                    delivery_id=r.delivery_id,
                    fields=reader_fields(r.subscriber_id, list_id, r.token_secret),
                )
                for r in group
            ]
            content = self.context.content(self.context.variants[key], fmt)
            yield self.context.batch(content, recipients, self.clock())

    def _send(self, batch: Batch, claimed: dict[int, int], outcomes: _Outcomes) -> None:
        """Send one batch, retrying what may be retried; adds an outcome for each of its readers to ``outcomes``
        as soon as it is known, so a later stop never puts back in the queue a reader already sent."""
        attempt = 0
        while True:
            self.pacing.throttle(len(batch.recipients), self.options.max_rate / max(1, self.options.workers))
            try:
                results = self.backend.send_batch(batch)
            except ProviderError as err:
                if err.status == 413 and len(batch.recipients) > 1:
                    # Too large for one request: halve it until it fits (a single reader too large fails).
                    half = len(batch.recipients) // 2
                    first = dataclasses.replace(batch, recipients=batch.recipients[:half])
                    second = dataclasses.replace(batch, recipients=batch.recipients[half:])
                    self._send(first, claimed, outcomes)
                    self._send(second, claimed, outcomes)
                    return
                if err.retryable and attempt < self.options.retries:
                    attempt += 1
                    self._wait(attempt, err, claimed)
                    continue
                if err.retryable or err.status in (401, 403):
                    raise _Stop(err) from err
                self.errors.append(str(err))
                outcomes.add(Outcome.FAILED, _delivery_ids(batch), error=str(err))
                return
            except ProviderUnreachable as err:
                if attempt < self.options.retries:
                    attempt += 1
                    self._wait(attempt, err, claimed)
                    continue
                raise _Stop(err) from err
            except OutcomeUnknown as err:
                self.errors.append(str(err))
                outcomes.add(Outcome.UNCERTAIN, _delivery_ids(batch), error=str(err))
                return
            except MailError as err:
                raise _Stop(err) from err
            for result in results:
                if result.error and result.outcome is not Outcome.SENT:
                    self.errors.append(f"{result.recipient.email}: {result.error}")
            outcomes.add_results(results)
            return

    def _wait(self, attempt: int, err: MailError, claimed: dict[int, int]) -> None:
        delay = self.pacing.backoff(attempt, err.retry_after if isinstance(err, ProviderError) else None)
        log.warning("%s; try %d of %d in %.1f s", err, attempt + 1, self.options.retries + 1, delay)
        # The batch stays ours while we wait: a long wait must not make another worker think we died.
        self.ledger.extend_lease(claimed, self.clock() + LEASE + timedelta(seconds=delay))
        self.session.commit()
        self.pacing.sleep(delay)


def _delivery_ids(batch: Batch) -> list[int]:
    return [r.delivery_id for r in batch.recipients if r.delivery_id is not None]


def _prepare(session: Session, edition: Edition, options: SendOptions, now: datetime, report: SendReport) -> int:
    """Settle what earlier runs left, enqueue new readers; returns how many deliveries wait."""
    assert edition.id is not None
    if edition.status == EditionStatus.DRAFT and not options.force:
        raise EditionError(
            f"the {edition.date} edition is a draft: approve it (`digest approve --date {edition.date}`) "
            "or set DIGEST_AUTO_APPROVE=1"
        )
    dialect = session.get_bind().dialect.name
    # On SQLite the send lock proves no other sender lives: every row still `sending` is an orphan.
    report.made_uncertain = _mark_orphans_uncertain(session, edition.id, now, all_in_flight=dialect == "sqlite")
    if options.retry_uncertain:
        result = session.execute(
            update(Delivery)
            .where(col(Delivery.edition_id) == edition.id, col(Delivery.status) == DeliveryStatus.UNCERTAIN)
            .values(status=DeliveryStatus.QUEUED, error=None)
        )
        session.commit()
        report.requeued_uncertain = _rowcount(result)
    before = _count_by_status(session, edition.id).total()
    enqueue(session, edition, now)
    after = _count_by_status(session, edition.id)
    # Counted rather than taken from the INSERT's rowcount, which psycopg reports as -1 for INSERT ... SELECT.
    report.newly_queued = after.total() - before
    return after[DeliveryStatus.QUEUED]


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
        waiting = _prepare(session, edition, options, clock(), report)
        if not waiting:
            report.totals = _count_by_status(session, edition_id)
            if report.finished:
                _finish(session, edition, clock())
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
                _run_workers(worker_settings, edition_id, options, report, on_progress)
            else:
                deliverer = _Deliverer(
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
            report.totals = _count_by_status(session, edition_id)
        if report.finished:
            _finish(session, edition, clock())
    return report


def _run_workers(
    settings: Settings,
    edition_id: int,
    options: SendOptions,
    report: SendReport,
    on_progress: Callable[[int], None] | None,
) -> None:
    """Run ``options.workers`` processes on one edition; they share its queue through SKIP LOCKED claims."""
    context = multiprocessing.get_context("spawn")
    messages: Any = context.Queue()
    processes = [
        context.Process(target=_worker, args=(settings, edition_id, options, messages), daemon=True)
        for _ in range(options.workers)
    ]
    for process in processes:
        process.start()
    reported, failures = 0, []
    while reported < len(processes):
        try:
            kind, value = messages.get(timeout=1.0)
        except queue.Empty:
            # A worker killed outright (OOM, SIGKILL) never reports: stop waiting once all have exited.
            if all(not process.is_alive() for process in processes) and messages.empty():
                failures.append("a worker process died; run `digest send` again to settle its batch")
                break
            continue
        if kind == "progress" and on_progress:
            on_progress(value)
        elif kind == "done":
            reported += 1
            counts, errors, failure = value
            report.this_run.update(counts)
            report.errors.extend(errors)
            if failure:
                failures.append(failure)
    for process in processes:
        process.join()
    if failures:
        raise MailError(failures[0])


def _worker(settings: Settings, edition_id: int, options: SendOptions, messages: Any) -> None:
    """One worker process: its own engine and backend, claiming batches until the queue is empty."""
    engine = make_engine(settings.database_url)
    mailing = Mailing.from_settings(settings, engine, edition_id)
    counts: Counter[str] = Counter()
    errors: list[str] = []
    failure = None
    try:
        with StopFlag.on_signals() as stop, Session(engine, expire_on_commit=False) as session:
            deliverer = _Deliverer(
                session=session,
                context=mailing.load(session),
                mailing=mailing,
                options=options,
                pacing=Pacing(),
                clock=utcnow,
                on_progress=lambda n: messages.put(("progress", n)),
                should_stop=stop,
            )
            try:
                deliverer.run()
            finally:
                counts, errors = deliverer.counts, deliverer.errors
    except DigestError as err:
        failure = str(err)
    finally:
        mailing.backend.close()
        engine.dispose()
        messages.put(("done", (dict(counts), errors, failure)))


@dataclass
class DryRunReport:
    """What a send would do: how many readers get which variant, and the first few addresses."""

    readers: Counter[str] = field(default_factory=Counter)
    sample: list[str] = field(default_factory=list)
    checked_by_provider: bool = False

    @property
    def total(self) -> int:
        """How many readers would get the edition."""
        return sum(self.readers.values())


def dry_run(
    mailing: Mailing,
    *,
    options: SendOptions | None = None,
    clock: Clock = utcnow,
) -> DryRunReport:
    """Everything a send does but the delivery: the queue is computed in a transaction rolled back at
    the end, every batch is built, and a provider with a sandbox (SendGrid) checks each request."""
    options = options or SendOptions()
    backend = mailing.backend
    report = DryRunReport(checked_by_provider=backend.has_sandbox)
    with mailing.engine.connect() as connection:
        transaction = connection.begin()
        # The session's commits stay inside the outer transaction, which is rolled back: nothing is stored.
        session = Session(bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False)
        try:
            context = mailing.load(session)
            edition = context.edition
            _prepare(session, edition, options, clock(), SendReport())
            deliverer = _Deliverer(
                session=session,
                context=context,
                mailing=mailing,
                options=options,
                pacing=Pacing(),
                clock=clock,
                on_progress=None,
            )
            size = min(options.batch_size, backend.max_batch)
            last = 0
            while ids := deliverer.ledger.queued(mailing.edition_id, size, last):
                last = max(ids)
                for batch in deliverer._batches(_readers(deliverer.ledger, edition.list_id, ids)):
                    variant = f"{batch.content.subject} ({'text' if batch.content.html is None else 'html'})"
                    report.readers[variant] += len(batch.recipients)
                    report.sample.extend(r.email for r in batch.recipients[: max(0, 10 - len(report.sample))])
                    if backend.has_sandbox:
                        backend.send_batch(dataclasses.replace(batch, sandbox=True))
                    else:
                        backend.build_payload(batch)
        finally:
            session.close()
            transaction.rollback()
    return report


def send_test(mailing: Mailing, addresses: list[str], *, clock: Clock = utcnow) -> list[RecipientResult]:
    """Send the edition to ``addresses`` only, subject prefixed ``[TEST]``; no ledger row is written.

    Drafts may be tested: that is what a test send is for. Links in a test message verify as nobody.
    """
    with Session(mailing.engine) as session:
        context = mailing.load(session)
    variant = context.variant(mailing.default_language)
    content = Content(subject=f"[TEST] {variant.subject}", html=variant.html, text=variant.text)
    # Subscriber id 0 never exists and no reader has an empty secret: the test's links act on nobody.
    fields = mailing.links.reader_fields(0, context.edition.list_id, "")
    recipients = [Recipient(email=address, fields=fields) for address in dict.fromkeys(addresses)]
    return mailing.backend.send_batch(context.batch(content, recipients, clock()))


def _finish(session: Session, edition: Edition, now: datetime) -> None:
    if edition.status != EditionStatus.SENT:
        edition.status = EditionStatus.SENT
        edition.sent_at = now
        session.add(edition)
        session.commit()


def event_counts(session: Session, edition_ids: list[int]) -> dict[int, Counter[str]]:
    """Per edition, how many deliveries had each event (a reader who opened twice counts once)."""
    rows = session.exec(
        select(DeliveryEvent.edition_id, DeliveryEvent.event, func.count(distinct(col(DeliveryEvent.delivery_id))))
        .where(col(DeliveryEvent.edition_id).in_(edition_ids))
        .group_by(col(DeliveryEvent.edition_id), col(DeliveryEvent.event))
    ).all()
    counts: dict[int, Counter[str]] = {}
    for edition_id, kind, count in rows:
        if edition_id is not None:
            counts.setdefault(edition_id, Counter())[kind] = count
    return counts


def delivery_counts(session: Session, edition_ids: list[int]) -> dict[int, Counter[str]]:
    """Per edition, how many deliveries are in each status (one query for all editions)."""
    rows = session.exec(
        select(Delivery.edition_id, Delivery.status, func.count())
        .where(col(Delivery.edition_id).in_(edition_ids))
        .group_by(col(Delivery.edition_id), col(Delivery.status))
    ).all()
    counts: dict[int, Counter[str]] = {}
    for edition_id, status, count in rows:
        counts.setdefault(edition_id, Counter())[status] = count
    return counts
