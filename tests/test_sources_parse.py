"""Parsing is pure: bytes, source name, day and time zone in; articles (or a clear SourceError) out."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digest.content import Article
from digest.errors import SourceError
from digest.settings import SAMPLE_FEED
from digest.sources import parse_source
from digest.sources.parse import sniff

DATA = Path(__file__).parent / "data" / "sources"
DAY = date(2025, 11, 27)
CASABLANCA = ZoneInfo("Africa/Casablanca")


def parse(name: str, url: str = "https://site.example/feed", **kwargs: object) -> tuple[list[Article], list[str]]:
    parsed = parse_source((DATA / name).read_bytes(), source=name, url=url, day=DAY, tz=CASABLANCA, **kwargs)  # type: ignore[arg-type]
    return list(parsed.articles), list(parsed.warnings)


def by_title(articles: list[Article], start: str) -> Article:
    return next(a for a in articles if a.title.startswith(start))


def test_rss2_reads_media_images_content_categories_and_authors() -> None:
    articles, warnings = parse("rss2_media.xml", "https://atlas-info.example/feed/")
    port = by_title(articles, "Port de Tanger Med")
    assert port.title == "Port de Tanger Med : un trafic record de “8 millions” de conteneurs"
    assert port.image == "https://cdn.atlas-info.example/2025/11/tanger-med-large.jpg"  # the widest media:content
    assert port.categories == ("Économie", "Logistique") and port.section == "Économie"
    assert port.author == "Salma Idrissi"
    assert port.canonical_url == "https://atlas-info.example/economie/tanger-med-record"
    assert port.body.count("\n\n") == 3 and "pixel" not in port.body
    assert port.summary == "Le complexe portuaire franchit un cap historique cette année."
    assert port.source == "Atlas Info & Économie"
    masi = by_title(articles, "Bourse")
    assert masi.image == "https://cdn.atlas-info.example/2025/11/masi.png"  # an image enclosure
    assert masi.summary.endswith("0,8 %…")
    ocp = by_title(articles, "Phosphates")
    assert ocp.image == "https://cdn.atlas-info.example/2025/11/ocp-thumb.jpg"  # media:thumbnail
    assert by_title(articles, "Tourisme").section is None  # "Uncategorized" is no section
    inflation = by_title(articles, "Inflation")
    assert inflation.url == "https://atlas-info.example/economie/hcp-inflation-2026"  # relative link resolved
    assert inflation.published is None  # undated: the feed's own date is not the item's
    assert not any(a.url.startswith("javascript") for a in articles)
    assert warnings == [
        "item 7 (Cliquez ici pour gagner) has no http(s) link: left out",
        "item 8 (https://atlas-info.example/sans-titre) has no title: left out",
    ]


def test_atom_reads_xhtml_content_relative_links_and_labels() -> None:
    articles, warnings = parse("atom_xhtml.xml", "https://sport-maroc.example/atom.xml")
    assert warnings == []
    lions = articles[0]
    assert lions.title == "Les Lions de l’Atlas qualifiés pour la finale"
    assert lions.url == "https://sport-maroc.example/football/lions-atlas-finale"
    assert lions.image == "https://sport-maroc.example/media/lions-finale.jpg"  # the first <img> of the content
    assert lions.body.startswith("Les Lions de l’Atlas se sont qualifiés")
    assert lions.section == "Football" and lions.author == "Youssef Amrani"
    assert lions.published == datetime(2025, 11, 27, 21, 15, tzinfo=CASABLANCA)
    record = articles[1]
    assert record.published is not None and record.published.utcoffset() == timedelta(0)  # only <updated>
    assert record.summary == "La jeune athlète a amélioré le record de près d’une seconde."


def test_rss1_reads_dublin_core_and_local_naive_dates() -> None:
    articles, _ = parse("rss1.rdf", "https://culture.example/rss")
    assert [a.section for a in articles] == ["Musique", "Livres", None]
    assert articles[0].summary == "Musiques sacrées du monde : trente concerts en neuf jours."
    assert articles[0].author == "Nadia Berrada"
    assert articles[1].published == datetime(2025, 11, 27, 23, 30, tzinfo=CASABLANCA)


def test_arabic_feed_in_windows_1256() -> None:
    articles, _ = parse("arabic_cp1256.xml", "https://akhbar.example/rss")
    assert articles[0].title == "الرباط تحتضن المنتدى الإفريقي للطاقات المتجددة"
    assert articles[0].summary == "يشارك في المنتدى أكثر من ألف خبير من ثلاثين دولة."
    assert articles[0].section == "اقتصاد"
    assert articles[1].url == "https://akhbar.example/%D8%B7%D9%82%D8%B3/1002"  # IRI percent-encoded


def test_page_snapshot_headlines_are_local_times_of_the_day_and_boilerplate_is_dropped() -> None:
    articles, warnings = parse("seed_page.txt", "https://www.lequotidien.example/")
    assert warnings == []
    assert len(articles) == 10
    first = articles[0]
    assert first.title.startswith("Trafic de gasoil")
    assert first.published == datetime(2025, 11, 27, 18, 35, tzinfo=CASABLANCA)
    assert (
        first.url
        == "https://www.lequotidien.example/#trafic-de-gasoil-les-douanes-sur-la-piste-d-un-reseau-structure-operant-dans-les"
    )
    assert len({a.canonical_url for a in articles}) == 10
    article = articles[-1]
    assert article.title == "Net-Pharma Hub projette un écosystème pharmaceutique novateur au Maroc"
    assert article.body.count("\n\n") == 7
    assert "Suivez-nous" not in article.body and "Commentaires" not in article.body
    assert article.published == first.published  # the page's time: its newest headline


def test_page_snapshot_date_comes_from_the_day_passed_in() -> None:
    data = "- 23:50Dernière minute\n- 25:00Heure impossible\nTitre de l’article\nUn paragraphe.\n".encode()
    parsed = parse_source(data, source="page", url="https://p.example/", day=date(2026, 1, 5), tz=CASABLANCA)
    assert parsed.articles[0].published == datetime(2026, 1, 5, 23, 50, tzinfo=CASABLANCA)
    assert parsed.warnings == ("line 2: not a headline (bad time or no title): - 25:00Heure impossible",)
    assert parsed.articles[1].title == "Titre de l’article"


def test_html_article_page_from_json_ld_opengraph_and_main_text() -> None:
    url = "https://www.lequotidien.example/environnement/dessalement-casablanca?utm_source=share"
    articles, warnings = parse("article.html", url)
    assert warnings == []
    [article] = articles
    assert article.title == "Eau : la station de dessalement de Casablanca entre en service"
    assert article.url == "https://www.lequotidien.example/environnement/dessalement-casablanca"  # rel=canonical
    assert article.published == datetime(2025, 11, 27, 9, 15, tzinfo=CASABLANCA)  # JSON-LD datePublished
    assert article.image == "https://www.lequotidien.example/images/dessalement-1200.jpg"
    assert article.section == "Environnement" and article.author == "Karim El Fassi"
    assert article.source == "Le Quotidien"
    assert article.body.startswith("La station de dessalement")  # no headline, byline or navigation
    assert "Suivez-nous" not in article.body and "Accueil" not in article.body
    assert article.summary == "La plus grande usine de dessalement d’Afrique livre ses premiers mètres cubes."
    assert article.lang == "fr"  # <html lang="fr">


@pytest.mark.parametrize(
    ("name", "url", "message"),
    [
        ("image.png", "https://s.example/feed", "image.png: binary data (a PNG image), not a feed or a page"),
        ("notes.txt", "https://s.example/notes", "not a feed, an HTML page or a page snapshot (it starts with"),
        (
            "home.html",
            "https://s.example/",
            "HTML page without an article (no article metadata, little main text); "
            "it announces a feed, use it instead: https://s.example/rss",
        ),
        ("home.html", "https://s.example/rss", "expected a feed but got an HTML page titled 'Le Quotidien - Accueil'"),
    ],
)
def test_garbage_gets_a_clear_message(name: str, url: str, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(name, url)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{name}: ")


def test_truncated_xml_keeps_what_was_read_with_a_warning() -> None:
    articles, warnings = parse("truncated.xml")
    assert [a.title[:18] for a in articles] == ["Port de Tanger Med"]
    assert warnings == ["the feed is cut short (unclosed CDATA section at line 19): kept the 1 item(s) before"]


def test_wrong_declared_encoding_is_read_with_a_warning() -> None:
    articles, warnings = parse("wrong_encoding.xml")
    assert articles[0].title == "Résultats du jour"
    assert warnings == ["the declared encoding is wrong: read as Windows-1252"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n ", "empty"),
        (b"%PDF-1.7 ...", "a PDF document"),
        (b"\x00\x01\x02garbage", "binary data, not a feed or a page"),
        (b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title><item><titl", "broken feed"),
        (b"<?xml version='1.0'?><html-ish>no</html-ish>", "not a feed"),
    ],
)
def test_bytes_that_are_nothing_we_read(data: bytes, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_source(data, source="src", url="https://s.example/x", day=DAY, tz=CASABLANCA)
    assert message in caught.value.reason


def test_sniffing_picks_the_parser() -> None:
    assert sniff(b"\xef\xbb\xbf<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'/>", source="s") == "feed"
    assert sniff(b"<!DOCTYPE html><html><head></head></html>", source="s") == "html"
    assert sniff(b"- 10:00Titre\n", source="s") == "snapshot"


def test_sample_feed_still_gives_the_demo_day() -> None:
    parsed = parse_source(SAMPLE_FEED.read_bytes(), source="sample", url=SAMPLE_FEED.as_uri(), day=DAY, tz=CASABLANCA)
    days = {a.published.astimezone(CASABLANCA).date() for a in parsed.articles if a.published}
    assert DAY in days


def test_the_package_face_exports_what_it_lists() -> None:
    import digest.sources

    assert all(getattr(digest.sources, name, None) is not None for name in digest.sources.__all__)


FIXTURES = sorted(p.name for p in DATA.iterdir())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(FIXTURES),
    cut=st.integers(min_value=0, max_value=6000),
    noise=st.binary(max_size=64),
    at=st.integers(min_value=0, max_value=6000),
)
@example(name="arabic_cp1256.xml", cut=45, noise=b"\x80", at=30)  # a byte feedparser could not decode
def test_damaged_sources_give_articles_or_a_source_error_never_a_crash(
    name: str, cut: int, noise: bytes, at: int
) -> None:
    data = (DATA / name).read_bytes()[:cut]
    data = data[:at] + noise + data[at:]
    try:
        parsed = parse_source(data, source=name, url="https://s.example/x", day=DAY, tz=CASABLANCA)
    except SourceError as err:
        assert err.source == name and err.reason
        return
    for article in parsed.articles:
        assert article.title and "\n" not in article.title
        assert article.url.startswith("https://")
        assert article.published is None or article.published.utcoffset() is not None
