"""Hostile text from forms, the command line and CSV files: control characters refused wherever text reaches a
header, a path or a rendered variant; sections limited; list slugs validated; private lists stay private."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from digest.db import open_session
from digest.errors import ConfigError, MailError, SubscriberError
from digest.mail.base import Batch, Content, Recipient
from digest.mail.outbox import OutboxBackend
from digest.settings import Settings, load_settings
from digest.web.app import create_app
from subscribers.models import Subscriber, Subscription, SubscriptionStatus
from subscribers.store import add_subscriber, create_list, get_list
from tests.editions import build_sample
from tests.subscribers_helpers import (
    client,
    csrf_of,
    links,
    local,
    make_reader,
    secret_of,
    subscription,
)

FIELDS = {"unsubscribe_url": "https://news.example.com/u/x", "preferences_url": "https://news.example.com/p/x"}
HOSTILE = [
    "Amina\r\nBcc: everyone@example.com",
    "Am\nina",
    "A\x00mina",
    "A\x85mina",
    "Amina\u2028Bcc: x",
    "\u202enimA",
    "Amina\u2066x\u2069",
    "Amina\x1b[31m",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_the_preference_centre_refuses_control_characters_in_a_name(
    settings: Settings, engine: Engine, name: str
) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com", name="Amina")
    url = local(links(settings).preferences_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    with client(settings, engine) as http:
        page = http.get(url)
        answer = http.post(
            url,
            data={"csrf": csrf_of(page.text), "name": name, "language": "fr", "frequency": "daily", "format": "html"},
        )
    assert answer.status_code == 400
    with open_session(engine) as session:
        stored = session.get(Subscriber, subscriber_id)
        assert stored is not None and stored.name == "Amina"


@pytest.mark.parametrize("name", HOSTILE[:3])
def test_sign_up_refuses_control_characters_in_a_name(settings: Settings, engine: Engine, name: str) -> None:
    with client(settings, engine) as http:
        answer = http.post("/subscribe", data={"email": "amina@example.com", "name": name, "language": "en"})
    assert answer.status_code == 400 and "This name is not valid" in answer.text
    with open_session(engine) as session:
        assert session.exec(select(Subscriber)).all() == []


def test_cli_add_and_import_refuse_control_characters(run_cli, engine: Engine, tmp_path: Path) -> None:
    added = run_cli("subscribers", "add", "amina@example.com", "--name", "Amina\r\nBcc: x@example.com")
    assert added.exit_code == 1 and "control character U+000D" in added.output
    csv = tmp_path / "readers.csv"
    csv.write_text('email,name,sections\nyoussef@example.com,"You\u202essef",\nsara@example.com,Sara,"Spo\x85rt"\n')
    imported = run_cli("subscribers", "import", str(csv))
    assert "control character U+202E" in imported.output and "control character U+0085" in imported.output
    with open_session(engine) as session:
        assert session.exec(select(Subscriber)).all() == []


@pytest.mark.parametrize("section", ["<b>Sport</b>\u202e", "Sp\nort", "%%s\x00"])
def test_sections_outside_digest_sections_are_refused(make_settings, engine: Engine, section: str) -> None:
    settings = make_settings(sections="Politique,Sport")
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).preferences_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    form = {"language": "fr", "frequency": "daily", "format": "html"}
    with client(settings, engine) as http:
        page = http.get(url)
        assert 'value="Politique"' in page.text and 'value="Sport"' in page.text
        refused = http.post(url, data={**form, "csrf": csrf_of(page.text), "section": ["Sport", section]})
        assert refused.status_code == 400
        assert subscription(engine, subscriber_id, list_id).sections is None
        accepted = http.post(url, data={**form, "csrf": csrf_of(page.text), "section": ["Sport"]})
        assert accepted.status_code == 200
    assert subscription(engine, subscriber_id, list_id).sections == "Sport"


def test_without_digest_sections_only_sections_of_the_lists_editions_are_accepted(
    settings: Settings, engine: Engine
) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).preferences_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    with client(settings, engine) as http:
        page = http.get(url)
        form = {"language": "fr", "frequency": "daily", "format": "html", "csrf": csrf_of(page.text)}
        for n in range(3):
            assert http.post(url, data={**form, "section": f"made-up-{n}"}).status_code == 400
    assert subscription(engine, subscriber_id, list_id).sections is None


@pytest.mark.parametrize("slug", ["../../x", "readers", "editor", "a/b", "a.b", "", "x" * 65, "quoti\u0000dien"])
def test_list_slugs_are_validated_everywhere(slug: str, engine: Engine, monkeypatch, tmp_path: Path) -> None:
    with open_session(engine) as session, pytest.raises(SubscriberError):
        create_list(session=session, slug=slug)
    if "\x00" not in slug:  # the environment cannot hold a NUL
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("DIGEST_LIST", slug)
        with pytest.raises(ConfigError, match="DIGEST_LIST"):
            load_settings()


def test_the_outbox_never_writes_outside_its_folder(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path / "outbox")
    batch = Batch(
        content=Content(subject="s", html="<p>h</p>", text="t"),
        recipients=[Recipient(email="amina@example.com", fields=FIELDS, delivery_id=1)],
        sender="Digest <digest@example.com>",
        list_id="Q <q.example.com>",
        now=datetime(2025, 11, 27, tzinfo=UTC),
        edition_key="2025-11-27.../../../escaped",
        categories=("q",),
    )
    with pytest.raises(MailError, match="outside"):
        backend.send_batch(batch)
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.rglob("*.eml"))


def test_private_lists_are_offered_to_their_readers_only(settings: Settings, engine: Engine) -> None:
    with open_session(engine) as session:
        create_list(session=session, slug="staff", name="Internal staff list", public=False)
        create_list(session=session, slug="hebdo", name="L'hebdo")
        session.commit()
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).preferences_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    with open_session(engine) as session:
        staff_id = get_list(session=session, slug="staff").id
    with client(settings, engine) as http:
        page = http.get(url)
        assert "Internal staff list" not in page.text and "L&#39;hebdo" in page.text
        form = {"language": "fr", "frequency": "daily", "format": "html", "csrf": csrf_of(page.text)}
        http.post(url, data={**form, "list": [str(list_id), str(staff_id)]})
        assert http.get("/subscribe?list=staff").status_code == 404
        http.post("/subscribe", data={"email": "youssef@example.com", "list": "staff"})
    with open_session(engine) as session:
        assert session.exec(select(Subscription).where(Subscription.list_id == staff_id)).all() == []
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.ACTIVE


def test_a_reader_on_a_private_list_still_sees_it(settings: Settings, engine: Engine) -> None:
    with open_session(engine) as session:
        staff = create_list(session=session, slug="staff", name="Internal staff list", public=False)
        add_subscriber(session=session, mailing_list=staff, email="amina@example.com", confirmed=True)
        session.commit()
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).preferences_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    with client(settings, engine) as http:
        assert "Internal staff list" in http.get(url).text


def test_an_editor_password_under_12_characters_is_refused(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_EDITOR_PASSWORD", "hunter2")
    with pytest.raises(ConfigError, match="DIGEST_EDITOR_PASSWORD: has 7 characters: at least 12"):
        load_settings()


def test_hostile_identifiers_are_not_found_never_a_server_error(settings: Settings, engine: Engine) -> None:
    with client(settings, engine) as http:
        for number in ("2147483648", "9999999999", "9999999999999999999", "99999999999999999999"):
            for kind in ("u", "p", "c"):
                token = f"{number}.{number}.1764230400.{'A' * 43}"
                assert http.get(f"/{kind}/{token}").status_code == 404
                assert http.post(f"/{kind}/{token}").status_code == 404
        for path in (
            "/subscribe?list=%00",
            "/editions/%00",
            "/editions/q%00/feed.atom",
            "/editions/a.b/2025-11-27",
        ):
            assert http.get(path).status_code == 404, path
        answer = http.post(
            "/subscribe",
            data={"email": "amina@example.com", "list": "quotidien"},
            headers={"User-Agent": "bot\x00\x01"},
        )
        assert answer.status_code == 200


def test_hostile_form_and_query_values_never_make_a_server_error(make_settings, engine: Engine) -> None:
    """NUL bytes, huge numbers and impossible keys in the readers' and the editor's forms and queries: 4xx or a
    refusal on the page, never a 500 (PostgreSQL refuses NUL in text, SQLite integers past 64 bits)."""
    settings = make_settings(editor_password="a-long-editor-password")
    build_sample(engine, settings)
    sid, lid = make_reader(engine, "amina@example.com")
    auth = {"Authorization": "Basic " + base64.b64encode(b"e:a-long-editor-password").decode()}
    http = TestClient(create_app(settings, engine=engine), base_url=settings.base_url, raise_server_exceptions=False)
    bad = []
    url = local(links(settings).preferences_url(sid, lid, secret_of(engine, sid)), settings)
    page = http.get(url)
    csrf = csrf_of(page.text)
    for data in [
        {"csrf": csrf, "list": "99999999999999999999999", "frequency": "daily", "format": "html"},
        {"csrf": csrf, "language": "\x00", "frequency": "daily", "format": "html"},
        {"csrf": csrf, "frequency": "\x00", "format": "html"},
        {"csrf": csrf, "paused_until": "9999-12-31"},
        {"csrf": csrf, "paused_until": "\x00"},
        {"csrf": "\x00"},
    ]:
        r = http.post(url, data=data)
        if r.status_code >= 500:
            bad.append(("prefs", data, r.status_code))
    for path in [
        "/editor/quotidien/2025-11-27/variant?key=%00",
        "/editor/quotidien/2025-11-27/variant.txt?key=%00",
        "/editor/quotidien/2025-11-27?variant=%00",
        "/editor/%00/2025-11-27",
        "/editions/quotidien/2025-11-27?lang=%00",
        "/subscribe?lang=%00",
        "/p/%00",
        "/u/%00",
        "/c/" + "9" * 300,
    ]:
        r = http.get(path, headers=auth)
        if r.status_code >= 500:
            bad.append((path, r.status_code))
    page = http.get("/editor/quotidien/2025-11-27", headers=auth)
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    for action, data in [
        ("pin", {"url": "\x00"}),
        ("drop", {"url": "x\x00"}),
        ("intro", {"intro": "\x00\r\n"}),
        ("test", {"to": "a\x00@b.c", "key": "\x00"}),
        ("test", {"to": "ed@example.com", "key": "\x00"}),
    ]:
        r = http.post(f"/editor/quotidien/2025-11-27/{action}", data={"csrf": csrf, **data}, headers=auth)
        if r.status_code >= 500:
            bad.append((action, data, r.status_code))
    for data in [{"email": "a@b.c", "language": "\x00"}, {"email": "\x00"}, {"email": "a@b.c", "list": "x" * 500}]:
        r = http.post("/subscribe", data=data)
        if r.status_code >= 500:
            bad.append(("subscribe", data, r.status_code))
    assert bad == []
