"""The rendered email: golden files, inlining that keeps responsive and dark rules, accessibility, safety."""

from __future__ import annotations

import email
import email.policy
import logging
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
from babel.messages.extract import extract_from_dir

from digest.content import Article, Pick, Selection
from digest.errors import ConfigError
from digest.mail.base import Batch, Content, Recipient
from digest.mail.mime import MessageBuilder
from digest.render import (
    RenderOptions,
    load_translations,
    make_environment,
    render_variant,
    templates_root,
    with_utm,
)
from digest.settings import load_settings
from tests.golden import GENERATORS, GOLDEN_DIR, SAMPLE_PUBLICATION, SAMPLE_WEB_URL, render_sample, sample_selection

HOSTILE = "<script>alert(1)</script>\r\nBcc: victim@example.com"
FIELDS = {"unsubscribe_url": "https://news.example.com/u/T", "preferences_url": "https://news.example.com/p/T"}


@pytest.fixture(scope="module")
def selection() -> Selection:
    return sample_selection()


def _render(selection: Selection, language: str = "fr", **kwargs):
    return render_variant(
        selection,
        env=make_environment(language),
        publication=SAMPLE_PUBLICATION,
        language=language,
        web_url=SAMPLE_WEB_URL,
        **kwargs,
    )


def _hostile_selection() -> Selection:
    published = datetime(2025, 11, 27, 9, tzinfo=UTC)
    featured = Article(url="https://example.ma/a", title=HOSTILE, source="x", published=published, body="b")
    headline = Article(
        url="https://example.ma/b", title=HOSTILE, source="x", published=published, section="<b>Sport</b>"
    )
    return Selection(
        day=published.date(),
        featured=Pick(featured, "test"),
        # Two headlines in the hostile section: a heading needs two.
        headlines=(Pick(headline, "test"), Pick(replace(headline, url="https://example.ma/c"), "test")),
        featured_summary="Summary with <i>markup</i>\r\nBcc: other@example.com",
    )


@pytest.mark.parametrize("name", sorted(n for n in GENERATORS if n.startswith("email.")))
def test_rendered_email_matches_its_golden_file(name: str) -> None:
    expected = (GOLDEN_DIR / name).read_text(encoding="utf-8")
    assert GENERATORS[name]() == expected, f"tests/golden/{name} is stale: run `make golden` and review the diff"


def test_media_rules_survive_inlining_with_important(selection: Selection) -> None:
    html = _render(selection).html
    document = lxml.html.document_fromstring(html)
    styles = "\n".join(style.text or "" for style in document.iter("style"))
    assert "@media screen and (max-width: 480px)" in styles
    # Phones narrow the gutters only: top and bottom paddings (zero ones included) stay as inlined.
    gutters = ".pad, .pad-top, .pad-bottom, .pad-x { padding-left: 16px !important; padding-right: 16px !important; }"
    assert gutters in styles
    assert "padding: 16px" not in styles
    assert "@media (prefers-color-scheme: dark)" in styles
    assert "[data-ogsb] .container { background-color: #1e1e1e !important; }" in styles
    # Ordinary rules were inlined, then dropped from the head.
    assert ".headline-cell {" not in styles
    headline = document.find_class("headline-cell")[0]
    assert "border-top:1px solid #e6e2dc" in headline.get("style")
    assert "data-premailer" not in html


@pytest.mark.parametrize("language", ["fr", "en", "ar"])
def test_accessible_structure(selection: Selection, language: str) -> None:
    variant = _render(selection, language)
    document = lxml.html.document_fromstring(variant.html)
    root = document.getroottree().getroot()
    assert root.get("lang") == language
    assert root.get("dir") == ("rtl" if language == "ar" else "ltr")
    tables = list(document.iter("table"))
    assert tables and all(table.get("role") == "presentation" for table in tables)
    assert all(image.get("alt") is not None for image in document.iter("img"))
    assert document.findtext(".//title") == variant.subject
    assert [h.tag for h in document.iter("h1", "h2")][:2] == ["h1", "h2"]
    assert document.xpath("//meta[@name='color-scheme']/@content") == ["light dark"]


def test_french_date_and_subject_default(selection: Selection) -> None:
    variant = _render(selection)
    assert "jeudi 27 novembre 2025" in variant.text
    assert variant.subject == "Le Quotidien\u00a0: " + selection.featured.article.title  # type: ignore[union-attr]
    assert variant.preheader.removesuffix("…") in selection.featured_summary
    assert variant.preheader.startswith(selection.featured_summary[:80])
    assert "Lire l’article" in variant.html and "Se désabonner" in variant.html


def test_arabic_is_translated_and_right_to_left(selection: Selection) -> None:
    variant = _render(selection, "ar")
    assert "إلغاء الاشتراك" in variant.html
    assert "نوفمبر 2025" in variant.text
    assert 'style="text-align:right' in variant.html


def test_hostile_title_is_harmless_in_html_text_and_headers() -> None:
    variant = _render(_hostile_selection())
    document = lxml.html.document_fromstring(variant.html)
    assert not list(document.iter("script"))
    assert "<b>Sport</b>" not in variant.html and "&lt;b&gt;Sport&lt;/b&gt;" in variant.html
    assert "\r" not in variant.subject and "\n" not in variant.subject
    assert document.findtext(".//title") == variant.subject
    assert not any(line.startswith("Bcc:") for line in variant.text.splitlines())
    batch = Batch(
        content=Content(subject=variant.subject, html=variant.html, text=variant.text),
        recipients=[Recipient(email="reader@example.com", fields=FIELDS)],
        sender="Le Quotidien <news@example.com>",
        list_id="Quotidien <quotidien.example.com>",
        now=datetime(2025, 11, 27, 6, tzinfo=UTC),
        edition_key="2025-11-27.quotidien",
    )
    raw = MessageBuilder(batch).build(batch.recipients[0]).data
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == variant.subject
    assert "<script>alert(1)</script> Bcc: victim@example.com" in parsed["Subject"]


def test_text_part_has_the_same_content_wrapped(selection: Selection) -> None:
    text = _render(selection).text
    assert selection.featured_summary.split()[0] in text
    for pick in selection.headlines:
        assert urlsplit(pick.article.url).path in text
    assert "%%unsubscribe_url%%" in text and "%%preferences_url%%" in text
    assert all(len(line) <= 72 for line in text.splitlines() if "://" not in line)


def test_utm_parameters_replace_the_sources_and_can_be_turned_off(selection: Selection) -> None:
    on = _render(selection).html
    off = _render(selection, options=RenderOptions(utm_source=None)).html
    first = selection.headlines[0].article.url
    assert "utm_source=rss" in first
    tracked = with_utm(first, {"utm_source": "newsletter", "utm_medium": "email"})
    assert parse_qs(urlsplit(tracked).query)["utm_source"] == ["newsletter"]
    assert "utm_campaign=quotidien-2025-11-27" in on and "utm_source=rss" not in on
    assert "utm_source=newsletter" not in off and "utm_source=rss" in off
    assert with_utm("mailto:a@example.com", {"utm_source": "x"}) == "mailto:a@example.com"


def test_subject_and_preheader_templates(selection: Selection) -> None:
    options = RenderOptions(subject_template="{list} du {date}", preheader_template="{featured_title}")
    variant = _render(selection, options=options)
    assert variant.subject == "Quotidien du jeudi 27 novembre 2025"
    assert variant.preheader == selection.featured.article.title  # type: ignore[union-attr]


def test_sections_variant_keeps_only_the_chosen_sections(selection: Selection) -> None:
    variant = _render(selection, sections=frozenset({" tech "}))
    titles = [a.title for a in (p.article for p in selection.headlines) if a.section == "Tech"]
    others = [a.title for a in (p.article for p in selection.headlines) if a.section != "Tech"]
    assert titles and all(t in variant.html for t in titles)
    assert not any(t in variant.html for t in others)
    assert selection.featured.article.title in variant.html  # type: ignore[union-attr]


def test_intro_and_missing_or_insecure_image(selection: Selection) -> None:
    featured = replace(selection.featured.article, image="http://cdn.example.ma/x.jpg")  # type: ignore[union-attr]
    changed = replace(selection, featured=Pick(featured, "test"), intro="Bonne lecture & à demain")
    variant = _render(changed)
    assert "Bonne lecture &amp; à demain" in variant.html and "Bonne lecture & à demain" in variant.text
    assert "cdn.example.ma" not in variant.html


def test_every_template_string_is_translated() -> None:
    extracted = extract_from_dir(str(templates_root()), method_map=[("**.j2", "jinja2")])
    found = {message for _, _, message, _, _ in extracted}
    messages = {m if isinstance(m, str) else m[0] for m in found}
    assert "Unsubscribe" in messages
    for language in ("fr", "ar"):
        translations = load_translations(language)
        missing = [m for m in messages if translations.gettext(m) == m]
        assert not missing, f"untranslated in digest/locale/{language}: {missing}"


def test_bad_subject_template_or_colour_is_a_clear_setting_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"DIGEST_SUBJECT_TEMPLATE: unknown field \{titre\}"):
        load_settings(subject_template="{titre}")
    with pytest.raises(ConfigError, match="DIGEST_BRAND_COLOR: not a colour"):
        load_settings(brand_color="red")


def test_render_sample_is_small(selection: Selection) -> None:
    variant = render_sample("ar", selection)
    assert len(variant.html.encode("utf-8")) < 30 * 1024


def test_inlining_logs_no_css_warnings(selection: Selection, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        html = _render(selection).html
    assert "mso-hide:all" in html.replace(" ", "")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.records
