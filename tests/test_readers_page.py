"""The editor's readers page: search, a reader's detail, unsubscribe, take back with a reason, erase, import."""

from __future__ import annotations

import base64
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.web.app import create_app
from subscribers.models import ConsentEvent, Subscriber, Subscription, Suppression
from tests.seed import add_readers

PASSWORD = "readers-password"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"e:{PASSWORD}".encode()).decode(), "Accept-Language": "en"}


@pytest.fixture
def client(make_settings, engine: Engine) -> TestClient:
    add_readers(engine, 12)
    settings = make_settings(editor_password=PASSWORD)
    return TestClient(create_app(settings, engine=engine), base_url=settings.base_url, headers=AUTH)


def _csrf(client: TestClient) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get("/editor/readers").text)
    assert match
    return match.group(1)


def _reader_id(engine: Engine, email: str) -> int:
    with Session(engine) as session:
        found = session.exec(select(Subscriber.id).where(Subscriber.email == email)).one()
        assert found is not None
        return found


def test_search_by_address_or_name(client: TestClient) -> None:
    page = client.get("/editor/readers", params={"q": "READER1"})
    assert "reader1@example.com" in page.text and "reader10@example.com" in page.text
    assert "reader2@example.com" not in page.text
    assert "reader7@example.com" in client.get("/editor/readers", params={"q": "reader 7"}).text
    assert "No reader matches." in client.get("/editor/readers", params={"q": "50%_"}).text
    assert client.get("/editor/readers", params={"q": "x" * 201}).status_code == 422
    assert client.get("/editor/readers", headers={"Authorization": ""}).status_code == 401


def test_unsubscribe_then_take_back_only_with_a_reason(client: TestClient, engine: Engine) -> None:
    reader = _reader_id(engine, "reader3@example.com")
    csrf = _csrf(client)
    left = client.post(f"/editor/readers/{reader}/unsubscribe", data={"csrf": csrf, "list_slug": "quotidien"})
    assert "Unsubscribed." in left.text
    refused = client.post(f"/editor/readers/{reader}/resubscribe", data={"csrf": csrf, "list_slug": "quotidien"})
    assert "say why the reader is taken back" in refused.text
    back = client.post(
        f"/editor/readers/{reader}/resubscribe",
        data={"csrf": csrf, "list_slug": "quotidien", "reason": "asked by email on 2 December"},
    )
    assert "Subscribed again" in back.text and "asked by email on 2 December" in back.text
    with Session(engine) as session:
        assert session.exec(select(Subscription.status).where(Subscription.subscriber_id == reader)).one() == "active"
        details = session.exec(select(ConsentEvent.detail).where(ConsentEvent.subscriber_id == reader)).all()
    assert "taken back by an editor: asked by email on 2 December" in details
    forged = client.post(f"/editor/readers/{reader}/unsubscribe", data={"csrf": "x", "list_slug": "quotidien"})
    assert forged.status_code == 403


def test_erase_needs_the_address_typed(client: TestClient, engine: Engine) -> None:
    reader = _reader_id(engine, "reader4@example.com")
    csrf = _csrf(client)
    wrong = client.post(f"/editor/readers/{reader}/erase", data={"csrf": csrf, "confirm": "reader5@example.com"})
    assert "type the reader&#39;s address to confirm" in wrong.text
    erased = client.post(f"/editor/readers/{reader}/erase", data={"csrf": csrf, "confirm": "Reader4@example.com"})
    assert "Erased" in erased.text
    with Session(engine) as session:
        assert session.get(Subscriber, reader) is None
        assert session.exec(select(Suppression).where(Suppression.reason == "erased")).first() is not None
    assert client.get(f"/editor/readers/{reader}").status_code == 404


def test_csv_upload_reports_each_row_like_the_cli(client: TestClient, engine: Engine) -> None:
    body = "email,name,language\nnew@example.com,Nouvelle,fr\nnot-an-address,X,fr\nreader1@example.com,,\n"
    page = client.post(
        "/editor/readers/import",
        data={"csrf": _csrf(client), "list_slug": "quotidien", "confirmed": "true"},
        files={"file": ("readers.csv", body.encode(), "text/csv")},
    )
    assert page.status_code == 200
    assert "readers.csv</strong>: 1 added, 0 updated, 1 unchanged, 1 invalid" in page.text
    assert re.search(r"<td class=\"num\">3</td><td>not-an-address</td><td>invalid</td>", page.text)
    bad = client.post(
        "/editor/readers/import",
        data={"csrf": _csrf(client)},
        files={"file": ("x.csv", "courriel\n".encode("utf-16"), "text/csv")},
    )
    assert bad.status_code == 400 and "not UTF-8" in bad.text
    with Session(engine) as session:
        assert session.exec(select(Subscriber).where(Subscriber.email == "new@example.com")).first() is not None
