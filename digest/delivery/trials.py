"""Sends that deliver nothing to readers: a dry run (everything but the delivery) and a test send (the
edition to a few addresses). Neither leaves a ledger row."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from digest.delivery.batches import Clock, Mailing, build_batches, claimed_readers
from digest.delivery.ledger import Ledger
from digest.delivery.policy import SendOptions
from digest.delivery.queue import prepare, queued_by_zone
from digest.mail.base import Content, Recipient, RecipientResult
from digest.models import Edition
from subscribers.models import utcnow


def preview_fields(base_url: str) -> dict[str, str]:
    """Stand-ins for the per-reader links where no reader is behind them (a preview, a test send)."""
    return {"unsubscribe_url": f"{base_url}/u/preview", "preferences_url": f"{base_url}/p/preview"}


@dataclass
class DryRunReport:
    """What a send would do: how many readers get which variant, and the first few addresses."""

    readers: Counter[str] = field(default_factory=Counter)
    sample: list[str] = field(default_factory=list)
    checked_by_provider: bool = False
    #: Readers queued by their stored time zone (None: the publication's).
    zones: Counter[str | None] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """How many readers would get the edition."""
        return sum(self.readers.values())


def dry_run(
    mailing: Mailing,
    *,
    options: SendOptions | None = None,
    clock: Clock = utcnow,
    edition_for: Callable[[Session], Edition] | None = None,
) -> DryRunReport:
    """Everything a send does but the delivery: the queue is computed in a transaction rolled back at
    the end, every batch is built, and a provider with a sandbox (SendGrid) checks each request.

    ``edition_for(session)``, when given, finds or builds the edition inside that transaction (so a dry run
    of an edition not built yet stores nothing either); else the mailing's edition is used."""
    options = options or SendOptions()
    backend = mailing.backend
    report = DryRunReport(checked_by_provider=backend.has_sandbox)
    with mailing.engine.connect() as connection:
        transaction = connection.begin()
        # The session's commits stay inside the outer transaction, which is rolled back: nothing is stored.
        session = Session(bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False)
        try:
            if edition_for is not None:
                mailing = dataclasses.replace(mailing, edition_id=edition_for(session).id or 0)
            context = mailing.load(session)
            edition = context.edition
            prepare(session, edition, options, clock())
            report.zones = queued_by_zone(session, mailing.edition_id)
            ledger = Ledger(session)
            size = min(options.batch_size, backend.max_batch)
            last = 0
            while ids := ledger.queued(mailing.edition_id, size, last):
                last = max(ids)
                for batch in build_batches(
                    context, mailing.links, claimed_readers(ledger, edition.list_id, ids), clock
                ):
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


def send_test(
    mailing: Mailing, addresses: list[str], *, variant_key: str | None = None, clock: Clock = utcnow
) -> list[RecipientResult]:
    """Send the edition to ``addresses`` only, subject prefixed ``[TEST]``; no ledger row is written.

    The variant is ``variant_key`` (default: the publication's language with every section). Drafts may be
    tested: that is what a test send is for. Its per-reader links are the preview's stand-ins, which
    unsubscribe nobody, and the provider files it under the list and "test", not under the edition's day.
    """
    with Session(mailing.engine) as session:
        context = mailing.load(session)
    variant = context.variants.get(variant_key or "") or context.variant(mailing.default_language)
    content = Content(subject=f"[TEST] {variant.subject}", html=variant.html, text=variant.text)
    fields = preview_fields(mailing.links.base_url)
    recipients = [Recipient(email=address, fields=fields) for address in dict.fromkeys(addresses)]
    batch = context.batch(content, recipients, clock())
    test = dataclasses.replace(batch, categories=(context.mailing_list.slug, "test"), custom_args={})
    return mailing.backend.send_batch(test)
