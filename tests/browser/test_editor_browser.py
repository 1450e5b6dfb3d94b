"""The editor's page driven through chromium: feature another article, drop one, approve."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session, select

from digest.db import init_database, make_engine
from digest.edition import load_selection
from digest.models import Edition, EditionStatus
from digest.settings import Settings
from digest.web.app import create_app
from tests.browser.conftest import offline
from tests.conftest import SAMPLE_DAY
from tests.editions import build_sample

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, object]]:
    """The web app with the editor open (as under `digest preview`), on a real loopback server."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{tmp_path / 'digest.db'}",
        outbox_dir=tmp_path / "outbox",
        secret_key="test-secret",
        base_url="https://news.example.com",
        edition_window="calendar",  # the sample day, replayed
    )
    engine = make_engine(settings.database_url)
    init_database(engine, default_list=settings.list_slug)
    build_sample(engine, settings)
    app = create_app(settings, engine=engine)
    app.state.editor_open = True
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the test server did not start"
    yield f"http://127.0.0.1:{port}", engine
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def _selection(engine):
    with Session(engine) as session:
        edition = session.exec(select(Edition)).one()
    return edition, load_selection(edition.selection_json)


def test_pin_drop_and_approve_through_the_page(browser, served, artifacts: Path) -> None:
    base, engine = served
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    offline(context)
    page = context.new_page()
    page.goto(f"{base}/editor/quotidien/{SAMPLE_DAY}")
    assert page.locator("#status").inner_text() == "draft"
    phone = page.locator("iframe[title='Phone preview']")
    assert phone.bounding_box()["width"] == pytest.approx(375, abs=2)  # type: ignore[index]

    _, before = _selection(engine)
    target = before.headlines[1].article
    page.locator(".headline", has_text=target.title).get_by_role("button", name="Feature").click()
    page.wait_for_load_state()
    assert target.title in page.locator("#featured").inner_text()

    dropped = before.headlines[0].article
    page.locator(".headline", has_text=dropped.title).get_by_role("button", name="Drop").click()
    page.wait_for_load_state()
    skipped = page.locator("#skipped").inner_text()
    assert dropped.title in skipped and "excluded by the editor" in skipped

    page.get_by_role("button", name="Approve for sending").click()
    page.wait_for_load_state()
    assert page.locator("#status").inner_text() == "approved"
    page.screenshot(path=str(artifacts / "editor.png"), full_page=True)
    context.close()

    edition, after = _selection(engine)
    assert edition.status == EditionStatus.APPROVED
    assert after.featured is not None and after.featured.article.url == target.url
    assert dropped.url not in {pick.article.url for pick in after.headlines}
