"""RFC 8058 one-click unsubscribe and the unsubscribe page, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from digest.db import open_session
from digest.links import Links
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
    secret_of,
    subscription,
)

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def http(settings, engine):
    with client(settings, engine) as test_client:
        yield test_client


def test_one_click_post_unsubscribes_with_200_no_redirect_no_cookie(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    response = http.post(url, data=ONE_CLICK, follow_redirects=False)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED


def test_one_click_accepts_multipart_as_rfc_8058_allows(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    response = http.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED


def test_repeated_one_click_posts_are_idempotent(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    answers = [http.post(url, data=ONE_CLICK) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].text == answers[2].text
    assert consent_kinds(engine, subscriber_id).count("unsubscribe") == 1


def test_get_never_unsubscribes_and_offers_button_everything_and_preferences(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com", language="fr")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
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
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    assert http.post(url, data={"scope": "all"}).status_code == 200
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED
    assert subscription(engine, subscriber_id, other_id).status == SubscriptionStatus.UNSUBSCRIBED


def test_unsubscribe_touches_only_the_tokens_list(http, settings, engine) -> None:
    with open_session(engine) as session:
        create_list(session=session, slug="hebdo")
        session.commit()
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    _, other_id = make_reader(engine, "amina@example.com", list_slug="hebdo")
    http.post(
        local(links(settings).unsubscribe_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings),
        data=ONE_CLICK,
    )
    assert subscription(engine, subscriber_id, other_id).status == SubscriptionStatus.ACTIVE


def _tampered(token: str) -> list[str]:
    subscriber, mailing_list, issued, signature = token.split(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    return [
        f"{subscriber}.{mailing_list}.{issued}.{flipped}",  # signature changed
        f"{int(subscriber) + 1}.{mailing_list}.{issued}.{signature}",  # another reader with this signature
        f"{subscriber}.{int(mailing_list) + 1}.{issued}.{signature}",  # another list with this signature
        f"{subscriber}.{mailing_list}.{int(issued) + 1}.{signature}",  # another date with this signature
        token + "x",
        "not-a-token",
        f"{subscriber}.{mailing_list}",
        token * 10,
    ]


def test_forged_and_tampered_tokens_get_404_revealing_nothing(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    make_reader(engine, "youssef@example.com")
    signer = links(settings)
    token = signer.token("unsubscribe", subscriber_id, list_id, secret_of(engine, subscriber_id))
    foreign = Links(settings.base_url, ["another-key"]).token(
        "unsubscribe", subscriber_id, list_id, secret_of(engine, subscriber_id)
    )
    wrong_purpose = signer.token("preferences", subscriber_id, list_id, secret_of(engine, subscriber_id))
    unknown_reader = signer.token("unsubscribe", 9999, list_id, secret_of(engine, 9999))
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
    old_link = links(settings).unsubscribe_url(subscriber_id, list_id, secret_of(engine, subscriber_id))
    rotated = make_settings(secret_key="new-secret,test-secret")
    with client(rotated, engine) as http:
        assert http.post(local(old_link, rotated), data=ONE_CLICK).status_code == 200
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED


def test_links_act_for_their_documented_lifetime_only(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    secret = secret_of(engine, subscriber_id)
    made = time.time()

    def made_days_ago(days: float) -> str:
        old = Links(settings.base_url, settings.signing_keys(), clock=lambda: made - days * 24 * 3600)
        return local(old.unsubscribe_url(subscriber_id, list_id, secret), settings)

    assert http.get(made_days_ago(401)).status_code == 404
    assert http.post(made_days_ago(401), data=ONE_CLICK).status_code == 404
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.ACTIVE
    assert http.post(made_days_ago(399), data=ONE_CLICK).status_code == 200
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED


def test_oversized_body_gets_413_and_changes_nothing(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = local(links(settings).unsubscribe_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
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
    http.post(
        local(links(settings).unsubscribe_url(reader.id, mailing_list.id, secret_of(engine, reader.id)), settings),
        data=ONE_CLICK,
    )
    sent = run_cli("send", "--date", SAMPLE_DAY, env={"DIGEST_AUTO_APPROVE": "1"})
    assert sent.exit_code == 0, sent.output
    recipients = {m["To"].addresses[0].addr_spec for m in read_messages(settings.outbox_dir)}
    assert len(recipients) == 4
    assert "john.smith@example.net" not in recipients
