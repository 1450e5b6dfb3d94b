"""What each provider answer does to a batch: the outcome table, as a function with no I/O.

    sent / refused per reader          sent, failed (5xx SMTP), back to the queue (4xx SMTP, up to MAX_ATTEMPTS)
    429, 5xx, connection refused       tried again after a backoff (the provider's reset time when it gives one);
                                       still failing: the run stops, its readers stay queued
    401, 403, a broken setting         the run stops at once, readers stay queued
    400, 413 for a single reader       failed, with the provider's answer (413 halves the batch first)
    no answer after the request left   uncertain

The first row is per reader: the backend answers each reader's outcome and the ledger stores it (the 4xx
requeue up to ``MAX_ATTEMPTS`` is one SQL ``CASE`` in :mod:`digest.delivery.ledger`). The other rows are
:func:`on_error`: what to do with a whole batch when the backend raised. A reader failed with a permanent
SMTP refusal of the address itself (:func:`refuses_the_address`) is also suppressed, never mailed again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from digest.errors import MailError, OutcomeUnknown, ProviderError, ProviderUnreachable

# How the SMTP backend words a reader's refusal: "smtp refused the reader: 550 5.1.1 no such user".
_SMTP_REFUSAL = re.compile(r"smtp refused the (?:reader|message): (?P<code>[245]\d\d)\b(?P<text>.*)", re.DOTALL)
# RFC 3463 enhanced status code: class.subject.detail.
_ENHANCED = re.compile(r"\b(?P<klass>[245])\.(?P<subject>\d{1,3})\.(?P<detail>\d{1,3})\b")
# Without an enhanced code a bare 550 may be a policy refusal; these words say it is one.
_POLICY_WORDS = ("policy", "spam", "block", "reputation", "listed", "rate", "reject")

# A reader turned away for now (SMTP 4xx) is tried this many times in all before it counts as failed.
MAX_ATTEMPTS = 5


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
    #: With ``retry_uncertain``: how long a provider that reports events (SendGrid) may take to settle an
    #: uncertain delivery before it is sent again (None: resend at once).
    uncertain_settle: timedelta | None = None
    #: Delivery at each reader's local hour (digest.delivery.schedule): only readers of these stored time
    #: zones (None: the publication's) are queued in this run; None: every eligible reader.
    zones: frozenset[str | None] | None = None
    #: False while some zone's hour is still to come: the edition stays approved when its queue is empty
    #: rather than becoming ``sent``.
    last_turn: bool = True


class Action(StrEnum):
    """What becomes of a batch whose send raised."""

    #: Wait (backoff, or the provider's reset time) and send the same batch again.
    RETRY = "retry"
    #: Too large for one request: send each half on its own.
    HALVE = "halve"
    #: The provider cannot take mail now: stop the run; the readers stay queued.
    STOP = "stop"
    #: The provider refused these readers for good: failed, with its answer.
    FAIL = "fail"
    #: The request left and no answer came back: the provider may have it.
    UNCERTAIN = "uncertain"


def on_error(error: MailError, *, attempt: int, batch_size: int, options: SendOptions) -> Action:
    """What to do with a batch of ``batch_size`` readers whose ``attempt``-th retry (0: the first try) raised
    ``error``; ``options.retries`` bounds the retries."""
    may_retry = attempt < options.retries
    if isinstance(error, ProviderError):
        if error.status == 413 and batch_size > 1:
            return Action.HALVE
        if error.retryable:
            return Action.RETRY if may_retry else Action.STOP
        if error.status in (401, 403):
            return Action.STOP
        return Action.FAIL
    if isinstance(error, ProviderUnreachable):
        return Action.RETRY if may_retry else Action.STOP
    if isinstance(error, OutcomeUnknown):
        return Action.UNCERTAIN
    # A broken setting or any other backend failure: nothing was handed over, stop with readers queued.
    return Action.STOP


def refuses_the_address(error: str | None) -> bool:
    """True when a reader's SMTP refusal says the address itself is dead, for good: RFC 3463 ``5.1.x`` (bad
    mailbox, bad domain...) and ``5.2.1`` (mailbox disabled). Policy refusals (``5.7.x``, spam, reputation)
    and anything temporary or about the message say nothing of the address: they are not. A bare 551 or 553,
    or a 550 without an enhanced code that does not speak of policy, counts as a dead address too."""
    match = _SMTP_REFUSAL.match(error or "")
    if match is None or not match["code"].startswith("5"):
        return False
    enhanced = _ENHANCED.search(match["text"])
    if enhanced is not None:
        subject, detail = enhanced["subject"], enhanced["detail"]
        return enhanced["klass"] == "5" and (subject == "1" or (subject, detail) == ("2", "1"))
    text = match["text"].lower()
    return match["code"] in ("551", "553") or (match["code"] == "550" and not any(w in text for w in _POLICY_WORDS))
