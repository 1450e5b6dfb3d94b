"""The preference centre's time-zone chooser in a real browser: a reader finds their city and saves it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from digest.db import open_session
from subscribers.models import Subscriber
from tests.browser.test_preferences import base_url, browser_page, server  # noqa: F401  (fixtures)
from tests.subscribers_helpers import links, make_reader, secret_of

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(make_settings, base_url: str):  # noqa: F811
    return make_settings(base_url=base_url, delivery_hour="06:30")


def test_a_reader_picks_montreal_in_the_chooser(settings, engine, server, browser_page, artifacts: Path) -> None:  # noqa: F811
    subscriber_id, list_id = make_reader(engine, "amina@example.com", language="fr")
    page = browser_page
    page.set_viewport_size({"width": 420, "height": 900})
    page.goto(links(settings).preferences_url(subscriber_id, list_id, secret_of(engine, subscriber_id)))
    chooser = page.get_by_label("Fuseau horaire")
    assert chooser.input_value() == "", "the publication's zone until the reader chooses"
    assert page.locator("#timezone option:checked").inner_text() == "Celui de la lettre (Africa/Casablanca)"
    assert page.get_by_text("La lettre arrive à 06:30 dans ce fuseau horaire.").is_visible()
    assert page.locator('#timezone optgroup[label="America"] option').count() > 100
    chooser.select_option("America/Montreal")
    page.screenshot(path=str(artifacts / "preferences-timezone.png"), full_page=True)
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(lambda url: url.endswith("?saved=1"), timeout=5000)
    assert page.get_by_label("Fuseau horaire").input_value() == "America/Montreal"
    assert page.locator("#timezone option:checked").inner_text().startswith("Montreal (UTC-0")
    with open_session(engine) as session:
        assert session.exec(select(Subscriber.timezone)).one() == "America/Montreal"
