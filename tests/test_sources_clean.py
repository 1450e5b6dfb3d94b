"""Cleaning: titles, summaries, URLs and dates as sources give them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from digest.sources.clean import absolute_url, canonical_url, parse_date, title_key
from digest.sources.text import clean_summary, clean_title

CASABLANCA = ZoneInfo("Africa/Casablanca")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Le Maroc &amp; l&#8217;Espagne", "Le Maroc & l’Espagne"),
        ("Twice &amp;#8220;escaped&amp;#8221;", "Twice “escaped”"),
        ("<b>Gras</b> et <i>italique</i>", "Gras et italique"),
        ("Ligne un\r\nligne\tdeux\x00\x07", "Ligne un ligne deux"),
        ("  espaces   multiples  ", "espaces multiples"),
        ("Zéro\u200blargeur\u00ad", "Zéro largeur"),
        ("a < b > c", "a < b > c"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;Titre", "Titre"),
    ],
)
def test_titles_are_one_line_of_plain_text(raw: str, expected: str) -> None:
    assert clean_title(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<p>Le texte.</p><p>Lire la suite &raquo;</p>", "Le texte."),
        ("Le texte [&#8230;]", "Le texte…"),
        ("Le texte... Lire la suite...", "Le texte…"),
        ('Texte. <a href="/x">Read more →</a>', "Texte."),
        ("Le texte. (lire la suite)", "Le texte."),
        ("نص الخبر. اقرأ المزيد", "نص الخبر."),
        ("Le texte. L’article Titre est apparu en premier sur Le Site.", "Le texte."),
        ("The text. The post Title appeared first on The Site.", "The text."),
        ("Une suite d’idées sans fin de lien.", "Une suite d’idées sans fin de lien."),
    ],
)
def test_summaries_lose_read_more_tails(raw: str, expected: str) -> None:
    assert clean_summary(raw) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Site.EXAMPLE/a?utm_source=rss&utm_medium=feed", "https://site.example/a"),
        ("https://site.example/a?id=3&fbclid=x&b=2#comments", "https://site.example/a?b=2&id=3"),
        ("http://site.example:80/a?xtor=RSS-1", "http://site.example/a"),
        ("https://site.example:8443/a", "https://site.example:8443/a"),
        ("https://site.example", "https://site.example/"),
        ("https://site.example/طقس/1", "https://site.example/%D8%B7%D9%82%D8%B3/1"),
    ],
)
def test_canonical_urls_drop_tracking_and_fragment(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_links_are_absolute_http_urls_only() -> None:
    assert absolute_url("/a/b", "https://site.example/feed/") == "https://site.example/a/b"
    assert absolute_url(" https://site.example/x\n", "") == "https://site.example/x"
    assert absolute_url("javascript:alert(1)", "https://site.example/") is None
    assert absolute_url("data:text/html,hi", "") is None
    assert absolute_url("mailto:a@b.example", "") is None
    assert absolute_url("", "https://site.example/") is None
    assert absolute_url("http://[broken/x", "") is None
    assert absolute_url("http://site.example:port/x", "") is None
    assert canonical_url("http://[broken/x") == "http://[broken/x"


def test_title_keys_ignore_case_accents_apostrophes_and_punctuation() -> None:
    assert title_key("L’Équipe gagne !") == title_key("l'equipe   GAGNE")
    assert title_key("« 8 millions » de conteneurs") == title_key('"8 millions" de conteneurs')
    assert title_key("أمطارٌ غزيرةٌ!") == title_key("أمطار غزيرة")
    assert title_key("Le Maroc gagne") != title_key("Le Maroc perd")


def test_dates_are_aware_and_naive_ones_are_local() -> None:
    assert parse_date("Thu, 27 Nov 2025 18:35:00 +0100", CASABLANCA) == datetime(2025, 11, 27, 17, 35, tzinfo=UTC)
    assert parse_date("2025-11-27T10:05:00Z", CASABLANCA) == datetime(2025, 11, 27, 10, 5, tzinfo=UTC)
    local = parse_date("2025-11-27T23:30:00", CASABLANCA)
    assert local is not None and local.utcoffset() == timedelta(hours=1)
    gmt = parse_date("Thu, 27 Nov 2025 18:35:00 GMT", CASABLANCA)
    assert gmt is not None and gmt.utcoffset() == timedelta(0)
    assert parse_date("2025-11-27T09:00:00+05:30", CASABLANCA) == datetime(
        2025, 11, 27, 9, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    assert parse_date("hier soir", CASABLANCA) is None
    assert parse_date("", CASABLANCA) is None
