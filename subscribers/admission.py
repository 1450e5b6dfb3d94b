"""Who may be subscribed, and how: one pure decision every path that adds readers takes (a web sign-up, the
CLI's `subscribers add`, an import), from what is stored about the address. No database, no clock.

    stored about the address              web sign-up / CLI add         import
    suppressed (bounced, complained,      refused                       refused
      erased)
    reader no longer active               refused                       refused
    nothing on this list                  subscribed (pending, or active when confirmed by the publisher)
    pending or active on this list        kept; details may change      kept; details may change
    unsubscribed from this list           web: asked, state unchanged   refused
                                          CLI: pending again

The last row is deliberate. A web form is filled in by anyone, so a web sign-up never changes a known
reader's state: the reader who left stays unsubscribed, is sent a confirmation, and only using that link makes
them active again (a stranger cannot turn them pending, which expiry would later act on). The publisher's
`subscribers add` speaks for the reader, so it makes them pending again. A file imported later is old consent,
which must never bring back someone who left. Webhooks never admit anyone: a provider's events only take
readers out (unsubscribe, suppress).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from subscribers.models import SubscriberStatus, SubscriptionStatus


class Source(StrEnum):
    """The paths that add readers, as the consent log names them."""

    WEB = "web"
    CLI = "cli"
    IMPORT = "import"


class Admission(StrEnum):
    """What may be done for the address on the list."""

    #: No subscription on the list yet: subscribe (pending, or active when confirmed by the publisher).
    NEW = "new"
    #: Already pending or active: keep it; name, language and sections may change.
    KEEP = "keep"
    #: Left the list before and the publisher adds them again: pending again (a new confirmation).
    AGAIN = "again"
    #: Left the list before and someone signs them up on the web: nothing changes, a confirmation is asked;
    #: only its link makes them active again.
    ASK = "ask"
    #: Not (re-)added; ``reason`` says why.
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Decision:
    """An admission and, when refused, the one-line reason every path shows."""

    admission: Admission
    reason: str | None = None

    @property
    def refused(self) -> bool:
        """True when the address must not be (re-)added."""
        return self.admission is Admission.REFUSED


# The decisions without a reason, made once: an import takes one per row.
_NEW = Decision(Admission.NEW)
_KEEP = Decision(Admission.KEEP)


def admit(
    *,
    source: str,
    email: str,
    suppressed: str | None,
    subscriber_status: str | None,
    subscription_status: str | None,
) -> Decision:
    """What ``source`` may do for ``email`` given what is stored: the reason of its suppression (if any),
    its subscriber's status and its subscription's status on the list (None: none stored)."""
    if suppressed is not None:
        return Decision(Admission.REFUSED, f"{email} is suppressed ({suppressed}): not re-added")
    if subscriber_status is not None and subscriber_status != SubscriberStatus.ACTIVE:
        return Decision(Admission.REFUSED, f"{email} is {subscriber_status}: not re-added")
    if subscription_status is None:
        return _NEW
    if subscription_status == SubscriptionStatus.UNSUBSCRIBED:
        if source == Source.IMPORT:
            return Decision(Admission.REFUSED, f"{email} unsubscribed from this list: not re-added")
        return Decision(Admission.ASK if source == Source.WEB else Admission.AGAIN)
    return _KEEP
