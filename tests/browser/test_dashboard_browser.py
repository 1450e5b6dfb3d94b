"""The dashboard and the readers' page through chromium, on seeded data (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.models import Edition, EditionCounters, EditionStatus
from digest.settings import Settings
from digest.web.app import create_app
from subscribers.models import ConsentEvent, MailingList
from tests.browser.conftest import no_sideways_scroll, offline, serve, shoot
from tests.seed import add_readers

pytestmark = pytest.mark.browser


def seed_history(engine: Engine, settings: Settings, editions: int = 40) -> None:
    """``editions`` sent editions of the last days with figures, and readers joining and leaving."""
    add_readers(engine, 30)
    today = datetime.now(settings.tz).date()
    with Session(engine) as session:
        list_id = session.exec(select(MailingList.id).where(MailingList.slug == settings.list_slug)).one()
        for n in range(editions):
            day = today - timedelta(days=editions - n)
            edition = Edition(list_id=list_id, date=day, status=EditionStatus.SENT, subject=f"Edition {n}")
            session.add(edition)
            session.flush()
            assert edition.id is not None
            recipients = 1000 + 10 * n
            session.add(
                EditionCounters(
                    edition_id=edition.id,
                    recipients=recipients,
                    sent=recipients - 5,
                    failed=3,
                    uncertain=2,
                    delivered=recipients - 20,
                    opened=(recipients - 20) * (30 + n % 7) // 100,
                    clicked=(recipients - 20) * (5 + n % 3) // 100,
                    bounced=15,
                    unsubscribed=n % 4,
                )
            )
            at = datetime.combine(day, time(9), tzinfo=UTC)
            for _ in range(n % 5):
                session.add(ConsentEvent(list_id=list_id, kind="confirm", source="web", at=at))
            if n % 3 == 0:
                session.add(ConsentEvent(list_id=list_id, kind="unsubscribe", source="web", at=at))
        session.commit()


@pytest.fixture
def dashboard(make_settings, engine: Engine) -> Iterator[tuple[str, Settings]]:
    settings = make_settings(base_url="https://news.example.com")
    seed_history(engine, settings)
    app = create_app(settings, engine=engine)
    app.state.editor_open = True
    with serve(app) as base:
        yield base, settings


def test_dashboard_charts_and_tables(browser, dashboard, artifacts: Path, database_url: str) -> None:
    base, settings = dashboard
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    offline(context)
    page = context.new_page()
    page.goto(base + "/editor")
    rows = page.locator("#editions tbody tr")
    assert rows.count() == 14
    assert page.locator("#rates table tbody tr").count() == 40
    assert page.locator("#growth table tbody tr").count() == 91
    for chart in ("#rates img", "#growth img"):
        assert page.locator(chart).evaluate("img => img.complete && img.naturalWidth > 0")
    today = datetime.now(settings.tz).date()
    assert page.locator("#tomorrow").get_attribute("href") == f"/editor/quotidien/{today + timedelta(days=1)}"
    rows.first.locator("a").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/editor/quotidien/{today - timedelta(days=1)}")
    context.close()
    if database_url.startswith("sqlite"):
        shoot(browser, base + "/editor", artifacts, "dashboard")


def test_dashboard_fits_a_phone(browser, dashboard) -> None:
    base, _ = dashboard
    context = browser.new_context(viewport={"width": 375, "height": 800})
    offline(context)
    page = context.new_page()
    page.goto(base + "/editor?ui=ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert no_sideways_scroll(page)
    context.close()


def test_reader_search_and_erase(browser, dashboard, artifacts: Path, database_url: str) -> None:
    base, _ = dashboard
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    offline(context)
    page = context.new_page()
    page.goto(base + "/editor/readers")
    page.fill("#q", "reader2")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert page.locator("#results tbody tr").count() == 11  # reader2 and reader20 to reader29
    page.get_by_role("link", name="reader20@example.com").click()
    page.wait_for_load_state()
    assert page.locator("#reader-status").inner_text() == "active"
    assert "quotidien" in page.locator("#lists").inner_text().lower()
    if database_url.startswith("sqlite"):
        page.screenshot(path=str(artifacts / "reader-1280.png"), full_page=True)
        shoot(browser, page.url, artifacts, "reader")
        shoot(browser, base + "/editor/readers?q=reader1", artifacts, "readers")
    page.fill("#confirm", "reader20@example.com")
    page.get_by_role("button", name="Erase this reader").click()
    page.wait_for_load_state()
    assert "Erased" in page.locator("[role=status]").inner_text()
    page.goto(base + "/editor/readers?q=reader20")
    assert page.locator("#results").inner_text() == "No reader matches."
    context.close()
