"""The readers' busiest pages' fast paths: plain routes that leave odd requests to FastAPI, the preference
page's one query, statements on the driver, one-click unsubscribe's one statement, spliced page values."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, insert, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from starlette.requests import Request

from digest.db import open_session
from digest.leaving import leave
from digest.models import Delivery, Edition
from digest.web.pages import MAX_FORM_FIELDS, Submitted, read_form
from subscribers.models import ConsentEvent, MailingList, Subscriber, Subscription, SubscriptionStatus
from subscribers.prepared import Prepared
from subscribers.store import Actor, create_list, find_reader_choices, find_reader_row, remove_subscriber
from tests.subscribers_helpers import client, links, local, make_reader, secret_of, subscription

THURSDAY = date(2025, 11, 27)
T = TypeVar("T")


def _preferences_url(settings, engine, subscriber_id: int, list_id: int) -> str:
    return local(links(settings).preferences_url(subscriber_id, list_id, secret_of(engine, subscriber_id)), settings)


def test_the_preference_page_plain_route_takes_its_links_and_leaves_other_queries_to_fastapi(settings, engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    url = _preferences_url(settings, engine, subscriber_id, list_id)
    with client(settings, engine) as http:
        plain, saved, odd = http.get(url), http.get(f"{url}?saved=1"), http.get(f"{url}?saved=yes")
        head = http.head(url)
    assert plain.status_code == 200 and "amina@example.com" in plain.text
    assert "digest_csrf=" in plain.headers["set-cookie"]
    assert saved.status_code == 200 and saved.text.count('role="status"') == 1
    assert 'role="status"' not in plain.text
    # FastAPI's route still validates what the plain route does not read, and answers HEAD as before.
    assert odd.status_code == 422 and odd.json()["detail"][0]["loc"] == ["query", "saved"]
    assert head.status_code == 405


def test_the_preference_page_shows_a_chosen_time_zone_selected(settings, engine) -> None:
    reader, list_id = make_reader(engine, "amina@example.com")
    with engine.begin() as connection:
        connection.execute(text("UPDATE subscriber SET timezone = 'America/Montreal' WHERE id = :id"), {"id": reader})
    with client(settings, engine) as http:
        html = http.get(_preferences_url(settings, engine, reader, list_id)).text
    assert html.count(" selected>") >= 1 and '<option value="America/Montreal" selected>' in html
    assert "<!--" not in html  # no splice marker left behind


def test_reader_choices_are_the_reader_and_every_list_in_one_query(engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com", name="Amina")
    with open_session(engine) as session:
        hebdo = create_list(session=session, slug="hebdo", name="Hebdo", public=False)
        session.commit()
        assert hebdo.id is not None
    with engine.connect() as connection:
        found = find_reader_choices(connection=connection, subscriber_id=subscriber_id, list_id=list_id)
        row = find_reader_row(connection=connection, subscriber_id=subscriber_id, list_id=list_id)
        elsewhere = find_reader_choices(connection=connection, subscriber_id=subscriber_id, list_id=hebdo.id)
        nobody = find_reader_choices(connection=connection, subscriber_id=subscriber_id + 99, list_id=list_id)
    assert found is not None and found.reader == row
    assert [(each.id, each.public, each.status) for each in found.lists] == [
        (hebdo.id, False, ""),
        (list_id, True, SubscriptionStatus.ACTIVE),
    ]  # in slug order
    assert elsewhere is None and nobody is None  # not on that list; no such reader


def test_reader_choices_of_an_erased_reader_are_none(engine) -> None:
    subscriber_id, list_id = make_reader(engine, "amina@example.com")
    with open_session(engine) as session:
        remove_subscriber(session=session, email="amina@example.com", erase=True)
        session.commit()
    with engine.connect() as connection:
        assert find_reader_choices(connection=connection, subscriber_id=subscriber_id, list_id=list_id) is None


def test_prepared_statements_convert_values_as_sqlalchemy_does_and_raise_its_errors(engine) -> None:
    subscriber_id, _ = make_reader(engine, "amina@example.com")
    paused = date(2030, 1, 2)
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE subscription SET paused_until = :day WHERE subscriber_id = :id"),
            {"day": paused, "id": subscriber_id},
        )
    read = Prepared(
        select(col(Subscription.paused_until), col(MailingList.public))
        .join(MailingList, col(MailingList.id) == col(Subscription.list_id))
        .where(col(Subscription.subscriber_id) == bindparam("reader"))
    )
    write = Prepared(
        insert(ConsentEvent).values(
            subscriber_id=bindparam("reader"), kind="unsubscribe", source="cli", at=bindparam("at")
        )
    )
    duplicate = Prepared(insert(Subscriber).values(id=bindparam("id"), email="x@example.com", email_key="x"))
    with engine.begin() as connection:
        assert read.execute(connection, {"reader": subscriber_id}) == [(paused, True)]
        write.execute(connection, {"reader": subscriber_id, "at": moment})
        stored = connection.execute(select(col(ConsentEvent.at)).where(col(ConsentEvent.at) == moment)).scalars()
        assert [_utc(each) for each in stored] == [moment]  # stored as SQLAlchemy stores it: found by it
    with engine.begin() as connection, pytest.raises(IntegrityError):
        duplicate.execute(connection, {"id": subscriber_id})


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@pytest.mark.parametrize("everything", [False, True])
def test_leaving_unsubscribes_logs_who_asked_and_drops_queued_deliveries(engine, everything: bool) -> None:
    reader, list_id = make_reader(engine, "amina@example.com")
    with open_session(engine) as session:
        other = create_list(session=session, slug="hebdo")
        session.commit()
        assert other.id is not None
    make_reader(engine, "amina@example.com", list_slug="hebdo")
    with open_session(engine) as session:
        editions = [Edition(list_id=list_id, date=THURSDAY), Edition(list_id=other.id, date=THURSDAY)]
        session.add_all(editions)
        session.flush()
        session.add_all(Delivery(edition_id=e.id, subscriber_id=reader, status="queued") for e in editions)
        session.commit()
    actor = Actor(source="web", ip="192.0.2.7", user_agent="x" * 500)
    with engine.begin() as connection:
        arguments = {"subscriber_id": reader, "list_id": None if everything else list_id, "actor": actor}
        assert leave(connection=connection, **arguments, detail="one-click") == (2 if everything else 1)
        assert leave(connection=connection, **arguments, detail="one-click") == 0  # again: nothing more
    with open_session(engine) as session:
        queued = session.exec(select(col(Delivery.edition_id))).all()
        logged = session.exec(select(ConsentEvent).where(col(ConsentEvent.kind) == "unsubscribe")).all()
    left = [list_id, other.id] if everything else [list_id]
    assert sorted(queued) == ([] if everything else [editions[1].id])
    assert sorted(event.list_id for event in logged) == sorted(left)
    assert {(e.subscriber_id, e.source, e.ip, e.user_agent, e.detail) for e in logged} == {
        (reader, "web", "192.0.2.7", "x" * 400, "one-click")
    }
    assert subscription(engine, reader, list_id).status == SubscriptionStatus.UNSUBSCRIBED
    stays = SubscriptionStatus.UNSUBSCRIBED if everything else SubscriptionStatus.ACTIVE
    assert subscription(engine, reader, other.id).status == stays


def _request(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> Request:
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    return Request({"type": "http", "method": "POST", "headers": headers, "query_string": b""}, receive)


def _on_a_loop_of_its_own(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """What the coroutine ``make()`` returns, run on a new loop in another thread: a browser test run before on
    this worker leaves an event loop running in this one, where ``asyncio.run`` refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _starlette_form(body: bytes) -> list[tuple[str, object]]:
    async def parse() -> list[tuple[str, object]]:
        return list((await _request(body).form(max_files=0, max_fields=MAX_FORM_FIELDS)).multi_items())

    return _on_a_loop_of_its_own(parse)


def _read(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> Submitted:
    return _on_a_loop_of_its_own(lambda: read_form(_request(body, content_type)))


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=80)
    | st.lists(
        st.sampled_from([b"a", b"=", b"&", b"+", b"%", b"%2", b"%C3%A9", b"\xc3\xa9", b"\xe9", b"%zz", b";"]),
        max_size=20,
    ).map(b"".join)
)
@example(b"List-Unsubscribe=One-Click")
@example(b"section=%C3%89conomie&section=Tech&name=Amina+B%26B&empty=&bare")
def test_urlencoded_forms_read_as_starlette_reads_them(body: bytes) -> None:
    # The urlencoded fast path gives what Starlette's parser gives, field for field (raw non-ASCII bytes,
    # broken escapes, blank and bare fields, "+" for spaces).
    submitted = _read(body)
    assert submitted.problem is None
    assert list(submitted.form.multi_items()) == _starlette_form(body)


def test_a_form_of_too_many_fields_is_refused() -> None:
    assert _read(b"&".join([b"f=1"] * MAX_FORM_FIELDS)).problem is None
    assert _read(b"&".join([b"f=1"] * (MAX_FORM_FIELDS + 1))).problem == 400
    assert _read(b"f=1", "text/plain").form.multi_items() == [], "not a form: Starlette reads none"
