"""Subscribe, confirm and the preference centre over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from digest.db import make_engine, open_session
from digest.web.subscribe import known_sections
from subscribers.models import ConsentEvent, MailingList, Subscriber, SubscriptionStatus
from subscribers.store import create_list, expire_pending, remove_subscriber, suppress
from tests.subscribers_helpers import (
    client,
    consent_kinds,
    csrf_of,
    link_in,
    links,
    local,
    make_reader,
    read_messages,
    secret_of,
    subscription,
)


@pytest.fixture
def http(settings, engine):
    with client(settings, engine) as test_client:
        yield test_client


def _signup(http, address: str, **extra: str):
    return http.post("/subscribe", data={"email": address, "list": "quotidien", "language": "fr", **extra})


def _subscriber(engine, address: str) -> Subscriber | None:
    with open_session(engine) as session:
        return session.exec(select(Subscriber).where(Subscriber.email_key == address.lower())).first()


@pytest.mark.parametrize(
    ("lang", "words", "direction"),
    [("fr", "S'abonner", "ltr"), ("en", "Subscribe to", "ltr"), ("ar", "الاشتراك في", "rtl")],
)
def test_subscribe_form_is_localised_and_needs_no_javascript(http, lang, words, direction) -> None:
    page = http.get(f"/subscribe?lang={lang}")
    assert page.status_code == 200
    assert f'<html lang="{lang}" dir="{direction}">' in page.text
    assert words in page.text.replace("&#39;", "'")
    assert '<label for="email">' in page.text
    assert "<script" not in page.text


def test_subscribe_form_follows_the_browsers_language(http) -> None:
    page = http.get("/subscribe", headers={"accept-language": "de;q=1, en;q=0.8, fr;q=0.5"})
    assert 'lang="en"' in page.text


def test_unknown_list_is_404(http) -> None:
    assert http.get("/subscribe?list=nope").status_code == 404


def test_double_opt_in_mails_a_link_whose_get_does_not_confirm_but_post_does(http, settings, engine) -> None:
    answer = _signup(http, "Nouveau@Example.com", name="Nadia")
    assert answer.status_code == 200
    reader = _subscriber(engine, "nouveau@example.com")
    assert reader is not None and reader.id is not None
    (message,) = read_messages(settings.outbox_dir)
    assert message["To"].addresses[0].addr_spec == "Nouveau@example.com"
    assert message["Subject"].startswith("Confirmez votre abonnement")
    assert message["List-Unsubscribe"].strip().startswith("<https://news.example.com/u/")
    confirm = local(link_in(message, "c", settings.base_url), settings)
    _, list_id = make_reader(engine, "other@example.com")
    assert http.get(confirm).status_code == 200
    assert subscription(engine, reader.id, list_id).status == SubscriptionStatus.PENDING
    done = http.post(confirm)
    assert done.status_code == 200
    assert "Abonnement confirmé" in done.text
    assert subscription(engine, reader.id, list_id).status == SubscriptionStatus.ACTIVE
    assert http.post(confirm).status_code == 200  # twice is harmless
    assert consent_kinds(engine, reader.id) == ["subscribe", "confirm"]
    with open_session(engine) as session:
        event = session.exec(select(ConsentEvent).where(ConsentEvent.kind == "confirm")).all()[-1]
    assert event.source == "web" and event.ip == "testclient"


def test_the_answer_is_identical_whether_the_address_exists_or_not(http, settings, engine) -> None:
    make_reader(engine, "known@example.com", name="Known", language="en")
    with open_session(engine) as session:
        suppress(session=session, email="bounced@example.com", reason="bounced")
        session.commit()
    answers = {
        _signup(http, address).text for address in ("known@example.com", "fresh@example.com", "bounced@example.com")
    }
    assert len(answers) == 1
    known = _subscriber(engine, "known@example.com")
    assert known is not None and known.name == "Known" and known.language == "en"  # a stranger changed nothing
    assert _subscriber(engine, "bounced@example.com") is None
    assert [m["To"].addresses[0].addr_spec for m in read_messages(settings.outbox_dir)] == ["fresh@example.com"]


def test_invalid_address_is_shown_on_the_form(http, engine) -> None:
    answer = _signup(http, "not-an-address")
    assert answer.status_code == 400
    assert "n'est pas valide" in answer.text.replace("&#39;", "'")
    assert 'aria-invalid="true"' in answer.text
    assert consent_kinds(engine) == []


def test_signups_are_rate_limited_per_client_address(http) -> None:
    answers = [_signup(http, f"reader{i}@example.com").status_code for i in range(7)]
    assert answers == [200] * 5 + [429] * 2
    limited = _signup(http, "late@example.com")
    assert int(limited.headers["retry-after"]) > 0


def test_one_address_gets_at_most_three_confirmation_emails_an_hour(http, settings) -> None:
    for _ in range(5):
        assert _signup(http, "target@example.com").status_code == 200
    assert len(read_messages(settings.outbox_dir)) == 3


def test_honeypot_signups_are_dropped_silently(http, settings, engine) -> None:
    answer = _signup(http, "bot@example.com", website="http://spam.example")
    assert answer.status_code == 200
    assert _subscriber(engine, "bot@example.com") is None
    assert read_messages(settings.outbox_dir) == []


def test_oversized_signup_gets_413(http, engine) -> None:
    answer = http.post("/subscribe", data={"email": "a@example.com", "name": "x" * 40_000})
    assert answer.status_code == 413
    assert _subscriber(engine, "a@example.com") is None


def test_unconfirmed_web_signups_expire_and_their_link_dies(http, settings, engine) -> None:
    _signup(http, "late@example.com")
    (message,) = read_messages(settings.outbox_dir)
    confirm = local(link_in(message, "c", settings.base_url), settings)
    make_reader(engine, "imported@example.com", confirmed=False)  # publisher's pending readers do not expire
    with open_session(engine) as session:
        assert expire_pending(session=session, now=datetime.now(UTC) + timedelta(days=8)) == 1
        session.commit()
    assert _subscriber(engine, "late@example.com") is None
    assert _subscriber(engine, "imported@example.com") is not None
    assert http.post(confirm).status_code == 404
    assert "expire" in consent_kinds(engine)


def test_an_old_confirm_link_does_not_bring_back_someone_who_left(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    with open_session(engine) as session:
        remove_subscriber(session=session, email="amina@example.com")
        session.commit()
    confirm = local(links(settings).confirm_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    assert http.get(confirm).status_code == 404
    assert http.post(confirm).status_code == 404
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED


def test_oversized_confirmation_gets_413_and_confirms_nothing(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com", confirmed=False)
    confirm = local(links(settings).confirm_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)
    assert http.post(confirm, data={"x": "y" * 50_000}).status_code == 413
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.PENDING


def test_tampered_confirm_token_is_404(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com", confirmed=False)
    token = links(settings).token("confirm", subscriber_id, list_id, secret_of(engine, subscriber_id))
    for bad in (
        token[:-2] + "xx",
        links(settings).token("unsubscribe", subscriber_id, list_id, secret_of(engine, subscriber_id)),
    ):
        assert http.get(f"/c/{bad}").status_code == 404
        assert http.post(f"/c/{bad}").status_code == 404
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.PENDING


# The preference centre


def _open_preferences(http, settings, subscriber_id: int, list_id: int):
    engine = make_engine(settings.database_url)
    try:
        secret = secret_of(engine, subscriber_id)
    finally:
        engine.dispose()
    url = local(links(settings).preferences_url(subscriber_id, list_id, secret), settings)
    page = http.get(url)
    assert page.status_code == 200
    return url, page


def test_preferences_show_only_the_readers_own_data(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com", name="Amina", language="ar")
    make_reader(engine, "youssef@example.com", name="Youssef")
    _, page = _open_preferences(http, settings, subscriber_id, list_id)
    assert "amina@example.com" in page.text and "Amina" in page.text
    assert "youssef" not in page.text.lower()
    assert '<html lang="ar" dir="rtl">' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie


def test_saving_preferences_changes_the_subscription(make_settings, engine) -> None:
    settings = make_settings(sections="Économie,Tech,Sport")
    with open_session(engine) as session:
        hebdo = create_list(session=session, slug="hebdo", name="L'hebdo")
        session.commit()
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    http = client(settings, engine)
    url, page = _open_preferences(http, settings, subscriber_id, list_id)
    resume = (date.today() + timedelta(days=10)).isoformat()
    saved = http.post(
        url,
        data={
            "csrf": csrf_of(page.text),
            "name": "Amina B.",
            "language": "en",
            "list": [str(list_id), str(hebdo.id)],
            "section": ["Économie", "Tech"],
            "frequency": "weekly",
            "format": "text",
            "paused_until": resume,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"].endswith("?saved=1")
    again = http.get(saved.headers["location"])
    assert "Your preferences are saved." in again.text
    stored = subscription(engine, subscriber_id, list_id)
    assert (stored.sections, stored.frequency, stored.format) == ("Économie,Tech", "weekly", "text")
    assert stored.paused_until == date.fromisoformat(resume)
    assert subscription(engine, subscriber_id, hebdo.id).status == SubscriptionStatus.ACTIVE
    reader = _subscriber(engine, "amina@example.com")
    assert reader is not None and (reader.name, reader.language) == ("Amina B.", "en")
    assert consent_kinds(engine, subscriber_id)[-2:] == ["change", "subscribe"]


def test_unticking_the_list_unsubscribes_from_it(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url, page = _open_preferences(http, settings, subscriber_id, list_id)
    http.post(url, data={"csrf": csrf_of(page.text), "frequency": "daily", "format": "html"})
    assert subscription(engine, subscriber_id, list_id).status == SubscriptionStatus.UNSUBSCRIBED


@pytest.mark.parametrize(
    "problem", ["no token", "garbled token", "no cookie", "other reader", "foreign origin", "cross-site fetch"]
)
def test_csrf_failures_get_403_and_change_nothing(http, settings, engine, problem) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    other_id, _ = make_reader(engine, "youssef@example.com")
    url, page = _open_preferences(http, settings, subscriber_id, list_id)
    csrf = csrf_of(page.text)
    headers = {}
    if problem == "no token":
        csrf = ""
    elif problem == "garbled token":
        csrf = csrf[:-3] + "abc"
    elif problem == "no cookie":
        http.cookies.clear()
    elif problem == "other reader":
        _, other_page = _open_preferences(http, settings, other_id, list_id)
        csrf = csrf_of(other_page.text)
    elif problem == "foreign origin":
        headers["origin"] = "https://evil.example"
    else:
        headers["sec-fetch-site"] = "cross-site"
    answer = http.post(
        url, data={"csrf": csrf, "frequency": "weekly", "format": "html", "list": [str(list_id)]}, headers=headers
    )
    assert answer.status_code == 403
    assert subscription(engine, subscriber_id, list_id).frequency == "daily"


def test_bad_values_are_refused_with_a_message(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url, page = _open_preferences(http, settings, subscriber_id, list_id)
    for data in ({"frequency": "hourly"}, {"paused_until": "2001-01-01"}, {"paused_until": "soon"}, {"language": "xx"}):
        answer = http.post(url, data={"csrf": csrf_of(page.text), "format": "html", "list": [str(list_id)], **data})
        assert answer.status_code == 400, data
        assert 'role="alert"' in answer.text
    stored = subscription(engine, subscriber_id, list_id)
    assert (stored.frequency, stored.paused_until) == ("daily", None)
    kept = http.post(
        url,
        data={
            "csrf": csrf_of(page.text),
            "frequency": "weekly",
            "format": "text",
            "name": "Amina B.",
            "paused_until": "2001-01-01",
        },
    )
    assert 'value="weekly" checked' in kept.text and 'value="text" checked' in kept.text  # the reader's choices stay
    assert 'value="Amina B."' in kept.text and 'value="2001-01-01"' in kept.text


def test_oversized_preferences_form_gets_413(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url, page = _open_preferences(http, settings, subscriber_id, list_id)
    answer = http.post(url, data={"csrf": csrf_of(page.text), "section": ["x" * 50] * 1000})
    assert answer.status_code == 413


def test_tampered_preferences_token_is_404(http, settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    token = links(settings).token("preferences", subscriber_id, list_id, secret_of(engine, subscriber_id))
    for bad in (
        token[:-2] + "xx",
        links(settings).token("unsubscribe", subscriber_id, list_id, secret_of(engine, subscriber_id)),
        "x",
    ):
        assert http.get(f"/p/{bad}").status_code == 404
        assert http.post(f"/p/{bad}", data={"frequency": "weekly"}).status_code == 404


def test_front_page_leads_to_the_subscribe_form(http) -> None:
    answer = http.get("/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/subscribe"
    assert http.get("/").status_code == 200


def test_the_publishers_sections_are_what_readers_may_choose(make_settings, engine) -> None:
    with open_session(engine) as session:
        mailing_list = session.exec(select(MailingList)).first()
        assert mailing_list is not None and mailing_list.id is not None
        configured = known_sections(
            make_settings(sections="Politique,Économie"), session.connection(), mailing_list.id, ["Sport"]
        )
        derived = known_sections(make_settings(), session.connection(), mailing_list.id, ["Sport"])
    assert configured == ["Politique", "Économie", "Sport"]  # the reader's own choice stays, to be unticked
    assert derived == ["Sport"]  # no edition yet: only what the reader chose


def test_readers_may_choose_the_sections_of_the_lists_last_editions(make_settings, engine, run_cli) -> None:
    from digest.edition import load_selection
    from digest.models import Edition
    from tests.conftest import SAMPLE_DAY

    assert run_cli("build", "--date", SAMPLE_DAY).exit_code == 0
    with open_session(engine) as session:
        edition = session.exec(select(Edition)).one()
        selection = load_selection(edition.selection_json)
        mailing_list = session.exec(select(MailingList)).first()
        assert mailing_list is not None and mailing_list.id is not None
        derived = known_sections(make_settings(), session.connection(), mailing_list.id, [])
    picks = [*selection.headlines, *([selection.featured] if selection.featured else [])]
    assert derived and set(derived) == {pick.article.section for pick in picks if pick.article.section}
