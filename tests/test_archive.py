"""The public web version of sent editions, the archive page and its Atom feed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlmodel import Session, select

from digest.models import Edition, EditionStatus
from digest.settings import Settings
from digest.web.app import create_app
from tests.conftest import SAMPLE_DAY
from tests.editions import build_sample

ATOM = "{http://www.w3.org/2005/Atom}"
WEB = f"/editions/quotidien/{SAMPLE_DAY}"


@pytest.fixture
def client(settings: Settings, engine) -> TestClient:
    return TestClient(create_app(settings, engine=engine), base_url=settings.base_url)


def _mark_sent(engine) -> None:
    with Session(engine) as session:
        edition = session.exec(select(Edition)).one()
        edition.status = EditionStatus.SENT
        edition.sent_at = datetime(2025, 11, 27, 7, tzinfo=UTC)
        session.add(edition)
        session.commit()


def test_a_draft_is_not_public(client: TestClient, settings: Settings, engine) -> None:
    build_sample(engine, settings)
    assert client.get(WEB).status_code == 404
    assert "Aucune édition n’a encore été envoyée." in client.get("/editions/quotidien").text
    assert client.get("/editions/quotidien/feed.atom").status_code == 200


def test_web_version_of_a_sent_edition(client: TestClient, settings: Settings, engine) -> None:
    build_sample(engine, settings)
    _mark_sent(engine)
    page = client.get(WEB)
    assert page.status_code == 200
    assert "Net-Pharma Hub" in page.text and "%%" not in page.text
    assert 'href="https://news.example.com/editions/quotidien"' in page.text
    arabic = client.get(WEB, params={"lang": "ar"})
    assert 'dir="rtl"' in arabic.text
    assert 'lang="fr"' in client.get(WEB, params={"lang": "de"}).text
    assert client.get("/editions/quotidien/2025-13-40").status_code == 404
    assert client.get("/editions/nope/2025-11-27").status_code == 404


def test_archive_page_and_full_content_feed(client: TestClient, settings: Settings, engine) -> None:
    build_sample(engine, settings)
    _mark_sent(engine)
    index = client.get("/editions/quotidien")
    assert "27 novembre 2025" in index.text
    assert f'href="https://news.example.com{WEB}"' in index.text
    assert "Les éditions précédentes" in index.text
    assert client.get("/editions", follow_redirects=False).headers["location"] == "/editions/quotidien"
    feed = client.get("/editions/quotidien/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = etree.fromstring(feed.content)
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1
    assert entries[0].findtext(f"{ATOM}id") == f"https://news.example.com{WEB}"
    content = entries[0].findtext(f"{ATOM}content")
    assert content and "Le Maroc capte un projet britannique" in content and "<body" not in content
    assert entries[0].findtext(f"{ATOM}updated") == "2025-11-27T07:00:00+00:00"


def test_email_pages_run_no_script(client: TestClient, settings: Settings, engine) -> None:
    build_sample(engine, settings)
    _mark_sent(engine)
    assert "script-src 'none'" in client.get(WEB).headers["content-security-policy"]


def test_web_version_has_the_archives_footer_not_a_readers(client: TestClient, settings: Settings, engine) -> None:
    build_sample(engine, settings)
    _mark_sent(engine)
    page = client.get(WEB).text
    assert "reader-footer" not in page and 'class="archive-footer"' in page
    assert "/u/" not in page and "/p/" not in page
    assert "Vous recevez ce message" not in page and "Se désabonner" not in page
    assert "abonner à Quotidien</a>" in page and "/subscribe?list=quotidien&amp;lang=fr" in page
    assert 'href="https://news.example.com/editions/quotidien"' in page
    feed = client.get("/editions/quotidien/feed.atom").text
    assert "archive-footer" in feed and "Se désabonner" not in feed
    index = client.get("/editions/quotidien").text
    assert 'href="https://news.example.com/subscribe?list=quotidien&amp;lang=fr"' in index
