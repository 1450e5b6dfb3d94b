"""The claim/send loop: claim a batch of queued deliveries, hand its provider calls to the backend, record
what the provider answered, until the queue is empty (one deliverer per process).

What each answer does is :mod:`digest.delivery.policy`; the statements are :mod:`digest.delivery.ledger`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlmodel import Session

from digest.delivery.batches import Clock, EditionContext, Mailing, build_batches, claimed_readers
from digest.delivery.events import suppress_refused_addresses
from digest.delivery.ledger import REQUEUE, Ledger
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
log = logging.getLogger(__name__)


class Outcomes:
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
        with rare_collections():
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
        if self.should_stop():
            raise DigestError("stopped on request; the readers not reached yet stay queued: run `digest send` again")

    def _requeue_rest(self, ids: dict[int, int], outcomes: Outcomes, error: DigestError) -> None:
        settled = outcomes.settled()
        outcomes.add(REQUEUE, (i for i in ids if i not in settled), error=str(error))
        self._record(outcomes)

    def _record(self, outcomes: Outcomes) -> None:
        outcomes.store(self.ledger, self.clock())
        failures = ((ids, error) for (outcome, _, error), ids in outcomes.groups.items() if outcome == Outcome.FAILED)
        suppress_refused_addresses(self.session, failures, self.clock())
        self.session.commit()
        counts = outcomes.counts()
        self.counts.update(counts)
        if self.on_progress:
            self.on_progress(counts.total())

    def _send(self, batch: Batch, claimed: dict[int, int], outcomes: Outcomes) -> None:
        """Send one batch, retrying what may be retried; adds an outcome for each of its readers to ``outcomes``
        as soon as it is known, so a later stop never puts back in the queue a reader already sent."""
        attempt = 0
        while True:
            self.pacing.throttle(len(batch.recipients), self.options.max_rate / max(1, self.options.workers))
            try:
                results = self.backend.send_batch(batch)
            except MailError as err:
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
