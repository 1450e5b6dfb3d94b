"""The editor's preview and approval pages, their password, and `digest preview --output`."""

from __future__ import annotations

import base64
import email
import email.policy
import re
import socket
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from digest.edition import find_edition, load_choices, load_selection
from digest.models import Edition, EditionStatus, EditionVariant
from digest.settings import Settings
from digest.web.app import create_app
from digest.web.editor import csrf_token
from subscribers.store import get_list
from tests.conftest import SAMPLE_DAY
from tests.editions import SAMPLE, build_sample

PASSWORD = "s3cret-editor"
PAGE = f"/editor/quotidien/{SAMPLE_DAY}"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"editor:{PASSWORD}".encode()).decode()}


@pytest.fixture
def editor_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(editor_password=PASSWORD)


@pytest.fixture
def client(editor_settings: Settings, engine) -> TestClient:
    return TestClient(
        create_app(editor_settings, engine=engine),
        base_url=editor_settings.base_url,
        headers={**AUTH, "Accept-Language": "en"},
    )


def _csrf(client: TestClient) -> str:
    page = client.get(PAGE)
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def _edition(engine) -> tuple[Edition, list[EditionVariant]]:
    with Session(engine) as session:
        edition = session.exec(select(Edition)).one()
        variants = list(session.exec(select(EditionVariant).where(EditionVariant.edition_id == edition.id)))
    return edition, variants


def test_editor_needs_its_password(editor_settings: Settings, make_settings, engine) -> None:
    open_app = TestClient(create_app(editor_settings, engine=engine), base_url=editor_settings.base_url)
    assert open_app.get(PAGE).status_code == 401
    assert open_app.get(PAGE, auth=("editor", "wrong")).status_code == 401
    assert open_app.get(PAGE, headers={**AUTH, "Accept-Language": "en"}).status_code == 200
    closed = TestClient(create_app(make_settings(), engine=engine), base_url="https://news.example.com")
    response = closed.get(PAGE)
    assert response.status_code == 403 and "DIGEST_EDITOR_PASSWORD" in response.text


def test_page_shows_variants_lint_and_skipped(client: TestClient, editor_settings: Settings, engine) -> None:
    build_sample(engine, editor_settings)
    page = client.get(PAGE)
    assert page.status_code == 200
    for label in ("fr · all sections", "en · all sections", "ar · all sections", "fr · tech, économie"):
        assert label in page.text
    assert "No problem found." in page.text
    assert "outside the window" in page.text
    assert "Window: 2025-11-27 00:00 – 2025-11-28 00:00 (Africa/Casablanca)" in page.text
    # Every pick's reason is shown: the featured one's and each headline's.
    assert "featured: score " in page.text and "headline 1 of " in page.text
    assert 'title="Phone preview"' in page.text and 'title="Dark mode preview"' in page.text
    _, variants = _edition(engine)
    assert {v.key for v in variants} == {"fr", "en", "ar", "fr:tech+économie"}
    shown = client.get(PAGE + "/variant", params={"key": "ar"})
    assert 'dir="rtl"' in shown.text and "%%" not in shown.text
    assert "https://news.example.com/u/preview" in shown.text
    dark = client.get(PAGE + "/variant", params={"key": "fr", "dark": "1"})
    assert "@media all" in dark.text and "prefers-color-scheme: dark" not in dark.text
    text = client.get(PAGE + "/variant.txt", params={"key": "en"})
    assert "TODAY'S HEADLINES" in text.text
    assert client.get(PAGE + "/variant", params={"key": "de"}).status_code == 404


def test_pin_drop_intro_restore_rebuild_the_edition(client: TestClient, editor_settings: Settings, engine) -> None:
    build_sample(engine, editor_settings)
    edition, _ = _edition(engine)
    selection = load_selection(edition.selection_json)
    other = selection.headlines[2].article.url
    dropped = selection.headlines[0].article.url
    csrf = _csrf(client)

    pinned = client.post(PAGE + "/pin", data={"csrf": csrf, "url": other})
    assert pinned.status_code == 200 and "Featured." in pinned.text
    edition, _ = _edition(engine)
    assert load_selection(edition.selection_json).featured.article.url == other  # type: ignore[union-attr]

    client.post(PAGE + "/drop", data={"csrf": csrf, "url": dropped})
    client.post(PAGE + "/intro", data={"csrf": csrf, "intro": "Un mot <de> la rédaction"})
    edition, variants = _edition(engine)
    selection = load_selection(edition.selection_json)
    assert dropped not in {p.article.url for p in selection.headlines}
    assert any(s.url == dropped and s.reason == "excluded by the editor" for s in selection.skipped)
    assert all("Un mot &lt;de&gt; la rédaction" in v.html for v in variants)
    assert load_choices(edition.choices_json).intro == "Un mot <de> la rédaction"

    restored = client.post(PAGE + "/restore", data={"csrf": csrf, "url": dropped})
    assert "Restored." in restored.text
    edition, _ = _edition(engine)
    assert dropped in {p.article.url for p in load_selection(edition.selection_json).headlines}
    assert load_selection(edition.selection_json).featured.article.url == other  # type: ignore[union-attr]


def test_forms_need_a_valid_token(client: TestClient, editor_settings: Settings, engine) -> None:
    build_sample(engine, editor_settings)
    assert client.post(PAGE + "/approve", data={"csrf": "forged"}).status_code == 403
    assert client.post(PAGE + "/approve", data={}).status_code == 422
    assert _edition(engine)[0].status == EditionStatus.DRAFT


def test_send_a_test_to_given_addresses(client: TestClient, editor_settings: Settings, engine) -> None:
    build_sample(engine, editor_settings)
    csrf = _csrf(client)
    bad = client.post(PAGE + "/test", data={"csrf": csrf, "to": "not-an-address", "key": "en"})
    assert "invalid email address" in bad.text
    sent = client.post(PAGE + "/test", data={"csrf": csrf, "to": "ed@example.com, chief@example.com", "key": "en"})
    assert "Test sent to 2 addresses." in sent.text
    files = sorted(editor_settings.outbox_dir.rglob("*.eml"))
    assert len(files) == 2
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["Subject"].startswith("[TEST] Le Quotidien: ")  # the English variant: English typography
    assert "Unsubscribe" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_approve_refuses_lint_errors_unless_overridden(make_settings, engine) -> None:
    settings = make_settings(editor_password=PASSWORD, base_url="http://news.example.com")
    build_sample(engine, settings)
    client = TestClient(
        create_app(settings, engine=engine), base_url=settings.base_url, headers={**AUTH, "Accept-Language": "en"}
    )
    page = client.get(PAGE)
    assert "instead of https://" in page.text and "Send despite the lint errors" in page.text
    csrf = _csrf(client)
    refused = client.post(PAGE + "/approve", data={"csrf": csrf})
    assert "lint error(s)" in refused.text
    assert _edition(engine)[0].status == EditionStatus.DRAFT
    client.post(PAGE + "/approve", data={"csrf": csrf, "ignore_lint": "true"})
    edition, _ = _edition(engine)
    assert edition.status == EditionStatus.APPROVED and edition.lint_override


def test_a_sent_edition_cannot_be_changed(client: TestClient, editor_settings: Settings, engine) -> None:
    build_sample(engine, editor_settings)
    with Session(engine) as session:
        edition = find_edition(session, get_list(session=session, slug="quotidien"), SAMPLE)
        assert edition is not None
        edition.status = EditionStatus.SENT
        session.add(edition)
        session.commit()
    page = client.get(PAGE)
    assert "Approve for sending" not in page.text
    answer = client.post(PAGE + "/intro", data={"csrf": csrf_token(editor_settings), "intro": "late"})
    assert "already sent: it cannot be rebuilt" in answer.text


def test_page_for_a_day_without_edition_offers_to_build(client: TestClient, editor_settings: Settings, engine) -> None:
    page = client.get(PAGE)
    assert "No edition yet" in page.text
    built = client.post(PAGE + "/build", data={"csrf": _csrf(client)})
    assert "Rebuilt from the sources." in built.text
    assert _edition(engine)[0].date == SAMPLE
    assert client.get("/editor/nope/2025-11-27").status_code == 404
    assert client.get("/editor/quotidien/yesterday").status_code == 404


def test_preview_output_writes_static_files(run_cli, tmp_path) -> None:
    assert run_cli("init").exit_code == 0
    assert run_cli("subscribers", "add", "k@example.ma", "--language", "ar", "--confirmed").exit_code == 0
    out = tmp_path / "preview"
    result = run_cli("preview", "--date", SAMPLE_DAY, "--output", str(out))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["ar.dark.html", "ar.html", "ar.txt", "fr.dark.html", "fr.html", "fr.txt", "index.html"]
    index = (out / "index.html").read_text()
    assert 'src="fr.html"' in index and 'src="fr.dark.html"' in index and "<form" not in index
    assert "%%" not in (out / "ar.html").read_text()
    empty_day = run_cli("preview", "--date", "2026-01-05", "--output", str(out))
    assert empty_day.exit_code == 3


def test_preview_on_a_busy_port_names_it(run_cli) -> None:
    assert run_cli("init").exit_code == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("preview", "--date", SAMPLE_DAY, "--port", str(port))
    assert result.exit_code == 1
    assert f"port {port} is busy" in result.output and f"--port {port + 1}" in result.output


def test_desk_edits_reword_reorder_add_and_survive_a_rebuild(
    client: TestClient, editor_settings: Settings, engine
) -> None:
    build_sample(engine, editor_settings)
    csrf = _csrf(client)
    edition, _ = _edition(engine)
    selection = load_selection(edition.selection_json)
    assert client.post(PAGE + "/approve", data={"csrf": csrf}).status_code == 200
    assert _edition(engine)[0].status == EditionStatus.APPROVED

    saved = client.post(
        PAGE + "/subject", data={"csrf": csrf, "language": "fr", "subject": "Le {grand} jour", "preheader": "À lire"}
    )
    assert "Subject and preheader saved." in saved.text
    edition, variants = _edition(engine)
    assert edition.status == EditionStatus.DRAFT  # any edit takes the approval back
    assert edition.subject == "Le {grand} jour" and edition.preheader == "À lire"
    assert {v.key: v.subject for v in variants}["fr"] == "Le {grand} jour"
    assert {v.key: v.subject for v in variants}["en"] != "Le {grand} jour"  # another language keeps its own

    first, second = selection.headlines[0].article, selection.headlines[1].article
    client.post(PAGE + "/move", data={"csrf": csrf, "url": first.url, "step": "1"})
    client.post(PAGE + "/reword", data={"csrf": csrf, "url": second.url, "title": "Mon titre", "summary": ""})
    skipped = next(s for s in selection.skipped if s.reason.startswith("outside the window"))
    client.post(PAGE + "/add", data={"csrf": csrf, "url": skipped.url})
    client.post(PAGE + "/build", data={"csrf": csrf})  # a rebuild keeps every edit

    edition, variants = _edition(engine)
    after = load_selection(edition.selection_json)
    urls = [p.article.url for p in after.headlines]
    assert urls[:2] == [second.url, first.url]
    assert after.headlines[0].article.title == "Mon titre"
    assert skipped.url in urls and skipped.url not in {s.url for s in after.skipped}
    wording = load_choices(edition.choices_json).edits.wording[second.url]
    assert wording.title == "Mon titre" and wording.source_title == second.title
    fr_html = {v.key: v.html for v in variants}["fr"]
    assert fr_html.index("Mon titre") < fr_html.index(first.title.split(" ")[0])
    page = client.get(PAGE)
    assert "Mon titre" in page.text and second.title in page.text  # the source's text shown beside

    left_out = after.headlines[-1].article.url
    client.post(PAGE + "/drop", data={"csrf": csrf, "url": left_out})
    client.post(PAGE + "/pin", data={"csrf": csrf, "url": left_out})  # "Make featured" on a skipped article
    featured = load_selection(_edition(engine)[0].selection_json).featured
    assert featured is not None and featured.article.url == left_out


def test_intro_markdown_paragraphs_and_safe_links(client: TestClient, editor_settings: Settings, engine) -> None:
    build_sample(engine, editor_settings)
    note = "Bonjour.\n\nLisez [notre dossier](https://news.example.com/dossier) et [ceci](javascript:alert(1))."
    client.post(PAGE + "/intro", data={"csrf": _csrf(client), "intro": note})
    _, variants = _edition(engine)
    html = {v.key: v for v in variants}["fr"].html
    assert '<a href="https://news.example.com/dossier"' in html and 'href="javascript:' not in html
    assert html.count("<p") >= 2
    assert "notre dossier (https://news.example.com/dossier)" in {v.key: v for v in variants}["fr"].text


def test_desk_speaks_french_and_arabic(client: TestClient, editor_settings: Settings, engine) -> None:
    build_sample(engine, editor_settings)
    french = client.get(PAGE, params={"ui": "fr"})
    assert 'lang="fr"' in french.text and "Approuver" in french.text
    arabic = client.get(PAGE, headers={"Accept-Language": "ar"})
    assert 'dir="rtl"' in arabic.text
