"""An erased or expired reader's links never act on anyone else: ids are never reused and every link is bound to
its reader's own random secret. Tokens never reach the access log."""

from __future__ import annotations

import logging

from alembic import command as alembic_command
from sqlalchemy import Engine, text

from digest.db import alembic_config, make_engine, open_session
from digest.settings import Settings
from digest.web.app import ScrubTokens, uvicorn_log_config
from subscribers.models import Subscriber, SubscriptionStatus
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
        session.commit()
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


def test_the_upgrade_keeps_every_row_gives_each_reader_a_secret_and_stops_id_reuse(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    alembic_command.upgrade(config, "5b7c9e1d3f20")
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO mailing_list (slug, name, created_at) VALUES ('q', 'Q', CURRENT_TIMESTAMP)")
        )
        for n in (1, 2, 3):
            connection.execute(
                text(
                    "INSERT INTO subscriber (email, email_key, status, created_at) "
                    f"VALUES ('r{n}@example.com', 'r{n}@example.com', 'active', CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO subscription (subscriber_id, list_id, status, frequency, format, created_at, "
                    f"updated_at) VALUES ({n}, 1, 'active', 'daily', 'html', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
    alembic_command.upgrade(config, "head")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM subscription")).scalar_one() == 3, "no cascade"
        secrets = connection.execute(text("SELECT token_secret FROM subscriber")).scalars().all()
        assert len(set(secrets)) == 3 and all(len(secret) >= 20 for secret in secrets)
        assert connection.execute(text("SELECT public FROM mailing_list")).scalar_one()
        connection.execute(text("DELETE FROM subscription WHERE subscriber_id = 3"))
        connection.execute(text("DELETE FROM subscriber WHERE id = 3"))
    with open_session(engine) as session:
        newcomer = Subscriber(email="new@example.com", email_key="new@example.com")
        session.add(newcomer)
        session.commit()
        assert newcomer.id == 4, "the deleted newest id is not handed out again"
    alembic_command.downgrade(config, "5b7c9e1d3f20")
    alembic_command.upgrade(config, "head")
    engine.dispose()
