"""RFC 8058 one-click unsubscribe and the unsubscribe page, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from digest.db import open_session
from digest.links import BadToken, Links
from digest.settings import SAMPLE_SUBSCRIBERS
from subscribers.models import SubscriptionStatus
from subscribers.store import create_list, find_subscriber, get_list
from tests.conftest import SAMPLE_DAY
from tests.subscribers_helpers import (
    client,
    consent_kinds,
    links,
    local,
    make_reader,
    read_messages,
    subscription,
)

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def http(settings, engine):
    with client(settings, engine) as test_client:
        yield test_client


def test_one_click_post_unsubscribes_with_200_no_redirect_no_cookie(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id), settings)
    response = http.post(url, data=ONE_CLICK, follow_redirects=False)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED


def test_one_click_accepts_multipart_as_rfc_8058_allows(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id), settings)
    response = http.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED


def test_repeated_one_click_posts_are_idempotent(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id), settings)
    answers = [http.post(url, data=ONE_CLICK) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].text == answers[2].text
    assert consent_kinds(engine, subscriber_id).count("unsubscribe") == 1


def test_get_never_unsubscribes_and_offers_button_everything_and_preferences(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com", language="fr")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id), settings)
    for _ in range(2):
        page = http.get(url)
        assert page.status_code == 200
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.ACTIVE
    html = page.text
    assert html.count('<form method="post"') == 2
    assert 'name="List-Unsubscribe" value="One-Click"' in html
    assert 'name="scope" value="all"' in html
    assert "Me désabonner de toutes les lettres" in html
    assert 'href="https://news.example.com/p/' in html
    assert "<script" not in html
    assert page.headers["referrer-policy"] == "no-referrer"


def test_unsubscribe_from_everything_leaves_every_list(http, settings, engine) -> None:
    with open_session(engine) as session:
        create_list(session=session, slug="hebdo")
        session.commit()
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    _, other_id = make_reader(engine, "amina@example.com", list_slug="hebdo")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id), settings)
    assert http.post(url, data={"scope": "all"}).status_code == 200
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED
    assert subscription(engine, subscriber_id, other_id).status == SubscriptionStatus.UNSUBSCRIBED


def test_unsubscribe_touches_only_the_tokens_list(http, settings, engine) -> None:
    with open_session(engine) as session:
        create_list(session=session, slug="hebdo")
        session.commit()
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    _, other_id = make_reader(engine, "amina@example.com", list_slug="hebdo")
    http.post(local(links(settings).unsubscribe_url(subscriber_id, list_id), settings), data=ONE_CLICK)
    assert subscription(engine, subscriber_id, other_id).status == SubscriptionStatus.ACTIVE


def _tampered(token: str) -> list[str]:
    subscriber, mailing_list, signature = token.split(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    return [
        f"{subscriber}.{mailing_list}.{flipped}",  # signature changed
        f"{int(subscriber) + 1}.{mailing_list}.{signature}",  # another reader with this signature
        f"{subscriber}.{int(mailing_list) + 1}.{signature}",  # another list with this signature
        token + "x",
        "not-a-token",
        f"{subscriber}.{mailing_list}",
        token * 10,
    ]


def test_forged_and_tampered_tokens_get_404_revealing_nothing(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    make_reader(engine, "youssef@example.com")
    signer = links(settings)
    token = signer.token("unsubscribe", subscriber_id, list_id)
    foreign = Links(settings.base_url, ["another-key"]).token("unsubscribe", subscriber_id, list_id)
    wrong_purpose = signer.token("preferences", subscriber_id, list_id)
    unknown_reader = signer.token("unsubscribe", 9999, list_id)
    bodies = set()
    for bad in [*_tampered(token), foreign, wrong_purpose, unknown_reader]:
        for response in (http.get(f"/u/{bad}"), http.post(f"/u/{bad}", data=ONE_CLICK)):
            assert response.status_code == 404, bad
            assert "amina" not in response.text
            bodies.add(response.text)
    assert len(bodies) == 1  # the same answer whatever was wrong
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.ACTIVE


def test_old_key_still_verifies_after_rotation(make_settings, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    old_link = links(settings).unsubscribe_url(subscriber_id, list_id)
    rotated = make_settings(secret_key="new-secret,test-secret")
    with client(rotated, engine) as http:
        assert http.post(local(old_link, rotated), data=ONE_CLICK).status_code == 200
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED


def test_unsubscribe_links_outlive_old_emails_and_confirm_links_expire(settings, monkeypatch) -> None:
    signer = links(settings)
    unsubscribe, confirm = signer.token("unsubscribe", 1, 1), signer.token("confirm", 1, 1)
    three_years_on = time.time() + 3 * 365 * 24 * 3600
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: three_years_on)
    assert signer.verify("unsubscribe", unsubscribe).subscriber_id == 1
    with pytest.raises(BadToken):
        signer.verify("confirm", confirm)


def test_oversized_body_gets_413_and_changes_nothing(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id), settings)
    response = http.post(
        url,
        content=b"List-Unsubscribe=One-Click&x=" + b"a" * 100_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.ACTIVE


def test_unsubscribed_reader_is_skipped_by_the_next_send(http, settings, engine, run_cli) -> None:
    assert run_cli("subscribers", "import", str(SAMPLE_SUBSCRIBERS), "--confirmed").exit_code == 0
    with open_session(engine) as session:
        reader = find_subscriber(session=session, email="john.smith@example.net")
        mailing_list = get_list(session=session, slug="quotidien")
    assert reader is not None and reader.id is not None and mailing_list.id is not None
    http.post(local(links(settings).unsubscribe_url(reader.id, mailing_list.id), settings), data=ONE_CLICK)
    sent = run_cli("send", "--date", SAMPLE_DAY, env={"DIGEST_AUTO_APPROVE": "1"})
    assert sent.exit_code == 0, sent.output
    recipients = {m["To"].addresses[0].addr_spec for m in read_messages(settings.outbox_dir)}
    assert len(recipients) == 4
    assert "john.smith@example.net" not in recipients
