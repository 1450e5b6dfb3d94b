"""The SendGrid backend: one `/v3/mail/send` request per batch through the official `sendgrid` library.

One request carries one rendered variant and up to 1000 personalizations. SendGrid fills each reader's
links by *substitution*: it replaces the exact strings ``%%unsubscribe_url%%`` ... in the subject and the
content, which are exactly our placeholders, so the content is sent once and never re-rendered per reader.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
from collections.abc import Callable
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from digest.errors import ConfigError, OutcomeUnknown, ProviderError, ProviderUnreachable
from digest.mail.base import (
    Answered,
    Batch,
    MailBackend,
    Outcome,
    RecipientResult,
    ignore_answer,
    reader_headers,
    sender_address,
)
from digest.personalize import Personalizable, placeholder

# SendGrid refuses requests with more personalizations than this (DESIGN "SendGrid reference").
MAX_PERSONALIZATIONS = 1000


class SendGridBackend(MailBackend):
    """Posts each batch as one `/v3/mail/send` request; errors keep SendGrid's status and body."""

    name = "sendgrid"
    reports_events = True
    max_batch = MAX_PERSONALIZATIONS
    has_sandbox = True

    def __init__(
        self,
        *,
        api_key: str,
        host: str = "https://api.sendgrid.com",
        timeout: float = 30.0,
        tracking: frozenset[str] = frozenset(),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        # The library sets no timeout: without one a stalled connection would hang the daily run forever.
        self.client.client.timeout = timeout
        self.tracking = tracking
        self.wall_clock = wall_clock

    def build_payload(self, batch: Batch) -> dict[str, Any]:
        """The request body: content once, one personalization (address, links, headers, ids) per reader."""
        if len(batch.recipients) > MAX_PERSONALIZATIONS:
            raise ConfigError(f"sendgrid takes at most {MAX_PERSONALIZATIONS} readers per request")
        sender = sender_address(batch.sender)
        content = batch.content
        used = sorted(set(Personalizable.compile(content.subject + content.text + (content.html or "")).names))
        tags = [(name, placeholder(name)) for name in used]
        parts = [{"type": "text/plain", "value": content.text}]
        if content.html is not None:
            parts.append({"type": "text/html", "value": content.html})
        personalizations = []
        for recipient in batch.recipients:
            to: dict[str, str] = {"email": recipient.email}
            if recipient.name:
                to["name"] = recipient.name
            personalization: dict[str, Any] = {
                "to": [to],
                "headers": reader_headers(batch, recipient),
            }
            substitutions = {tag: recipient.fields[name] for name, tag in tags}
            if substitutions:
                personalization["substitutions"] = substitutions
            if recipient.delivery_id is not None:
                # SendGrid echoes custom_args in every event: the webhook finds the delivery by them.
                personalization["custom_args"] = {"delivery_id": str(recipient.delivery_id)}
            personalizations.append(personalization)
        payload: dict[str, Any] = {
            "from": {"email": sender.addr_spec, **({"name": sender.display_name} if sender.display_name else {})},
            "subject": content.subject,
            "content": parts,
            "personalizations": personalizations,
            "headers": {"List-Id": batch.list_id},
            "tracking_settings": {
                "open_tracking": {"enable": "opens" in self.tracking},
                "click_tracking": {"enable": "clicks" in self.tracking, "enable_text": False},
                # Our own one-click unsubscribe link is in every message; SendGrid's would be a second one.
                "subscription_tracking": {"enable": False},
            },
        }
        if batch.categories:
            payload["categories"] = list(dict.fromkeys(batch.categories))
        if batch.custom_args:
            payload["custom_args"] = {key: str(value) for key, value in batch.custom_args.items()}
        if batch.sandbox:
            payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return payload

    def post(self, payload: dict[str, Any], batch: Batch, answered: Answered = ignore_answer) -> Any:
        """One POST /v3/mail/send; classifies every failure by whether the request may have arrived."""
        try:
            return self.client.send(payload)
        except HTTPError as err:
            raise ProviderError(
                self.name, err.status_code, _text(err.body), retry_after=self._retry_after(err.headers)
            ) from err
        except urllib.error.URLError as err:
            if isinstance(err.reason, ConnectionRefusedError | socket.gaierror):
                raise ProviderUnreachable(f"{self.name}: cannot connect ({err.reason})") from err
            raise OutcomeUnknown(f"{self.name}: no answer ({err.reason}); the request may have arrived") from err
        except (OSError, http.client.HTTPException) as err:
            # Raised while waiting for the answer, after the whole request was written.
            raise OutcomeUnknown(f"{self.name}: no answer ({err!r}); the request may have arrived") from err

    def parse_response(self, answer: Any, payload: dict[str, Any], batch: Batch) -> list[RecipientResult]:
        """A 2xx means SendGrid took every personalization; its X-Message-Id names the request."""
        message_id = answer.headers.get("X-Message-Id") if answer.headers else None
        return [RecipientResult(recipient, Outcome.SENT, provider_id=message_id) for recipient in batch.recipients]

    def _retry_after(self, headers: Any) -> float | None:
        """Seconds to wait before the next try: X-RateLimit-Reset (epoch seconds) or Retry-After."""
        if not headers:
            return None
        reset = headers.get("X-RateLimit-Reset")
        if reset:
            try:
                return max(0.0, float(reset) - self.wall_clock())
            except ValueError:
                pass
        after = headers.get("Retry-After")
        if after:
            try:
                return max(0.0, float(after))
            except ValueError:
                return None
        return None


def _text(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        body = json.dumps(body)
    return body
