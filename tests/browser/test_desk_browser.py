"""The desk driven through chromium: subject, add a skipped article, reorder, make featured, approve, send."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.delivery import Mailing, send_edition
from digest.edition import load_selection
from digest.mail import open_backend
from digest.models import Edition, EditionStatus
from digest.settings import Settings
from digest.web.app import create_app
from tests.browser.conftest import no_sideways_scroll, offline, serve, shoot
from tests.conftest import SAMPLE_DAY
from tests.editions import build_sample

pytestmark = pytest.mark.browser
DESK = f"/editor/quotidien/{SAMPLE_DAY}"


@pytest.fixture
def desk(make_settings, engine: Engine) -> Iterator[tuple[str, Engine, Settings]]:
    """The web app with the editor open (as under `digest preview`), the sample day built."""
    settings = make_settings(base_url="https://news.example.com")
    build_sample(engine, settings)
    app = create_app(settings, engine=engine)
    app.state.editor_open = True
    with serve(app) as base:
        yield base, engine, settings


def _edition(engine: Engine) -> Edition:
    with Session(engine) as session:
        return session.exec(select(Edition)).one()


def _messages(settings: Settings) -> list[email.message.EmailMessage]:
    files = sorted(settings.outbox_dir.rglob("*.eml"), key=lambda p: p.stat().st_mtime)
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]  # type: ignore[misc]


def test_desk_edit_reorder_add_feature_approve_and_send(browser, desk, artifacts: Path) -> None:
    base, engine, settings = desk
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    offline(context)
    page = context.new_page()
    page.goto(base + DESK)
    assert page.locator("#status").get_attribute("data-status") == "draft"
    assert page.locator("#approve").is_visible()  # in view at the top, without scrolling
    before = load_selection(_edition(engine).selection_json)

    page.fill("input[name=subject]", "Le grand jour des tests")
    page.fill("input[name=preheader]", "Tout ce qui compte ce matin")
    assert "23 characters" in page.locator("#subject-count").inner_text()  # counted live
    page.get_by_role("button", name="Save subject and preheader").click()
    page.wait_for_load_state()
    assert page.locator("[role=status]").inner_text() == "Subject and preheader saved."
    assert page.locator("input[name=subject]").input_value() == "Le grand jour des tests"
    frame = page.frame_locator("iframe[title='Desktop preview']")
    assert frame.locator("title").inner_text() == "Le grand jour des tests"

    skipped = next(s for s in before.skipped if s.reason.startswith("over the cap") or "outside" in s.reason)
    page.locator("tr.skip", has_text=skipped.title).get_by_role("button", name="Add").click()
    page.wait_for_load_state()
    assert skipped.title in page.locator("ol.headlines").inner_text()

    first, second = before.headlines[0].article, before.headlines[1].article
    page.get_by_role("button", name=f"Move down: {first.title}").click()
    page.wait_for_load_state()
    titles = page.locator("ol.headlines li.headline > div:first-child a").all_inner_texts()
    assert titles.index(second.title) < titles.index(first.title)
    html = page.frame_locator("iframe[title='Desktop preview']").locator("body").inner_html()
    assert html.index(second.title[:30]) < html.index(first.title[:30])

    featured = before.headlines[2].article
    page.locator("li.headline", has_text=featured.title).get_by_role("button", name="Feature").click()
    page.wait_for_load_state()
    assert featured.title in page.locator("#featured").inner_text()

    page.get_by_role("button", name="Approve for sending").click()
    page.wait_for_load_state()
    assert page.locator("#status").get_attribute("data-status") == "approved"
    page.screenshot(path=str(artifacts / "desk-after-edits-1280.png"), full_page=True)
    context.close()

    edition = _edition(engine)
    assert edition.status == EditionStatus.APPROVED
    assert edition.id is not None
    with open_backend(settings) as backend:
        send_edition(Mailing.from_settings(settings, engine, edition.id, backend))
    french = [m for m in _messages(settings) if m["Subject"] == "Le grand jour des tests"]
    assert french, "the edited subject is the sent messages' subject"
    # Readers who chose sections get only those sections' headlines: look at the all-sections readers'.
    bodies = [m.get_body(("html",)).get_content() for m in french]  # type: ignore[union-attr]
    added, moved_up, moved_down = (url.split("?")[0] for url in (skipped.url, second.url, first.url))
    whole = [body for body in bodies if moved_up in body and moved_down in body]
    assert whole and all(added in body for body in whole)
    assert all(body.index(moved_up) < body.index(moved_down) for body in whole)


def test_desk_at_375_px_and_in_every_language(browser, desk, artifacts: Path) -> None:
    base, _, _ = desk
    shoot(browser, base + DESK, artifacts, "desk")
    for language in ("fr", "ar"):
        context = browser.new_context(viewport={"width": 375, "height": 800})
        offline(context)
        page = context.new_page()
        page.goto(f"{base}{DESK}?ui={language}")
        assert page.locator("html").get_attribute("lang") == language
        assert no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / f"desk-{language}-375.png"), full_page=False)
        context.close()
