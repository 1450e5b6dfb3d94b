"""An erased or expired reader's links never act on anyone else: ids are never reused and every link is bound to
its reader's own random secret. Tokens never reach the access log."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from digest.db import open_session
from digest.settings import Settings
from digest.web.app import ScrubTokens, uvicorn_log_config
from subscribers.models import SubscriptionStatus
from subscribers.store import remove_subscriber
from tests.subscribers_helpers import client, links, local, make_reader, secret_of, subscription


def test_a_new_reader_never_gets_an_erased_readers_id_or_links(settings: Settings, engine: Engine) -> None:
    make_reader(engine, "first@example.com")
    erased_id, list_id = make_reader(engine, "erased@example.com", confirmed=False)
    signer = links(settings)
    old = signer.token("unsubscribe", erased_id, list_id, secret_of(engine, erased_id))
    old_preferences = signer.token("preferences", erased_id, list_id, secret_of(engine, erased_id))
    old_confirm = signer.token("confirm", erased_id, list_id, secret_of(engine, erased_id))
    with open_session(engine) as session:
        remove_subscriber(session=session, email="erased@example.com", erase=True)
    victim_id, _ = make_reader(engine, "victim@example.com", confirmed=False)
    assert victim_id != erased_id, "the erased reader's id was handed out again"
    with client(settings, engine) as http:
        assert http.get(f"/p/{old_preferences}").status_code == 404
        assert http.post(f"/c/{old_confirm}").status_code == 404
        assert http.post(f"/u/{old}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert subscription(engine, victim_id, list_id).status == SubscriptionStatus.PENDING


def test_a_link_signed_with_another_readers_secret_does_not_act(settings: Settings, engine: Engine) -> None:
    amina, list_id = make_reader(engine, "amina@example.com")
    youssef, _ = make_reader(engine, "youssef@example.com")
    forged = local(links(settings).unsubscribe_url(amina, list_id, secret_of(engine, youssef)), settings)
    with client(settings, engine) as http:
        assert http.post(forged, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert subscription(engine, amina, list_id).status == SubscriptionStatus.ACTIVE


def test_tokens_are_scrubbed_from_the_access_log() -> None:
    assert "scrub_tokens" in uvicorn_log_config()["loggers"]["uvicorn.access"]["filters"]
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/u/12.1.1764230400.c2lnbmF0dXJl?x=1", "1.1", 200),
        None,
    )
    assert ScrubTokens().filter(record)
    assert "c2lnbmF0dXJl" not in record.getMessage()
    assert "/u/… " in record.getMessage() or "/u/…?" in record.getMessage()
