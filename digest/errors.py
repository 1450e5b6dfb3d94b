"""The exceptions digest raises, one small tree.

    DigestError                      every error digest raises on purpose; carries an exit code
    ├── ConfigError                  a setting is missing or malformed (names the setting)
    ├── SourceError                  a feed or page could not be fetched or parsed (names the source)
    ├── NothingToSend                nothing for the day, or the edition already reached everyone (exit 3)
    ├── EditionError                 an edition cannot move on (not approved, blocked by lint, ...)
    ├── SubscriberError              bad address, unknown list or subscriber
    ├── RecipientError               one reader's message cannot be made (fails that reader, not the batch)
    └── MailError                    a mail backend failed; keeps the provider's status and body
        ├── ProviderError            the provider answered with an error status
        ├── ProviderUnreachable      the request never left (connection refused, unknown host): safe to retry
        └── OutcomeUnknown           the request left but no answer came (timeout): the batch is uncertain

Third-party errors are wrapped with ``raise ... from err`` so the cause stays in the traceback while
the message shown to the user names what was wrong.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error digest raises on purpose."""

    exit_code = 1


class ConfigError(DigestError):
    """A setting is missing or malformed; the message names the setting."""


class SourceError(DigestError):
    """A source (feed, page, file) could not be fetched or parsed."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class NothingToSend(DigestError):
    """Nothing to build or send: no articles for the day, or everyone already has the edition."""

    exit_code = 3


class EditionError(DigestError):
    """An edition cannot move to the next step (missing, not approved, blocked by lint)."""


class SubscriberError(DigestError):
    """Bad subscriber input: an invalid address, an unknown list or subscriber."""


class RecipientError(DigestError):
    """One reader's data cannot make a message (a line break in the name, a malformed address, a per-reader
    link missing): that reader fails with this reason; the batch and the run go on."""

    def __init__(self, email: str, reason: str) -> None:
        super().__init__(f"{email}: {reason}")
        self.email = email
        self.reason = reason


class MailError(DigestError):
    """A mail backend could not send."""


class ProviderError(MailError):
    """The provider answered with an error; ``status`` and ``body`` hold its answer."""

    def __init__(self, provider: str, status: int | None, body: str, *, retry_after: float | None = None):
        shown = body if len(body) <= 2000 else body[:2000] + "…"
        super().__init__(f"{provider} answered {status}: {shown}")
        self.provider = provider
        self.status = status
        self.body = body
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """True for answers that say "try again later": 429 (rate limit) and 5xx."""
        return self.status is not None and (self.status == 429 or self.status >= 500)


class ProviderUnreachable(MailError):
    """The request never reached the provider (connection refused, unknown host): nobody got mail."""


class OutcomeUnknown(MailError):
    """The request may have reached the provider but no answer came: resending could mail readers twice."""
