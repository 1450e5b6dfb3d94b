"""The one cleaning pass and the sentence-aware cut, rule by rule, on small hand-made inputs (fr, en, ar)."""

from __future__ import annotations

from datetime import UTC, date

import pytest

from digest.sources import parse_source
from digest.sources.images import is_furniture
from digest.sources.text import clean_summary, paragraphs, plain_text, sentence_ends, summarize


@pytest.mark.parametrize(
    ("markup", "lang", "expected"),
    [
        (
            "<p>Vote for your winner</p><p>After announcing the list, we wait.</p>",
            "en",
            "Vote for your winner. After announcing the list, we wait.",
        ),
        ("<h2>Le contexte</h2><div>Le vote a eu lieu hier.</div>", "fr", "Le contexte. Le vote a eu lieu hier."),
        (
            "Said <a href='/x'>last week</a>, we think <b>so</b>. (<i>see</i> ) more.",
            "en",
            "Said last week, we think so. (see) more.",
        ),
        ("First line<br>second line.", "en", "First line. second line."),
        (
            "Il a dit : « oui » ; puis non ! Vraiment ?",
            "fr",
            "Il a dit\u202f: « oui »\u202f; puis non\u202f! Vraiment\u202f?",
        ),
        ("Il a dit\u00a0: oui\u202f; enfin.", "fr", "Il a dit\u00a0: oui\u202f; enfin."),
        ("one ; two , three .", "en", "one; two, three."),
        ("قال <a href='/x'>الوزير</a> ، إن الوضع مستقر .", "ar", "قال الوزير، إن الوضع مستقر."),
        ("the .NET runtime and example .com domains.", "en", "the .NET runtime and example .com domains."),
    ],
)
def test_blocks_become_sentences_and_removed_links_leave_no_space(markup: str, lang: str, expected: str) -> None:
    assert clean_summary(markup, lang=lang) == expected


def test_body_paragraphs_stay_apart_and_captions_are_not_text() -> None:
    markup = "<p>Premier.</p><figure><img src='a.jpg'><figcaption>Une photo.</figcaption></figure><p>Second.</p>"
    assert paragraphs(markup, "fr") == "Premier.\n\nSecond."
    assert paragraphs("Plain text.\n\nSecond paragraph.") == "Plain text.\n\nSecond paragraph."


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<p>Le texte.</p><p><a href='/x'>Lire la suite sur Le Site</a></p>", "Le texte."),
        ("Le texte s’arrête ici, ce... <a href='/x'>Lire la suite sur Le Site</a>", "Le texte s’arrête ici, ce…"),
        ("The story. <p>Read more of this story at Some Site.</p>", "The story."),
        ("The story. Continue reading...", "The story."),
        ("The story. <a href='/x'>Read full story</a>", "The story."),
        ("Le récit. <a href='/x'>Cliquez ici pour lire la suite</a>", "Le récit."),
        ("The story. This article originally appeared on Some Site.", "The story."),
        ("The story. The post A Title appeared first on Some Site.", "The story."),
        ("Le texte. L’article Un titre est apparu en premier sur Le Site.", "Le texte."),
        ("النص الكامل للخبر. ظهرت المقالة عنوان أولاً على الموقع.", "النص الكامل للخبر."),
        ("The story. Get our free news app, morning email briefing or evening update.", "The story."),
        ("Le fait du jour. Inscrivez-vous à notre newsletter pour recevoir l’essentiel.", "Le fait du jour."),
        ("الخبر كاملا. حمّل تطبيق الموقع لتصلك الأخبار.", "الخبر كاملا."),
        ("The story goes on [&#8230;]", "The story goes on…"),
        ("نص الخبر. اقرأ المزيد", "نص الخبر."),
        ("قتل المزيد من الناس.", "قتل المزيد من الناس."),
    ],
)
def test_boilerplate_tails_are_cut(markup: str, expected: str) -> None:
    assert clean_summary(markup) == expected


@pytest.mark.parametrize(
    "markup",
    [
        "التفاصيل بعد قليل..",
        "تفاصيل أكثر بعد قليل",
        "عاجل | جار التحديث",
        "Details shortly.",
        "More details to follow…",
        "This is a developing story and will be updated.",
        "BREAKING: This story will be updated",
        "Plus d'informations à venir.",
        "Plus d’infos à suivre",
        "Article en cours d'actualisation…",
        "[…]",
    ],
)
def test_placeholders_are_no_summary(markup: str) -> None:
    assert clean_summary(markup) == ""


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("Le Maroc gagne la finale", "Le Maroc gagne la finale", ""),
        ("Le Maroc gagne la finale", "Le Maroc gagne…", ""),
        ("Le Maroc gagne la finale", "<a href='/x'>Le Maroc gagne la finale</a>&nbsp;&nbsp;Le Quotidien", ""),
        ("Fire in Paris", "Fire in Paris kills three.", "Fire in Paris kills three."),
        ("المغرب يفوز بالنهائي", "المغرب يفوز بالنهائي.", ""),
        (
            "Le Maroc gagne la finale",
            "Le Maroc gagne la finale face au Sénégal.",
            "Le Maroc gagne la finale face au Sénégal.",
        ),
    ],
)
def test_a_summary_that_repeats_the_title_is_no_summary(title: str, summary: str, expected: str) -> None:
    assert clean_summary(summary, title=title) == expected


def test_a_summary_ends_on_a_sentence_end_or_an_ellipsis() -> None:
    assert clean_summary("Première phrase. Une seconde coupée par le fl") == "Première phrase."
    assert clean_summary("Une seule phrase sans point") == "Une seule phrase sans point…"
    assert clean_summary("He said “stop.”") == "He said “stop.”"


@pytest.mark.parametrize(
    ("text", "ends"),
    [
        ("Sen. Warren met Gov. Newsom on Jan. 5 in St. Louis. Then he left.", ["St. Louis.", "he left."]),
        ("M. Macron a reçu Mme Dupont et le Dr. Martin. Puis il est parti.", ["Dr. Martin.", "est parti."]),
        ("The U.S. economy grew 2.5 percent at 5 p.m. on Monday. It slowed.", ["on Monday.", "It slowed."]),
        ("هل سيستمر ذلك؟ ولم يعلق المسؤولون۔ وتابع الحديث.", ["سيستمر ذلك؟", "يعلق المسؤولون۔", "وتابع الحديث."]),
        ("« C’est fini. » Il est parti !", ["C’est fini. »", "est parti !"]),
    ],
)
def test_sentence_ends_know_abbreviations_and_arabic_marks(text: str, ends: list[str]) -> None:
    found = [text[:end] for end in sentence_ends(text)]
    assert len(found) == len(ends)
    assert all(sentence.endswith(end) for sentence, end in zip(found, ends, strict=True))


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("A" + " long sentence" * 23 + " that ends here.", 300, "A" + " long sentence" * 23 + " that ends here."),
        ("Sen. Warren spoke. Gov. Newsom answered at length about the budget.", 30, "Sen. Warren spoke."),
        (
            "Words without any end " * 30,
            100,
            "Words without any end " * 4 + "Words…",
        ),
        ("Titre du bloc\n\nLe texte suit ici.", 300, "Titre du bloc. Le texte suit ici."),
        ("جملة أولى قصيرة؟ جملة ثانية أطول من الأولى بكثير جدا جدا.", 30, "جملة أولى قصيرة؟"),
    ],
)
def test_the_cut_ends_on_a_sentence_end_or_an_ellipsis_never_mid_word(text: str, limit: int, expected: str) -> None:
    assert summarize(text, limit) == expected


@pytest.mark.parametrize(
    ("url", "width", "height", "furniture"),
    [
        ("https://a.example/sd/twitter_icon_large.png", None, None, True),
        ("https://a.example/stats/pixel.gif", None, None, True),
        ("https://a.example/photo.jpg", 1, 1, True),
        ("https://a.example/img/share/facebook.png", None, None, True),
        ("https://feeds.feedburner.com/~r/site/~4/abc", None, None, True),
        ("https://a.example/themes/logo-2x.png", None, None, True),
        ("https://a.example/2024/08/08/minister-speech.jpg", None, None, False),
        ("https://a.example/2024/08/fashion-icons-of-the-year.jpg", 1200, 800, False),
        ("https://a.example/news/240/thumbnail.jpg", 240, 135, False),
    ],
)
def test_pixels_icons_and_share_buttons_are_not_article_images(
    url: str, width: int | None, height: int | None, furniture: bool
) -> None:
    assert is_furniture(url, width, height) is furniture


MEDIA_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Le Journal</title>
<language>fr-FR</language>
<item><title>Premier titre</title><link>https://s.example/1</link>
<description>Le résumé de l’article.</description>
<media:content url="https://s.example/1.jpg" width="644" height="322" medium="image">
<media:description>Une photo de la place, le 2 mai.</media:description><media:credit>AFP</media:credit>
</media:content></item>
<item><title>Second titre</title><link>https://s.example/2</link>
<media:content url="https://s.example/2.jpg" medium="image"><media:description>Légende seule.</media:description>
</media:content><description>Le vrai résumé.</description>
<media:thumbnail url="https://s.example/2-small.jpg" width="240" height="135"/></item>
<item><title>Troisième titre</title><link>https://s.example/3</link>
<description><![CDATA[<p><a href="https://twitter.com/share"><img src="https://s.example/i/twitter_icon_large.png"></a>
<img src="https://s.example/3.jpg" width="800" height="450" alt="La scène"> Le texte.</p>]]></description></item>
</channel></rss>"""


def test_feed_captions_are_image_metadata_never_the_summary() -> None:
    parsed = parse_source(MEDIA_FEED.encode(), source="s", url="https://s.example/rss", day=date(2026, 1, 1), tz=UTC)
    first, second, third = parsed.articles
    assert (first.summary, first.body) == ("Le résumé de l’article.", "")
    assert (first.image, first.image_width, first.image_height) == ("https://s.example/1.jpg", 644, 322)
    assert first.image_alt == "Une photo de la place, le 2 mai."
    assert first.lang == "fr"
    assert second.summary == "Le vrai résumé." and "Légende" not in second.body
    assert (third.image, third.image_width, third.image_alt) == ("https://s.example/3.jpg", 800, "La scène")
    assert third.summary == "Le texte."


def test_a_photo_credit_is_neither_text_nor_alt() -> None:
    feed = (
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>T</title><item>'
        "<title>Un titre</title><link>https://s.example/1</link><media:credit>AFP</media:credit>"
        '<media:content url="https://s.example/1.jpg" width="1800" height="1200" medium="image"/>'
        "</item></channel></rss>"
    )
    [article] = parse_source(feed.encode(), source="s", url="", day=date(2026, 1, 1), tz=UTC).articles
    assert (article.summary, article.body, article.image_alt) == ("", "", "")
    assert (article.image_width, article.image_height) == (1800, 1200)


def test_a_declared_language_that_the_text_contradicts_is_dropped() -> None:
    feed = MEDIA_FEED.replace("Premier titre", "عنوان الخبر الأول").replace("fr-FR", "en")
    parsed = parse_source(feed.encode(), source="s", url="https://s.example/rss", day=date(2026, 1, 1), tz=UTC)
    assert parsed.articles[0].lang is None and parsed.articles[1].lang == "en"


def test_titles_keep_their_words_apart() -> None:
    assert plain_text("Un<br>deux<p>trois</p>") == "Un deux trois"
    assert plain_text("<b>Gras</b>, et <i>italique</i>.") == "Gras, et italique."
