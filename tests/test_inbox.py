"""What inboxes need of the rendered email: Outlook's sizes and button, languages per block, dark mode, typography."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import lxml.html
import pytest
from babel.messages.pofile import read_po

from digest.content import Article, Pick, Selection
from digest.lint import STYLE_MAX_BYTES, errors, lint_variant
from digest.personalize import FIELDS, Personalizable
from digest.render import LOCALE_DIR, RenderedVariant, RenderOptions, make_environment, render_variant
from digest.settings import Settings
from digest.typography import label, sort_key, typographic_spaces
from tests.golden import SAMPLE_PUBLICATION, SAMPLE_WEB_URL

PUBLISHED = datetime(2025, 11, 27, 8, tzinfo=UTC)
LONG_SUMMARY = "Une phrase d’accroche assez longue pour être coupée proprement à la bonne longueur. " * 4


def _article(number: int, **fields) -> Article:
    defaults = {
        "url": f"https://news.example.ma/{number}",
        "title": f"Titre numéro {number} d’un article",
        "source": "Le Quotidien",
        "published": PUBLISHED,
        "section": ("Économie", "Tech", None)[number % 3],
        "summary": LONG_SUMMARY,
        "image": f"https://cdn.example.ma/{number}.jpg",
        "image_width": 1200,
        "image_height": 675,
        "lang": "fr",
    }
    return Article(**{**defaults, **fields})


def _selection(featured: Article | None = None, count: int = 10) -> Selection:
    headlines = tuple(Pick(_article(n), "test") for n in range(1, count + 1))
    return Selection(
        day=PUBLISHED.date(),
        featured=Pick(featured or _article(0), "test"),
        headlines=headlines,
        featured_summary=LONG_SUMMARY,
    )


def _render(selection: Selection, language: str = "fr", style: str = "titles") -> RenderedVariant:
    return render_variant(
        selection,
        env=make_environment(language),
        publication=SAMPLE_PUBLICATION,
        language=language,
        web_url=SAMPLE_WEB_URL,
        options=RenderOptions(headline_style=style),  # type: ignore[arg-type]
    )


def _document(variant: RenderedVariant):
    return lxml.html.document_fromstring(variant.html)


@pytest.mark.parametrize("style", ["titles", "summaries", "thumbnails"])
@pytest.mark.parametrize(
    ("width", "height"), [(1200, 675), (300, 200), (None, None), (2400, None)], ids=["wide", "narrow", "unknown", "w"]
)
def test_every_image_has_a_numeric_width_and_no_border(style: str, width, height) -> None:
    featured = _article(0, image_width=width, image_height=height)
    document = _document(_render(_selection(featured), style=style))
    images = list(document.iter("img"))
    assert images
    for image in images:
        assert image.get("width", "").isdigit(), lxml.html.tostring(image)
        assert image.get("border") == "0" and image.get("height") != "auto"
        assert "font-family" in image.get("style", "") and "color" in image.get("style", "")
    hero = images[0]
    if width is None or width >= 480:
        assert hero.get("width") == "552" and "featured-image" in hero.get("class")
        assert hero.get("height") == (str(round(height * 552 / width)) if height else None)
    else:  # a small image beside the title, at most its own size
        assert hero.get("width") == "120" and hero.get("height") == "80"
        assert hero.getparent().getparent().get("class") == "card-thumb"
    thumbnails = document.find_class("headline-thumb")
    assert len(thumbnails) == (10 if style == "thumbnails" else 0)
    assert all(cell.find(".//img").get("width") == "80" for cell in thumbnails)
    assert all(cell.find(".//img").get("height") == "45" for cell in thumbnails)


def test_an_absurd_image_size_from_a_feed_is_not_trusted() -> None:
    featured = _article(0, image_width=1, image_height=10_000)
    hero = _document(_render(_selection(featured))).find_class("thumbnail")[0]
    assert hero.get("width") == "1" and hero.get("height") is None


@pytest.mark.parametrize("style", ["titles", "summaries", "thumbnails"])
def test_headline_styles_stay_within_the_budget(style: str) -> None:
    variant = _render(_selection(count=30), style=style)
    issues = lint_variant(html=variant.html, text=variant.text, subject=variant.subject, preheader=variant.preheader)
    assert not errors(issues), issues
    deks = _document(variant).find_class("dek")
    assert len(deks) == (0 if style == "titles" else 30)
    assert all(len(dek.text_content()) <= 160 for dek in deks)
    assert ("\n  " + LONG_SUMMARY[:40] in variant.text) == (style != "titles")


@pytest.mark.parametrize("language", ["fr", "en", "ar"])
def test_wrapper_in_the_body_names_language_and_direction(language: str) -> None:
    variant = _render(_selection(), language)
    body = _document(variant).find("body")
    wrapper = body.find("div")
    assert wrapper.get("role") == "article" and wrapper.get("aria-roledescription") == "email"
    assert wrapper.get("lang") == language
    assert wrapper.get("dir") == ("rtl" if language == "ar" else "ltr")
    assert wrapper.get("aria-label") == variant.subject


def test_foreign_language_blocks_carry_their_language_and_alignment() -> None:
    articles = [
        _article(1, section=None),
        _article(2, section=None, lang="ar", title="عنوان عربي"),
        _article(3, section=None, lang=None),
        _article(4, section=None, lang='fr" onmouseover="x'),
    ]
    selection = replace(_selection(count=1), headlines=tuple(Pick(article, "t") for article in articles))
    document = _document(_render(selection, "ar"))
    # The language sits on a <div> in the cell: Yahoo and AOL drop lang from <td>, Orange drops dir.
    blocks = [cell.find("div") for cell in document.find_class("headline-cell")]
    french, arabic, none, bad = blocks
    assert french.get("lang") == "fr" and french.get("dir") == "ltr"
    assert "text-align:left" in french.get("style") and french.get("align") == "left"
    assert arabic.get("lang") == "ar" and arabic.get("dir") == "rtl" and "text-align:right" in arabic.get("style")
    assert none.get("lang") is None and none.get("dir") == "auto"
    assert bad.get("lang") is None and "onmouseover" not in lxml.html.tostring(bad, encoding="unicode")
    featured = document.xpath("//h2[@class='featured-title']/..")[0]
    assert featured.get("lang") == "fr" and featured.get("dir") == "ltr" and "text-align:left" in featured.get("style")
    # The button is the reader's chrome: outside the article's block, in the edition's language.
    assert not document.find_class("button")[0].xpath("ancestor::*[@lang='fr']")


def test_one_link_per_title_and_a_button_that_names_its_article() -> None:
    selection = _selection(count=3)
    document = _document(_render(selection, "fr"))
    for pick in selection.headlines:
        links = [a for a in document.iter("a") if a.get("href", "").startswith(pick.article.url + "?")]
        assert len([a for a in links if a.get("aria-hidden") != "true"]) == 1
    assert selection.featured is not None
    featured_url = selection.featured.article.url + "?"
    image_link = document.find_class("featured-image")[0].getparent()
    assert image_link.get("aria-hidden") == "true" and image_link.get("tabindex") == "-1"
    assert document.find_class("featured-image")[0].get("alt") == ""
    button = document.find_class("button")[0]
    assert button.get("href").startswith(featured_url)
    assert button.get("aria-label") == "Lire l’article\u00a0: " + selection.featured.article.title
    assert button.text_content() == "Lire l’article"


def test_outlook_gets_its_button_padding_resets_and_fonts() -> None:
    document = _document(_render(_selection(), "fr"))
    cell = document.find_class("button-cell")[0]
    assert "mso-padding-alt:12px 20px" in cell.get("style") and cell.get("bgcolor") == "#b3261e"
    assert "mso-padding-alt:0" in document.find_class("button")[0].get("style")
    for table in document.iter("table"):
        assert "mso-table-lspace:0" in table.get("style") and "mso-table-rspace:0" in table.get("style")
    for cell in document.iter("td"):
        if cell.text_content().strip():
            assert "font-family:" in cell.get("style", ""), lxml.html.tostring(cell)[:120]
            assert "mso-line-height-rule:exactly" in cell.get("style", "")


def test_style_blocks_are_separate_small_and_dark_mode_matches_outlook_com() -> None:
    variant = _render(_selection(), "fr")
    document = _document(variant)
    blocks = [style.text or "" for style in document.iter("style")]
    assert len(blocks) == 3
    assert sum(len(block.encode()) for block in blocks) <= STYLE_MAX_BYTES
    responsive, dark, outlook = blocks
    assert "@media screen and (max-width: 480px)" in responsive and "prefers-color-scheme" not in responsive
    assert "prefers-color-scheme: dark" in dark and "data-ogs" not in dark
    assert "@media" not in outlook
    # Each class the dark rules recolour is recoloured for Outlook.com too: backgrounds by [data-ogsb],
    # text and borders by [data-ogsc].
    for rule in dark.split("{", 2)[2].split("}")[:-2]:
        selectors, declaration = rule.split("{")
        prefix = "[data-ogsb]" if "background-color" in declaration else "[data-ogsc]"
        for selector in selectors.split(","):
            selector = selector.strip()
            if selector != "body":
                assert f"{prefix} {selector}" in outlook, f"{selector} ({declaration.strip()})"
    # Phones narrow the gutters; no rule re-pads a zero padding.
    assert "padding: 16px" not in responsive


def test_preheader_is_hidden_without_a_colour() -> None:
    document = _document(_render(_selection(), "fr"))
    style = document.find_class("preheader")[0].get("style")
    assert "display:none" in style and "mso-hide:all" in style
    assert "color" not in style and "opacity" not in style


def test_text_part_signature_separator_and_placeholders() -> None:
    variant = _render(_selection(), "fr")
    lines = variant.text.splitlines()
    assert lines.count("-- ") == 1 and "--" not in lines
    assert "Lire l’article\u00a0: https://news.example.ma/0?" in variant.text
    assert "Se désabonner\u00a0: %%unsubscribe_url%%" in variant.text
    for part in (variant.html, variant.text):
        assert set(Personalizable.compile(part).names) == set(FIELDS)
    filled = Personalizable.compile(variant.html).fill(dict.fromkeys(FIELDS, "https://news.example.com/u/T"))
    assert "%%" not in filled


def test_french_footer_wording() -> None:
    variant = _render(_selection(), "fr")
    assert "la liste «\u202fQuotidien\u202f», publiée par Le Quotidien." in variant.html
    assert " de Le " not in variant.html + variant.text


def test_french_spaces_before_punctuation() -> None:
    assert typographic_spaces("Adresse: Rabat ; voir « ici »!", "fr") == (
        "Adresse\u00a0: Rabat\u202f; voir «\u202fici\u202f»\u202f!"
    )
    assert (
        typographic_spaces("https://example.ma/a:b 10:30 Quoi ?!", "fr") == "https://example.ma/a:b 10:30 Quoi\u202f?!"
    )
    assert typographic_spaces("Address: here!", "en") == "Address: here!"
    assert label("Lire l’article", "fr") == "Lire l’article\u00a0:" and label("Read", "en") == "Read:"


def test_french_catalog_has_its_typographic_spaces() -> None:
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "digest.po").open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    strings = [m.string for m in catalog if m.id and isinstance(m.string, str)]
    assert any("\u00a0:" in s for s in strings)
    wrong = [s for s in strings if typographic_spaces(s, "fr") != s]
    assert not wrong, wrong


def test_sections_sort_with_their_accents() -> None:
    sections = ["Tech", "Économie", "sport", "Énergie", "Auto", "économie"]
    assert sorted(sections, key=sort_key) == ["Auto", "Économie", "économie", "Énergie", "sport", "Tech"]


def test_per_language_chrome_falls_back_to_the_unsuffixed_setting() -> None:
    base = Settings(_env_file=None, publication_name="Daily", subject_template="{publication} - {date}")  # type: ignore[call-arg]
    assert base.publication_name_for("ar") == "Daily" and base.subject_template_for("en") == "{publication} - {date}"
    own = Settings(_env_file=None, publication_name_ar="اليومية", subject_template_ar="{featured_title}")  # type: ignore[call-arg]
    assert own.publication_name_for("ar") == "اليومية" and own.subject_template_for("ar") == "{featured_title}"
    assert own.subject_template_for("fr") is None  # the language's own default wording
    assert Settings(_env_file=None).publication_name_for("ar") == "اليومية"  # type: ignore[call-arg]
    assert Settings(_env_file=None, headline_style="thumbnails").headline_style == "thumbnails"  # type: ignore[call-arg]
