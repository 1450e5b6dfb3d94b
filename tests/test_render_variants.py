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


def test_each_language_gets_its_own_chrome_around_the_articles_title(run_cli, settings, engine) -> None:
    add_readers(engine, settings)
    env = {
        "DIGEST_AUTO_APPROVE": "1",
        "DIGEST_PUBLICATION_NAME": "Le Quotidien",
        "DIGEST_PUBLICATION_NAME_AR": "اليومية",
        "DIGEST_SUBJECT_TEMPLATE_EN": "{publication} | {featured_title}",
    }
    result = run_cli("send", "--date", SAMPLE_DAY, env=env)
    assert result.exit_code == 0, result.output
    messages = {}
    for path in (settings.outbox_dir / SAMPLE_DAY / "quotidien").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        messages[message["To"].addresses[0].addr_spec] = message
    title = "Net-Pharma Hub projette un écosystème pharmaceutique novateur au Maroc"
    arabic = messages["karim@example.ma"]
    assert arabic["Subject"] == f"اليومية: {title}"
    arabic_html = arabic.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<h1 class="masthead"' in arabic_html and ">اليومية</h1>" in arabic_html
    assert "Le Quotidien" not in arabic_html.split("<body", 1)[1].split(settings.postal_address)[0]
    assert "اليومية" in arabic.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert messages["john@example.net"]["Subject"] == f"Le Quotidien | {title}"
    assert messages["amina@example.com"]["Subject"] == f"Le Quotidien\u00a0: {title}"
