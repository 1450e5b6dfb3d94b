"""Export -> import on a fresh database (SQLite -> PostgreSQL) restores every reader exactly (Hypothesis)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text

from digest.db import init_database, make_engine, open_session
from subscribers.export import write_export
from subscribers.importer import import_csv
from subscribers.models import ConsentEvent, Subscriber, Subscription
from subscribers.store import create_list, get_list, list_subscribers, suppress

LISTS = ("quotidien", "hebdo")
SOURCES = ("web", "cli", "import", "webhook")
START = datetime(2020, 1, 1, tzinfo=UTC)

moments = st.integers(min_value=0, max_value=6 * 365 * 86400 * 1_000_000).map(
    lambda micros: START + timedelta(microseconds=micros)
)
names = st.one_of(st.none(), st.text(alphabet="Aé =+-@'\",;كريم", min_size=1, max_size=20).map(str.strip).filter(bool))
subscriptions = st.fixed_dictionaries(
    {
        "status": st.sampled_from(("pending", "active", "unsubscribed")),
        "sections": st.lists(st.sampled_from(("Économie", "Tech", "Sport", "=Culture")), unique=True, max_size=3),
        "frequency": st.sampled_from(("daily", "weekly", "both")),
        "format": st.sampled_from(("html", "text")),
        "paused_until": st.one_of(st.none(), st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))),
        "subscribed_at": moments,
        "confirmed_at": moments,
        "unsubscribed_at": moments,
        "sources": st.tuples(*[st.sampled_from(SOURCES)] * 3),
    }
)
readers = st.lists(
    st.fixed_dictionaries(
        {
            "name": names,
            "language": st.sampled_from((None, "fr", "en", "ar")),
            "timezone": st.sampled_from((None, "Europe/Paris", "America/Montreal", "Asia/Dubai", "US/Pacific")),
            "status": st.sampled_from(("active", "active", "bounced", "complained")),
            "lists": st.dictionaries(st.sampled_from(LISTS), subscriptions, min_size=1),
        }
    ),
    min_size=1,
    max_size=12,
)


def _seed(engine, people: list[dict]) -> None:
    """Store ``people`` as the store would have them after their own acts, events at their dates."""
    with open_session(engine) as session:
        lists = {slug: get_list(session=session, slug=slug).id for slug in LISTS}
        for number, person in enumerate(people):
            email = f"Reader.{number}@example.com"
            subscriber = Subscriber(
                email=email,
                email_key=email.lower(),
                name=person["name"],
                language=person["language"],
                timezone=person["timezone"],
            )
            session.add(subscriber)
            session.flush()
            for slug, sub in person["lists"].items():
                confirmed = sub["confirmed_at"] if sub["status"] != "pending" else None
                session.add(
                    Subscription(
                        subscriber_id=subscriber.id,
                        list_id=lists[slug],
                        status=sub["status"],
                        sections=",".join(sub["sections"]) or None,
                        frequency=sub["frequency"],
                        format=sub["format"],
                        paused_until=sub["paused_until"],
                        confirmed_at=confirmed,
                        created_at=sub["subscribed_at"],
                    )
                )
                subscribed_by, confirmed_by, left_by = sub["sources"]
                acts = [("subscribe", subscribed_by, sub["subscribed_at"])]
                if confirmed is not None:
                    acts.append(("confirm", confirmed_by, confirmed))
                if sub["status"] == "unsubscribed":
                    acts.append(("unsubscribe", left_by, sub["unsubscribed_at"]))
                for kind, source, at in acts:
                    session.add(
                        ConsentEvent(subscriber_id=subscriber.id, list_id=lists[slug], kind=kind, source=source, at=at)
                    )
            session.flush()
            if person["status"] != "active":
                suppress(session=session, email=email, reason=person["status"])
        session.commit()


def _exports(engine) -> dict[str, str]:
    out: dict[str, str] = {}
    with open_session(engine) as session:
        for slug in LISTS:
            handle = io.StringIO()
            write_export(
                handle,
                list_subscribers(session=session, mailing_list=get_list(session=session, slug=slug)),
                list_slug=slug,
            )
            out[slug] = handle.getvalue()
    return out


def _fresh(url: str):
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            schema = connection.execute(text("select current_schema()")).scalar_one()
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    init_database(engine, default_list="quotidien")
    with open_session(engine) as session:
        create_list(session=session, slug="hebdo")
        session.commit()
    return engine


@pytest.mark.postgres
@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=readers, confirmed=st.booleans())
def test_export_then_import_on_a_fresh_database_restores_every_reader(
    tmp_path_factory, postgres_schema_url: str, people: list[dict], confirmed: bool
) -> None:
    source = _fresh(f"sqlite:///{tmp_path_factory.mktemp('rt') / f'{uuid.uuid4().hex}.db'}")
    target = _fresh(postgres_schema_url)
    try:
        _round_trip(source, target, people, confirmed)
    finally:
        source.dispose()
        target.dispose()


def _round_trip(source, target, people: list[dict], confirmed: bool) -> None:
    _seed(source, people)
    exported = _exports(source)
    for slug, csv_text in exported.items():
        with open_session(target) as session:
            report = import_csv(
                io.StringIO(csv_text),
                session=session,
                mailing_list=get_list(session=session, slug=slug),
                confirmed=confirmed,
            )
            session.commit()
        assert {row.outcome for row in report.rows} <= {"added"}, report.rows
    assert _exports(target) == exported
    # Importing the same files again changes nothing, and nobody who left or bounced became active.
    for slug, csv_text in exported.items():
        with open_session(target) as session:
            import_csv(
                io.StringIO(csv_text),
                session=session,
                mailing_list=get_list(session=session, slug=slug),
                confirmed=True,
            )
            session.commit()
    assert _exports(target) == exported


def test_a_bounced_reader_in_an_export_is_suppressed_on_the_new_database(engine, tmp_path: Path) -> None:
    exported = (
        "email,name,language,sections,list,status,frequency,format,paused_until,subscribed_at,confirmed_at,"
        "unsubscribed_at,list_status,subscribed_source,confirmed_source,unsubscribed_source\n"
        "gone@example.com,,fr,,quotidien,bounced,weekly,html,,2025-01-02T03:04:05+00:00,"
        "2025-01-02T04:00:00+00:00,,active,web,web,\n"
        "left@example.com,,fr,,quotidien,unsubscribed,daily,html,,2025-01-02T03:04:05+00:00,,"
        "2025-03-01T00:00:00+00:00,unsubscribed,import,,web\n"
        "bad@example.com,,fr,,quotidien,active,hourly,html,,,,,active,,,\n"
    )
    with open_session(engine) as session:
        report = import_csv(
            io.StringIO(exported),
            session=session,
            mailing_list=get_list(session=session, slug="quotidien"),
            confirmed=True,
        )
        session.commit()
        rows = {
            row.email: row
            for row in list_subscribers(session=session, mailing_list=get_list(session=session, slug="quotidien"))
        }
    assert [(r.line, r.outcome) for r in report.rows] == [(2, "added"), (3, "added"), (4, "invalid")]
    assert "frequency 'hourly'" in report.rows[2].reason
    assert rows["gone@example.com"].status == "bounced" and rows["gone@example.com"].frequency == "weekly"
    assert rows["left@example.com"].status == "unsubscribed" and rows["left@example.com"].unsubscribed_source == "web"
