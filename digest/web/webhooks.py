"""SendGrid's event webhook: the route verifies the request and parses its events into ProviderEvents; what
they do (count, suppress, unsubscribe) is :mod:`digest.delivery.events`.

SendGrid posts a JSON array of events and retries for 24 hours until it gets a 2xx, so the same event may
arrive several times: each is stored once, keyed on its ``sg_event_id``, and acts only the first time.
Our ``custom_args`` (``edition_id``, ``delivery_id``) come back as top-level keys of every event.
"""

from __future__ import annotations

import binascii
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader
from sqlalchemy import Engine
from sqlmodel import Session

from digest.delivery.events import EventsResult, ProviderEvent, record_events
from subscribers.models import utcnow

router = APIRouter()
log = logging.getLogger(__name__)

# A signed request older (or newer) than this is refused: a captured request cannot be replayed later.
MAX_AGE_SECONDS = 600


def verify_signature(public_key: str, body: bytes, signature: str | None, timestamp: str | None, now: float) -> str:
    """Why the request must be refused ('' when its signature is good and fresh)."""
    if not signature or not timestamp:
        return "unsigned request: the event webhook must be signed"
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return "bad timestamp header"
    if age > MAX_AGE_SECONDS:
        return f"stale request: signed {age:.0f} s ago (at most {MAX_AGE_SECONDS})"
    try:
        verifier = EventWebhook(public_key)
    except (ValueError, UnsupportedAlgorithm) as err:
        raise ValueError(f"SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 EC public key ({err})") from err
    try:
        good = verifier.verify_signature(body.decode("utf-8"), signature, timestamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        good = False
    return "" if good else "bad signature"


@router.post("/webhooks/sendgrid")
async def sendgrid_events(request: Request) -> JSONResponse:
    """Receive SendGrid events; 403 for unsigned, stale or forged ones when a public key is set."""
    settings = request.app.state.settings
    body = await request.body()
    key = settings.sendgrid_webhook_public_key
    if key:
        try:
            refusal = verify_signature(
                key,
                body,
                request.headers.get(EventWebhookHeader.SIGNATURE),
                request.headers.get(EventWebhookHeader.TIMESTAMP),
                time.time(),
            )
        except ValueError as err:
            log.error("%s", err)
            return JSONResponse({"error": "webhook verification is misconfigured"}, status_code=500)
        if refusal:
            return JSONResponse({"error": refusal}, status_code=403)
    try:
        events = json.loads(body)
    except ValueError:
        return JSONResponse({"error": "the body is not JSON"}, status_code=400)
    if not isinstance(events, list):
        return JSONResponse({"error": "expected a JSON array of events"}, status_code=400)
    parsed = [_parse(event) for event in events]
    valid = [event for event in parsed if event is not None]
    result = await run_in_threadpool(_record, request.app.state.engine, valid)
    result.invalid = len(parsed) - len(valid)
    return JSONResponse(result.__dict__)


def _record(engine: Engine, events: list[ProviderEvent]) -> EventsResult:
    """Apply the events (the delivery layer's policy) in one transaction."""
    with Session(engine) as session:
        result = record_events(session, events, utcnow)
        session.commit()
    return result


def _parse(raw: Any) -> ProviderEvent | None:
    """One SendGrid event as a :class:`ProviderEvent`, or None when it is not one."""
    if not isinstance(raw, dict) or not isinstance(raw.get("sg_event_id"), str) or not raw.get("event"):
        return None
    try:
        at = datetime.fromtimestamp(int(raw.get("timestamp", 0)), UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    try:
        delivery_id = int(raw["delivery_id"]) if "delivery_id" in raw else None
    except (TypeError, ValueError):
        delivery_id = None
    email = raw.get("email") if isinstance(raw.get("email"), str) else None
    kind = str(raw["event"])[:32]
    # SendGrid calls a bounce "blocked" when the receiving server refuses for now (reputation, content).
    temporary = kind == "bounce" and raw.get("type") == "blocked"
    return ProviderEvent(raw["sg_event_id"][:100], kind, email, at, delivery_id, temporary)
