"""CSV import: an outcome per row, idempotent, never losing a valid row (Hypothesis); export round trip."""

from __future__ import annotations

import csv
import io
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import select

from digest.db import init_database, make_engine, open_session
from digest.errors import DigestError, SubscriberError
from subscribers.addresses import email_key, legacy_email_hash, normalize_email
from subscribers.export import write_export
from subscribers.importer import import_csv
from subscribers.models import ConsentEvent, Subscriber, Subscription, Suppression, utcnow
from subscribers.store import get_list, list_subscribers, remove_subscriber, suppress


def _import(engine, text: str, *, confirmed: bool = True):
    with open_session(engine) as session:
        mailing_list = get_list(session=session, slug="quotidien")
        report = import_csv(io.StringIO(text), session=session, mailing_list=mailing_list, confirmed=confirmed)
        session.commit()
        return report


def _outcomes(report) -> list[tuple[int, str]]:
    return [(row.line, row.outcome) for row in report.rows]


def test_each_row_gets_an_outcome_and_bad_rows_do_not_stop_the_file(engine) -> None:
    text = (
        "Email,Name,Language,Sections\n"
        "amina@example.com,Amina,fr,Économie;Tech\n"
        "not-an-address,X,fr,\n"
        "john@example.net,John,xx,\n"
        "AMINA@example.com,Other,fr,\n"
        "karim@bücher.ma,كريم,ar,\n"
        "extra@example.com,E,fr,,surplus\n"
    )
    report = _import(engine, text)
    assert _outcomes(report) == [
        (2, "added"),
        (3, "invalid"),
        (4, "invalid"),
        (5, "duplicate"),
        (6, "added"),
        (7, "invalid"),
    ]
    reasons = {row.line: row.reason for row in report.rows}
    assert "@-sign" in reasons[3] and "'xx'" in reasons[4] and "line 2" in reasons[5] and "fields" in reasons[7]
    with open_session(engine) as session:
        stored = {s.email: s for s in session.exec(select(Subscriber))}
        assert set(stored) == {"amina@example.com", "karim@bücher.ma"}
        sub = session.exec(
            select(Subscription).where(Subscription.subscriber_id == stored["amina@example.com"].id)
        ).one()
        assert sub.sections == "Économie,Tech" and sub.status == "active" and sub.confirmed_at is not None
        assert len(session.exec(select(ConsentEvent)).all()) == 4  # subscribe + confirm for each


def test_reimport_is_idempotent_and_reports_changes(engine) -> None:
    text = "email,name,language\namina@example.com,Amina,fr\njohn@example.net,John,en\n"
    assert _import(engine, text).counts["added"] == 2
    again = _import(engine, text)
    assert again.counts["unchanged"] == 2
    changed = _import(engine, "email,name\namina@example.com,Amina B.\n")
    assert _outcomes(changed) == [(2, "updated")]
    with open_session(engine) as session:
        assert len(session.exec(select(Subscriber)).all()) == 2
        assert len(session.exec(select(ConsentEvent)).all()) == 4


def test_confirmed_applies_to_new_addresses_only(engine) -> None:
    _import(engine, "email\namina@example.com\n", confirmed=False)
    report = _import(engine, "email\namina@example.com\nnew@example.com\n", confirmed=True)
    assert _outcomes(report) == [(2, "unchanged"), (3, "added")]
    with open_session(engine) as session:
        statuses = {
            row.email: row.status
            for row in list_subscribers(session=session, mailing_list=get_list(session=session, slug="quotidien"))
        }
    assert statuses == {"amina@example.com": "pending", "new@example.com": "active"}


def test_erased_complained_and_unsubscribed_addresses_are_refused_not_re_added(engine) -> None:
    _import(engine, "email\nleft@example.com\nerased@example.com\n")
    with open_session(engine) as session:
        remove_subscriber(session=session, email="left@example.com")
        remove_subscriber(session=session, email="erased@example.com", erase=True)
        session.commit()
        suppress(session=session, email="complained@example.com", reason="complained")
        session.commit()
    report = _import(engine, "email\nleft@example.com\nerased@example.com\nComplained@example.com\nnew@example.com\n")
    assert _outcomes(report) == [(2, "refused"), (3, "refused"), (4, "refused"), (5, "added")]
    assert "unsubscribed" in report.rows[0].reason
    assert "erased" in report.rows[1].reason and "complained" in report.rows[2].reason


def test_an_erasure_kept_under_its_legacy_hash_is_refused_among_many_rows(engine) -> None:
    """The chunk's look-ups travel as one parameter (a JSON array on SQLite, an array on PostgreSQL): an
    erasure made before the keys kept ß apart (stored under the hash of the case-folded address) still
    refuses its reader, among other rows, on both databases."""
    with open_session(engine) as session:
        session.add(
            Suppression(
                email_hash=legacy_email_hash("straße@example.de"), reason="erased", legacy_key=True, created_at=utcnow()
            )
        )
        session.commit()
        suppress(session=session, email="gone@example.com", reason="bounced")
        session.commit()
    rows = [f"reader{i}@example.com" for i in range(2500)]
    rows[1200], rows[2300] = "Straße@Example.de", "GONE@example.com"
    report = _import(engine, "email\n" + "\n".join(rows) + "\n")
    refused = [(row.line, row.outcome) for row in report.rows if row.outcome != "added"]
    assert refused == [(1202, "refused"), (2302, "refused")]
    assert report.counts["added"] == 2498


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,language\nA,fr\n", "'email' column"),
        ("email,phone\na@example.com,1\n", "unknown columns phone"),
        ("", "'email' column"),
    ],
)
def test_bad_headers_are_refused_with_the_reason(engine, text, message) -> None:
    with pytest.raises(DigestError, match=message):
        _import(engine, text)


def test_export_lists_preferences_status_and_dates_and_imports_back(engine) -> None:
    _import(engine, "email,name,language,sections\namina@example.com,=cmd(),fr,Tech\njohn@example.net,John,en,\n")
    with open_session(engine) as session:
        remove_subscriber(session=session, email="john@example.net")
        session.commit()
        out = io.StringIO()
        write_export(
            out,
            list_subscribers(session=session, mailing_list=get_list(session=session, slug="quotidien")),
            list_slug="quotidien",
        )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["email"] for r in rows] == ["amina@example.com", "john@example.net"]
    assert rows[0]["name"] == "'=cmd()"  # spreadsheets must not run it
    assert (
        rows[0]["status"] == "active" and rows[0]["sections"] == "Tech" and rows[0]["confirmed_at"].endswith("+00:00")
    )
    assert rows[1]["status"] == "unsubscribed" and rows[1]["unsubscribed_at"]
    back = _import(engine, out.getvalue())
    assert _outcomes(back) == [(2, "unchanged"), (3, "refused")]


def test_cli_import_reports_rows_and_totals(run_cli, tmp_path: Path) -> None:
    assert run_cli("init").exit_code == 0
    path = tmp_path / "readers.csv"
    path.write_text("email,name\namina@example.com,A\nbad,B\n", encoding="utf-8")
    result = run_cli("subscribers", "import", str(path))
    assert result.exit_code == 0
    assert "1 added, 0 updated, 0 unchanged, 1 invalid, 0 refused, 0 duplicate" in result.output
    assert "line 3: invalid" in result.output
    assert "pending" in result.output
    missing = run_cli("subscribers", "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    path.write_bytes(b"email,name\nlatin@example.com,Caf\xe9\n")
    latin = run_cli("subscribers", "import", str(path)).output
    assert "not UTF-8" in latin and "CSV UTF-8" in latin and "nothing was imported" in latin


def test_cli_imports_an_excel_file_with_semicolons_bom_and_crlf(run_cli, tmp_path: Path) -> None:
    assert run_cli("init").exit_code == 0
    path = tmp_path / "excel.csv"
    text = 'Courriel;Nom;Langue;Rubriques\r\nb@example.com;Bé;ar;"Sport;Tech"\r\nsans-arobase;X;fr;\r\n'
    path.write_bytes("\ufeff".encode() + text.encode("utf-8"))
    result = run_cli("subscribers", "import", str(path), "--confirmed")
    assert "1 added, 0 updated, 0 unchanged, 1 invalid" in result.output
    listed = run_cli("subscribers", "list", "--json").output
    assert '"b@example.com"' in listed and '"Bé"' in listed and "Sport" in listed and "Tech" in listed


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_the_one_the_header_uses(engine, delimiter: str) -> None:
    text = delimiter.join(["name", "email"]) + "\n" + delimiter.join(["Amina, Rabat", "amina@example.com"]) + "\n"
    if delimiter == ",":
        text = 'name,email\n"Amina, Rabat",amina@example.com\n'
    report = _import(engine, text)
    assert _outcomes(report) == [(2, "added")]
    with open_session(engine) as session:
        assert session.exec(select(Subscriber.name)).one() == "Amina, Rabat"


# Hypothesis: addresses and import


LOCAL = st.text(alphabet=string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-.", min_size=1, max_size=70)
DOMAIN = st.sampled_from(
    [
        "example.com",
        "Example.MA",
        "bücher.de",
        "xn--bcher-kva.de",
        "sub.example.org",
        "localhost",
        "example",
        "-bad.com",
        "a..b.com",
        "مثال.ma",
    ]
)


def _reference(address: str) -> str | None:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


@given(local=LOCAL, domain=DOMAIN, case=st.booleans())
def test_normalisation_agrees_with_email_validator(local: str, domain: str, case: bool) -> None:
    raw = f"{local}@{domain.upper() if case else domain}"
    expected = _reference(raw)
    if expected is None:
        with pytest.raises(SubscriberError):
            normalize_email(raw)
        return
    normal = normalize_email(f"  {raw} ")
    assert normal == expected
    assert normalize_email(normal) == normal  # idempotent
    assert email_key(normalize_email(raw.upper())) == email_key(normal)


ROW = st.tuples(
    st.one_of(
        st.builds(
            lambda n, d: f"user{n}@{d}",
            st.integers(0, 30),
            st.sampled_from(["example.com", "EXAMPLE.com", "bücher.de"]),
        ),
        st.text(max_size=12),
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
    st.sampled_from(["", "fr", "en", "ar", "xx"]),
    st.lists(st.sampled_from(["Tech", "Économie", "Santé", "bad,comma"]), max_size=3),
)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(ROW, max_size=15), min_size=1, max_size=3))
def test_no_valid_row_is_ever_lost(tmp_path_factory, batches) -> None:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('import') / 'db.sqlite'}")
    init_database(engine, default_list="quotidien")
    try:
        valid: set[str] = set()
        for rows in batches:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["email", "name", "language", "sections"])
            for address, name, language, sections in rows:
                writer.writerow([address, name, language, ";".join(sections)])
            report = _import(engine, out.getvalue())
            assert len(report.rows) == len(rows)  # one outcome per row, nothing silently dropped
            for row, (address, _name, language, sections) in zip(report.rows, rows, strict=True):
                acceptable = (
                    _reference(address.strip()) is not None and language != "xx" and "bad,comma" not in sections
                )
                assert (row.outcome != "invalid") == acceptable, (address, row)
                if row.outcome in ("added", "updated", "unchanged", "duplicate"):
                    valid.add(email_key(normalize_email(address)))
                else:
                    assert row.outcome == "invalid" and row.reason
        with open_session(engine) as session:
            stored = set(session.exec(select(Subscriber.email_key)).all())
        assert stored == valid
    finally:
        engine.dispose()


def test_the_import_benchmark_runs() -> None:
    from bench.import_csv import bench_import

    first, again = bench_import(300)
    assert (first.count, again.count) == (300, 300) and first.seconds > 0 and again.seconds > 0


def test_rows_are_read_as_a_dict_reader_reads_them(engine) -> None:
    """Cells are picked by position without a dict per row, with csv.DictReader's reading kept: blank lines
    skipped (line numbers still the file's), a missing cell empty, a column named twice its last cell."""
    text = "email,name,nom\n\na@example.com,A,Amina\n\n\nb@example.com\nc@example.com,C,Cyril,surplus\n"
    report = _import(engine, text)
    assert _outcomes(report) == [(3, "added"), (6, "added"), (7, "invalid")]
    assert report.rows[2].reason == "4 fields, header has fewer"
    with open_session(engine) as session:
        assert dict(session.exec(select(Subscriber.email, Subscriber.name)).all()) == {
            "a@example.com": "Amina",
            "b@example.com": None,
        }


@pytest.mark.parametrize("after_an_erasure", [False, True])
def test_new_readers_get_their_own_ids_and_subscriptions(engine, after_an_erasure: bool) -> None:
    """New readers' ids are counted from the last one on SQLite, read back when they cannot be (on PostgreSQL,
    or after the newest reader was removed: AUTOINCREMENT never reuses its id); either way each reader's
    subscription and consent events are their own."""
    _import(engine, "email\nfirst@example.com\nnewest@example.com\n")
    if after_an_erasure:
        with open_session(engine) as session:
            remove_subscriber(session=session, email="newest@example.com", erase=True)
            session.commit()
    rows = [f"reader{i}@example.com" for i in range(2100)]  # two chunks
    report = _import(engine, "email,name\n" + "\n".join(f"{address},{address[:-12]}" for address in rows) + "\n")
    assert report.counts["added"] == 2100
    with open_session(engine) as session:
        people = {s.id: s for s in session.exec(select(Subscriber))}
        for subscription in session.exec(select(Subscription)):
            assert subscription.subscriber_id in people
        kept = session.exec(select(ConsentEvent.subscriber_id).where(ConsentEvent.subscriber_id.is_not(None))).all()
        assert set(kept) <= set(people)
        by_email = {s.email: s for s in people.values()}
        for address in rows[:3] + rows[-3:]:
            reader = by_email[address]
            assert reader.name == address[:-12]
            events = session.exec(select(ConsentEvent.kind).where(ConsentEvent.subscriber_id == reader.id)).all()
            assert sorted(events) == ["confirm", "subscribe"]
            subscription = session.exec(select(Subscription).where(Subscription.subscriber_id == reader.id)).one()
            assert subscription.status == "active"
