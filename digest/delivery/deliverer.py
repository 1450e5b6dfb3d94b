"""The claim/send loop: claim a batch of queued deliveries, hand its provider calls to the backend, record
what the provider answered, until the queue is empty (one deliverer per process).

What each answer does is :mod:`digest.delivery.policy`; the statements are :mod:`digest.delivery.ledger`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlmodel import Session

from digest.delivery.batches import Clock, EditionContext, Mailing, build_batches, claimed_readers
from digest.delivery.events import suppress_refused_addresses
from digest.delivery.ledger import REQUEUE, Ledger
from digest.delivery.liveness import SenderLock, settle_orphans
from digest.delivery.policy import Action, SendOptions, on_error
from digest.delivery.runtime import Pacing, rare_collections
from digest.errors import DigestError, MailError, ProviderError
from digest.mail.base import Batch, Outcome, RecipientResult

LEASE = timedelta(minutes=10)
# Outcome of readers who left the list after being queued: their delivery row is deleted, nobody is mailed.
SKIP = "skip"
# How each outcome shows in a run's counts.
_COUNTED_AS = {Outcome.RETRY: "queued", REQUEUE: "queued", SKIP: "skipped"}
# Up to this many distinct answers per batch are stored with one UPDATE each; beyond, one executemany.
GROUPED_UPDATES = 8
# At most this many seconds of answers wait to be stored: what a crash can leave uncertain beyond the message
# in flight. Backends answering message by message (SMTP, outbox) also get claims sized to about this long, so
# the claimed readers a crash leaves in flight (sent, in flight, or not reached yet) are half a second's worth.
RECORD_EVERY = 0.5
# Outcomes that mean the message reached the provider (or was refused for good): what progress counts.
_FINAL = (Outcome.SENT, Outcome.FAILED, Outcome.UNCERTAIN)
log = logging.getLogger(__name__)


class Outcomes:
    """What became of one claimed batch, grouped by answer: the ledger stores each group in one statement."""

    def __init__(self) -> None:
        self.groups: defaultdict[tuple[str, str | None, str | None], list[int]] = defaultdict(list)
        #: Deliveries of the batch whose outcome is already stored (recorded as they were answered).
        self.stored: set[int] = set()

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
        """The deliveries that have an outcome, stored or not yet."""
        return self.stored | {delivery_id for ids in self.groups.values() for delivery_id in ids}

    def clear(self) -> None:
        """Forget the stored outcomes' groups (their ids stay in ``stored``)."""
        for ids in self.groups.values():
            self.stored.update(ids)
        self.groups.clear()

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


class _Stop(Exception):
    """The provider cannot take mail now (down, or refusing our key): stop the run, keep readers queued."""

    def __init__(self, error: MailError) -> None:
        super().__init__(str(error))
        self.error = error


class Deliverer:
    """Claims batches of one edition and hands them to the backend until none is left (one per process)."""

    def __init__(
        self,
        *,
        session: Session,
        context: EditionContext,
        mailing: Mailing,
        options: SendOptions,
        pacing: Pacing,
        clock: Clock,
        on_progress: Callable[[int], None] | None,
        should_stop: Callable[[], bool] = lambda: False,
        lock: SenderLock | None = None,
    ) -> None:
        self.should_stop = should_stop
        self.lock = lock or SenderLock()
        self._last_record = time.monotonic()
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
        with rare_collections():
            self._deliver()

    def _deliver(self) -> None:
        edition_id = self.context.edition.id
        assert edition_id is not None
        list_id = self.context.edition.list_id
        most = min(self.options.batch_size, self.backend.max_batch)
        # A backend answering message by message starts with one reader per claim and grows towards claims of
        # RECORD_EVERY seconds; a provider call for many readers at once takes as many as it may.
        size = 1 if self.backend.answers_each else most
        after = 0
        while not self.should_stop():
            self.lock.check()
            now = self.clock()
            ids = self.ledger.claim(edition_id, size, now + LEASE, after, now=now, claimer=self.lock.token)
            self.session.commit()
            if not ids:
                if not after:
                    break
                # Readers put back in the queue (a temporary refusal) sit behind the cursor: one more pass.
                after = 0
                continue
            after = max(ids)
            started = time.monotonic()
            readers = claimed_readers(self.ledger, list_id, ids)
            outcomes = Outcomes()
            # Readers who left since they were queued are taken off the queue, not mailed.
            outcomes.add(SKIP, (r.delivery_id for r in readers if not r.still_subscribed))
            try:
                for batch in build_batches(
                    self.context, self.links, [r for r in readers if r.still_subscribed], self.clock
                ):
                    self._send(batch, ids, outcomes)
            except _Stop as stop:
                self._requeue_rest(ids, outcomes, stop.error)
                raise stop.error from stop
            except DigestError as err:
                # Raised while building a batch (a bad setting): nothing of the rest reached the provider.
                self._requeue_rest(ids, outcomes, err)
                raise
            self._record(outcomes)
            if self.backend.answers_each:
                size = _next_size(size, len(ids), time.monotonic() - started, most)
        if self.should_stop():
            raise DigestError("stopped on request; the readers not reached yet stay queued: run `digest send` again")
        # The queue is empty: a sender that died meanwhile left rows in flight; settled now, not after its lease.
        if settle_orphans(self.session, edition_id, self.clock()):
            log.warning("a sender died: its deliveries in flight are now uncertain")

    def _requeue_rest(self, ids: dict[int, int], outcomes: Outcomes, error: DigestError) -> None:
        settled = outcomes.settled()
        outcomes.add(REQUEUE, (i for i in ids if i not in settled), error=str(error))
        self._record(outcomes)

    def _record(self, outcomes: Outcomes) -> None:
        """Store the outcomes not stored yet and commit them."""
        outcomes.store(self.ledger, self.clock())
        failures = ((ids, error) for (outcome, _, error), ids in outcomes.groups.items() if outcome == Outcome.FAILED)
        suppress_refused_addresses(self.session, failures, self.clock())
        self.session.commit()
        self._last_record = time.monotonic()
        counts = outcomes.counts()
        outcomes.clear()
        self.counts.update(counts)
        if self.on_progress:
            self.on_progress(sum(counts[outcome] for outcome in _FINAL))

    def _answered(self, outcomes: Outcomes) -> Callable[[RecipientResult], None]:
        """What to do with each reader's result as the backend learns it: keep it, and store what waited
        RECORD_EVERY seconds."""

        def answered(result: RecipientResult) -> None:
            if result.error and result.outcome is not Outcome.SENT:
                self.errors.append(f"{result.recipient.email}: {result.error}")
            outcomes.add_results((result,))
            if time.monotonic() - self._last_record >= RECORD_EVERY:
                self._record(outcomes)

        return answered

    def _send(self, batch: Batch, claimed: dict[int, int], outcomes: Outcomes) -> None:
        """Send one batch, retrying what may be retried; adds an outcome for each of its readers to ``outcomes``
        as soon as it is known, so a later stop never puts back in the queue a reader already sent."""
        attempt = 0
        answered = self._answered(outcomes)
        while True:
            self.pacing.throttle(len(batch.recipients), self.options.max_rate / max(1, self.options.workers))
            try:
                if self.backend.answers_each:
                    self.backend.send_batch(batch, on_result=answered)
                else:
                    # One request answers for the whole batch: its results are kept in one go.
                    results = self.backend.send_batch(batch)
                    self.errors.extend(
                        f"{r.recipient.email}: {r.error}" for r in results if r.error and r.outcome is not Outcome.SENT
                    )
                    outcomes.add_results(results)
            except MailError as err:
                # Readers answered before the error keep their outcome; only the others are tried again.
                settled = outcomes.settled()
                if any(r.delivery_id in settled for r in batch.recipients):
                    batch = dataclasses.replace(
                        batch, recipients=[r for r in batch.recipients if r.delivery_id not in settled]
                    )
                    if not batch.recipients:
                        return
                action = on_error(err, attempt=attempt, batch_size=len(batch.recipients), options=self.options)
                if action is Action.HALVE:
                    # Too large for one request: halve it until it fits (a single reader too large fails).
                    half = len(batch.recipients) // 2
                    self._send(dataclasses.replace(batch, recipients=batch.recipients[:half]), claimed, outcomes)
                    self._send(dataclasses.replace(batch, recipients=batch.recipients[half:]), claimed, outcomes)
                    return
                if action is Action.RETRY:
                    attempt += 1
                    self._wait(attempt, err, claimed)
                    continue
                if action is Action.STOP:
                    raise _Stop(err) from err
                self.errors.append(str(err))
                failed = Outcome.FAILED if action is Action.FAIL else Outcome.UNCERTAIN
                outcomes.add(failed, _delivery_ids(batch), error=str(err))
                return
            return

    def _wait(self, attempt: int, err: MailError, claimed: dict[int, int]) -> None:
        delay = self.pacing.backoff(attempt, err.retry_after if isinstance(err, ProviderError) else None)
        log.warning("%s; try %d of %d in %.1f s", err, attempt + 1, self.options.retries + 1, delay)
        # The batch stays ours while we wait: a long wait must not make another worker think we died.
        self.ledger.extend_lease(claimed, self.clock() + LEASE + timedelta(seconds=delay))
        self.session.commit()
        self.pacing.sleep(delay)


def _next_size(size: int, claimed: int, seconds: float, most: int) -> int:
    """The next claim's size for a backend answering message by message: as many readers as it sends in
    RECORD_EVERY seconds at the pace just seen, at most twice the last claim, at least one."""
    if claimed < size:
        return size
    per_message = seconds / claimed
    fits = int(RECORD_EVERY / per_message) if per_message > 0 else most
    return max(1, min(most, size * 2, fits))


def _delivery_ids(batch: Batch) -> list[int]:
    return [r.delivery_id for r in batch.recipients if r.delivery_id is not None]
