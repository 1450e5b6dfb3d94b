"""One rendered variant per (language, sections) of the list's readers, and each reader gets theirs."""

from __future__ import annotations

import email
import email.policy

from sqlmodel import Session, select

from digest.edition import parse_sections, variant_key
from digest.models import EditionVariant
from tests.conftest import SAMPLE_DAY
from tests.editions import add_readers


def test_variant_keys_ignore_case_order_and_blanks() -> None:
    assert variant_key("fr") == "fr"
    assert variant_key("fr", parse_sections(" Tech, Économie ,")) == "fr:tech+économie"
    assert variant_key("fr", parse_sections("économie,TECH")) == "fr:tech+économie"
    assert parse_sections("") is None and parse_sections(" , ") is None
    long_key = variant_key("ar", frozenset(f"section {n}" for n in range(20)))
    assert len(long_key) <= 64 and long_key.startswith("ar:#")


def test_each_reader_gets_the_variant_of_their_language_and_sections(run_cli, settings, engine) -> None:
    add_readers(engine, settings)
    result = run_cli("send", "--date", SAMPLE_DAY, env={"DIGEST_AUTO_APPROVE": "1"})
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        keys = set(session.exec(select(EditionVariant.key)).all())
    assert keys == {"fr", "en", "ar", "fr:tech+économie"}
    bodies = {}
    for path in (settings.outbox_dir / SAMPLE_DAY / "quotidien").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        bodies[message["To"].addresses[0].addr_spec] = html
        assert "%%" not in html
    assert 'lang="ar" dir="rtl"' in bodies["karim@example.ma"]
    assert "Unsubscribe" in bodies["john@example.net"]
    assert "Se désabonner" in bodies["amina@example.com"]
    sections_reader = bodies["youssef@example.com"]
    assert "WayTech Expo 2025" in sections_reader and "Le Maroc capte un projet britannique" in sections_reader
    assert "Kia Maroc" not in sections_reader and "Kia Maroc" in bodies["amina@example.com"]
