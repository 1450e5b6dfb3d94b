"""Each reader's time zone: checked as an IANA key, set by the preference centre, the CSV import and its
export, shown by `subscribers list --json` and the editor's reader page."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from digest.db import open_session
from digest.errors import SubscriberError
from digest.web.app import create_app
from subscribers.importer import import_csv
from subscribers.inputs import check_timezone
from subscribers.store import get_list
from tests.subscribers_helpers import client, csrf_of, links, local, make_reader, secret_of

PASSWORD = "readers-password"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Mars/Olympus_Mons", "'Mars/Olympus_Mons' is not an IANA time zone name"),
        ("../../../../etc/passwd", "is not an IANA time zone name"),
        ("/usr/share/zoneinfo/Europe/Paris", "is not an IANA time zone name"),
        ("europe/paris", "is not an IANA time zone name"),
        ("Europe/Paris\n", None),  # surrounding blanks are trimmed, as every CSV cell
        ("Europe/\nParis", "must not contain the control character U+000A"),
        ("Europe/Paris\x00", "must not contain the control character U+0000"),
        ("Europe/" + "x" * 60, "time zone must be at most 64 characters"),
    ],
)
def test_a_time_zone_is_an_iana_key_zoneinfo_knows(value: str, message: str | None) -> None:
    if message is None:
        assert check_timezone(value) == "Europe/Paris"
        return
    with pytest.raises(SubscriberError, match=re.escape(message)) as raised:
        check_timezone(value)
    assert "\n" not in str(raised.value), "one line"


def test_blank_is_the_publications_zone() -> None:
    assert check_timezone(None) is None and check_timezone("  ") is None
    assert check_timezone("America/Montreal") == "America/Montreal"
    assert check_timezone("US/Pacific") == "US/Pacific", "an alias zoneinfo knows is accepted"


def _preferences(http: TestClient, settings: Any, engine: Engine, subscriber_id: int, list_id: int) -> tuple[str, str]:
    url = local(links(settings).preferences_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    page = http.get(url)
    assert page.status_code == 200
    return url, page.text


def _zone_of(engine: Engine, email: str) -> str | None:
    from sqlmodel import select

    from subscribers.models import Subscriber

    with open_session(engine) as session:
        return session.exec(select(Subscriber.timezone).where(Subscriber.email == email)).one()


def test_the_preference_centre_sets_and_clears_the_readers_zone(make_settings, engine: Engine) -> None:
    settings = make_settings(delivery_hour="06:30")
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    http = client(settings, engine)
    url, page = _preferences(http, settings, engine, subscriber_id, list_id)
    assert '<select id="timezone" name="timezone"' in page and '<optgroup label="Europe">' in page
    assert '<option value="" selected>' in page, "the publication's zone, until the reader chooses"
    assert "La lettre arrive à 06:30 dans ce fuseau horaire." in page
    form = {"csrf": csrf_of(page), "frequency": "daily", "format": "html", "list": [str(list_id)]}
    saved = http.post(url, data={**form, "timezone": "America/Montreal"}, follow_redirects=False)
    assert saved.status_code == 303
    assert _zone_of(engine, "amina@example.com") == "America/Montreal"
    _, again = _preferences(http, settings, engine, subscriber_id, list_id)
    assert '<option value="America/Montreal" selected>Montreal (UTC' in again
    refused = http.post(url, data={**form, "timezone": "../../etc/passwd"})
    assert refused.status_code == 400 and 'role="alert"' in refused.text
    assert "is not an IANA time zone name" in refused.text
    assert _zone_of(engine, "amina@example.com") == "America/Montreal", "unchanged"
    http.post(url, data={**form, "timezone": ""})
    assert _zone_of(engine, "amina@example.com") is None, "back to the publication's"


def test_import_export_and_list_carry_the_zone(run_cli, engine: Engine, tmp_path: Path) -> None:
    csv_file = tmp_path / "readers.csv"
    csv_file.write_text(
        "email,name,timezone\n"
        "amina@example.com,Amina,Asia/Dubai\n"
        "youssef@example.com,Youssef,\n"
        "bad@example.com,Bad,Europe/Atlantis\n",
        encoding="utf-8",
    )
    imported = run_cli("subscribers", "import", str(csv_file), "--confirmed")
    assert imported.exit_code == 0, imported.output
    assert "Europe/Atlantis" in imported.output and "not an IANA time zone name" in imported.output
    listed = {row["email"]: row for row in json.loads(run_cli("subscribers", "list", "--json").stdout)}
    assert listed["amina@example.com"]["timezone"] == "Asia/Dubai"
    assert listed["youssef@example.com"]["timezone"] is None
    exported = tmp_path / "export.csv"
    assert run_cli("subscribers", "export", "--output", str(exported)).exit_code == 0
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",")[:5] == ["email", "name", "language", "sections", "timezone"]
    assert [line.split(",")[4] for line in lines[1:]] == ["Asia/Dubai", ""]
    # A reader who moved: a later file changes the zone; an empty cell leaves it.
    csv_file.write_text("email,timezone\namina@example.com,America/Montreal\nyoussef@example.com,\n", encoding="utf-8")
    with open_session(engine) as session:
        report = import_csv(
            csv_file.read_text(encoding="utf-8").splitlines(keepends=True),
            session=session,
            mailing_list=get_list(session=session, slug="quotidien"),
        )
        session.commit()
    assert [row.outcome for row in report.rows] == ["updated", "unchanged"]
    assert _zone_of(engine, "amina@example.com") == "America/Montreal"


def test_the_editors_reader_page_shows_the_zone(make_settings, engine: Engine) -> None:
    settings = make_settings(editor_password=PASSWORD)
    paris_id, _ = make_reader(engine, "paris@example.com")
    home_id, _ = make_reader(engine, "home@example.com")
    with open_session(engine) as session:
        from subscribers.models import Subscriber

        reader = session.get(Subscriber, paris_id)
        assert reader is not None
        reader.timezone = "Europe/Paris"
        session.add(reader)
        session.commit()
    auth = {"Authorization": "Basic " + base64.b64encode(f"e:{PASSWORD}".encode()).decode(), "Accept-Language": "en"}
    http = TestClient(create_app(settings, engine=engine), base_url=settings.base_url, headers=auth)
    assert '<span id="reader-timezone">Europe/Paris</span>' in http.get(f"/editor/readers/{paris_id}").text
    home = http.get(f"/editor/readers/{home_id}").text
    assert """<span id="reader-timezone">the publication's (Africa/Casablanca)</span>""" in home
