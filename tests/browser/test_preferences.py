"""A real browser (Debian's chromium through Playwright) against a real `digest serve` app on loopback.

A reader opens the preference link of a message in the outbox, changes sections and frequency, saves; the
database and the next editions' recipients follow. Then they unsubscribe with the GET page's button.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import select

from digest.db import open_session
from digest.settings import SAMPLE_FEED, SAMPLE_SUBSCRIBERS, Settings
from digest.web.app import create_app
from subscribers.models import Subscriber, Subscription, SubscriptionStatus
from tests.browser.conftest import offline
from tests.conftest import SAMPLE_DAY
from tests.subscribers_helpers import link_in, read_messages

pytestmark = pytest.mark.browser

READER = "youssef.alaoui@example.com"
FRIDAY, SUNDAY, MONDAY = "2025-11-28", "2025-11-30", "2025-12-01"
# Two more days of news, so that "the next edition" exists: a Friday (daily readers only) and a Monday.
NEXT_DAYS_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Le Quotidien</title><link>https://www.lequotidien.example/</link>
<description>Suite</description>
<item><title>Vendredi : la Bourse de Casablanca termine en hausse</title>
<link>https://www.lequotidien.example/bourse-vendredi</link><guid>bourse-vendredi</guid>
<pubDate>Fri, 28 Nov 2025 17:00:00 +0100</pubDate><category>Économie</category>
<description>Le MASI gagne 0,8 %.</description></item>
<item><title>Lundi : campagne de vaccination dans les écoles</title>
<link>https://www.lequotidien.example/vaccination-lundi</link><guid>vaccination-lundi</guid>
<pubDate>Mon, 01 Dec 2025 09:00:00 +0100</pubDate><category>Santé</category>
<description>Le ministère lance une campagne nationale.</description></item>
</channel></rss>
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def base_url() -> str:
    return f"http://127.0.0.1:{_free_port()}"


@pytest.fixture
def settings(make_settings, base_url: str) -> Settings:
    return make_settings(base_url=base_url)


@pytest.fixture
def cli_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "DIGEST_AUTO_APPROVE": "1"}


@pytest.fixture
def server(settings: Settings, engine, base_url: str) -> Iterator[str]:
    """`digest serve`'s app under uvicorn on a loopback port, in a thread."""
    port = int(base_url.rsplit(":", 1)[1])
    config = uvicorn.Config(create_app(settings, engine=engine), host="127.0.0.1", port=port, log_level="warning")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not web.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield base_url
    web.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser_page(browser):
    """A fresh page of the session's chromium that can reach only this machine."""
    context = browser.new_context()
    offline(context)
    yield context.new_page()
    context.close()


def _reader_state(engine) -> tuple[Subscriber, Subscription]:
    with open_session(engine) as session:
        row = session.exec(
            select(Subscriber, Subscription)
            .join(Subscription, Subscription.subscriber_id == Subscriber.id)  # type: ignore[arg-type]
            .where(Subscriber.email == READER)
        ).one()
        return row[0], row[1]


def _recipients(outbox: Path, day: str) -> set[str]:
    return {m["To"].addresses[0].addr_spec for m in read_messages(outbox / day)}


def test_reader_changes_preferences_then_unsubscribes_in_a_real_browser(
    run_cli, settings, engine, server, browser_page, tmp_path
) -> None:
    assert run_cli("subscribers", "import", str(SAMPLE_SUBSCRIBERS), "--confirmed").exit_code == 0
    sent = run_cli("send", "--date", SAMPLE_DAY)
    assert sent.exit_code == 0, sent.output
    (message,) = [m for m in read_messages(settings.outbox_dir / SAMPLE_DAY) if READER in str(m["To"])]
    preferences = link_in(message, "p", server)

    page = browser_page
    page.goto(preferences)
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_text(READER).is_visible()
    assert page.get_by_label("Économie").is_checked() and page.get_by_label("Tech").is_checked()
    page.get_by_label("Tech").uncheck()
    page.get_by_label("Société").check()
    assert page.get_by_label("Les deux\u00a0: chaque jour et l’essentiel de la semaine").is_visible()
    page.get_by_label("Une fois par semaine\u00a0: l’essentiel de la semaine").check()
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(lambda url: url.endswith("?saved=1"), timeout=5000)
    assert page.get_by_role("status").inner_text() == "Vos préférences sont enregistrées."
    assert page.get_by_label("Société").is_checked() and not page.get_by_label("Tech").is_checked()

    _, stored = _reader_state(engine)
    assert set(stored.sections.split(",")) == {"Économie", "Société"}
    assert stored.frequency == "weekly"

    feed = tmp_path / "next-days.xml"
    feed.write_text(NEXT_DAYS_FEED, encoding="utf-8")
    # One story a day: enough for these editions to go out on their own.
    env = {"DIGEST_SOURCES": f"{SAMPLE_FEED},{feed}", "DIGEST_MIN_ARTICLES": "1"}
    assert run_cli("send", "--date", FRIDAY, env=env).exit_code == 0
    assert READER not in _recipients(settings.outbox_dir, FRIDAY)  # weekly now: no daily edition
    assert len(_recipients(settings.outbox_dir, FRIDAY)) == 4
    assert run_cli("send", "--kind", "weekly", "--date", SUNDAY, env=env).exit_code == 0
    assert _recipients(settings.outbox_dir, SUNDAY) == {READER}, "the week's round-up, to its weekly reader only"
    assert run_cli("send", "--date", MONDAY, env=env).exit_code == 0
    assert READER not in _recipients(settings.outbox_dir, MONDAY)

    unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
    page.goto(unsubscribe)
    _, still = _reader_state(engine)
    assert still.status == SubscriptionStatus.ACTIVE  # opening the page is not unsubscribing
    page.get_by_role("button", name="Me désabonner de Quotidien").click()
    assert page.get_by_role("heading").inner_text() == "Vous êtes désabonné"
    _, gone = _reader_state(engine)
    assert gone.status == SubscriptionStatus.UNSUBSCRIBED
