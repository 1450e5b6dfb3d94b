"""Who may be subscribed: the pure decision, its table, and every path taking it with the same wording."""

from __future__ import annotations

import io

import pytest

from digest.db import open_session
from digest.errors import SubscriberError
from subscribers.admission import Admission, Source, admit
from subscribers.importer import import_csv
from subscribers.store import add_subscriber, get_list, remove_subscriber
from tests.subscribers_helpers import make_reader

EMAIL = "amina@example.com"

# (what is stored: suppression reason, subscriber status, subscription status) -> per source
TABLE = [
    (("bounced", None, None), {s: Admission.REFUSED for s in Source}),
    (("erased", None, "active"), {s: Admission.REFUSED for s in Source}),
    ((None, "complained", "active"), {s: Admission.REFUSED for s in Source}),
    ((None, None, None), {s: Admission.NEW for s in Source}),
    ((None, "active", None), {s: Admission.NEW for s in Source}),
    ((None, "active", "pending"), {s: Admission.KEEP for s in Source}),
    ((None, "active", "active"), {s: Admission.KEEP for s in Source}),
    # The deliberate difference: after an unsubscribe, a web sign-up (anyone's) only asks the reader and changes
    # nothing, the publisher's CLI makes them pending again, an import refuses the row.
    (
        (None, "active", "unsubscribed"),
        {Source.WEB: Admission.ASK, Source.CLI: Admission.AGAIN, Source.IMPORT: Admission.REFUSED},
    ),
]


@pytest.mark.parametrize(("stored", "expected"), TABLE)
def test_each_stored_state_admits_as_the_table_says(
    stored: tuple[str | None, str | None, str | None], expected: dict[Source, Admission]
) -> None:
    suppressed, subscriber, subscription = stored
    for source, admission in expected.items():
        decision = admit(
            source=source,
            email=EMAIL,
            suppressed=suppressed,
            subscriber_status=subscriber,
            subscription_status=subscription,
        )
        assert decision.admission is admission, source
        assert (decision.reason is not None) == decision.refused


def _import(engine, text: str):
    with open_session(engine) as session:
        report = import_csv(
            io.StringIO(text), session=session, mailing_list=get_list(session=session, slug="quotidien")
        )
        session.commit()
    return report


def test_after_an_unsubscribe_the_web_only_asks_and_an_import_refuses(engine) -> None:
    make_reader(engine, EMAIL)
    with open_session(engine) as session:
        remove_subscriber(session=session, email=EMAIL)
        session.commit()
    (row,) = _import(engine, f"email\n{EMAIL}\n").rows
    assert row.outcome == "refused" and row.reason == f"{EMAIL} unsubscribed from this list: not re-added"
    with open_session(engine) as session:
        result = add_subscriber(
            session=session, mailing_list=get_list(session=session, slug="quotidien"), email=EMAIL, source="web"
        )
        session.commit()
    assert result.outcome == "asked" and result.needs_confirmation
    assert result.subscription.status == "unsubscribed"


def test_a_suppressed_address_is_refused_in_the_same_words_everywhere(engine) -> None:
    make_reader(engine, EMAIL)
    with open_session(engine) as session:
        remove_subscriber(session=session, email=EMAIL, erase=True)
        session.commit()
    (row,) = _import(engine, f"email\n{EMAIL}\n").rows
    with open_session(engine) as session, pytest.raises(SubscriberError) as refused:
        add_subscriber(session=session, mailing_list=get_list(session=session, slug="quotidien"), email=EMAIL)
    assert row.reason == str(refused.value) == f"{EMAIL} is suppressed (erased): not re-added"
