"""The dashboard: counters kept at record time agree with the deliveries; the page shows figures and charts."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.counters import counters_of
from digest.delivery import Mailing, send_edition
from digest.delivery.events import ProviderEvent, record_events
from digest.mail import open_backend
from digest.models import Delivery, Edition
from digest.settings import Settings
from digest.stats import FIGURES, edition_stats, rates
from digest.web.app import create_app
from tests.seed import add_readers, seed_edition

PASSWORD = "dashboard-password"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"e:{PASSWORD}".encode()).decode(), "Accept-Language": "en"}


def _send_with_events(engine: Engine, settings: Settings) -> int:
    """An edition sent to 20 readers, with opens (one twice), clicks, a bounce and an unsubscribe."""
    add_readers(engine, 20)
    edition_id = seed_edition(engine)
    with open_backend(settings) as backend:
        send_edition(Mailing.from_settings(settings, engine, edition_id, backend))
    with Session(engine) as session:
        ids = session.exec(select(Delivery.id).where(Delivery.edition_id == edition_id).order_by(Delivery.id)).all()
        at = datetime(2025, 11, 27, 8, tzinfo=UTC)
        kinds = [("delivered", i) for i in ids[:18]] + [("open", i) for i in ids[:10]] + [("open", ids[0])]
        kinds += [("click", i) for i in ids[:4]] + [("bounce", ids[19]), ("unsubscribe", ids[5])]
        events = [ProviderEvent(f"ev{n}", kind, None, at, delivery_id=i) for n, (kind, i) in enumerate(kinds)]
        record_events(session, events)
        session.commit()
    return edition_id


def test_counters_kept_at_record_time_match_the_deliveries(engine: Engine, settings: Settings) -> None:
    edition_id = _send_with_events(engine, settings)
    with Session(engine) as session:
        kept = counters_of(session, [edition_id])[edition_id]
        counted = edition_stats(session)[0]
    assert {name: getattr(kept, name) for name in FIGURES} == {name: counted[name] for name in FIGURES}
    assert (kept.recipients, kept.sent, kept.opened, kept.clicked, kept.bounced) == (20, 20, 10, 4, 1)
    assert rates({name: getattr(kept, name) for name in FIGURES})["opened"] == 10 / 18


def test_dashboard_shows_figures_charts_and_links(engine: Engine, make_settings) -> None:
    settings = make_settings(editor_password=PASSWORD)
    edition_id = _send_with_events(engine, settings)
    today = datetime.now(settings.tz).date()
    with Session(engine) as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None
        edition.date = today - timedelta(days=1)  # within the last 90 days
        session.add(edition)
        session.commit()
    client = TestClient(create_app(settings, engine=engine), base_url=settings.base_url, headers=AUTH)
    page = client.get("/editor")
    assert page.status_code == 200
    assert f"/editor/quotidien/{today + timedelta(days=1)}" in page.text  # tomorrow's draft
    assert f'href="/editor/quotidien/{today - timedelta(days=1)}"' in page.text
    assert "55.6 %" in page.text  # opened: 10 of 18 delivered
    for chart in ("rates", "readers"):
        svg = client.get(f"/editor/charts/{chart}.svg")
        assert svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text
        assert "script-src 'none'" in svg.headers["content-security-policy"]
    assert "unsubscribed" in client.get("/editor/charts/rates.svg").text
    assert client.get("/editor", headers={"Authorization": ""}).status_code == 401
