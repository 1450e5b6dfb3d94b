"""Each editorial rule of the selection, pinned on a small hand-made feed (one test per rule)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.content import Article, Selection
from digest.selection import EditorChoices, SelectionRules, calendar_window, select
from digest.selection.language import fold, words
from digest.selection.ranking import time_ordered
from digest.selection.rules import junk_reason, kind_of, severity
from digest.selection.stories import StoryInput, cluster
from digest.sources.clean import canonical_url
from digest.sources.feed import parse_feed

DAY = date(2025, 11, 27)
PARIS = ZoneInfo("Europe/Paris")
WINDOW = calendar_window(DAY, PARIS)
FR = SelectionRules(language="fr")
# Hours that do not run in order: an editorially ordered (front-page) feed.
SHUFFLED = [9, 14, 8, 16, 11, 10, 15, 12]


def item(slug: str, title: str, hour: float = 12, **fields: object) -> Article:
    url = str(fields.pop("url", f"https://journal.example/actualite/{slug}"))
    published = fields.pop("published", datetime(2025, 11, 27, tzinfo=PARIS) + timedelta(hours=hour))
    return Article(
        url=url,
        title=title,
        source=str(fields.pop("source", "Le Journal")),
        published=published,  # type: ignore[arg-type]
        canonical_url=canonical_url(url),
        summary=str(fields.pop("summary", "")),
        **fields,  # type: ignore[arg-type]
    )


FRENCH_TITLES = [
    "Le gouvernement présente son budget pour l'année prochaine",
    "Un nouveau tramway inauguré dans la banlieue de Lyon",
    "Les syndicats appellent à la grève dans les transports",
    "La Banque centrale relève ses taux directeurs",
    "Le tourisme progresse dans le sud du pays",
    "Le Parlement adopte la loi sur l'eau potable",
    "Les agriculteurs manifestent devant la préfecture",
    "La sécheresse menace les récoltes de blé",
]


def front_page(count: int = 6) -> list[Article]:
    return [item(f"n{n}", FRENCH_TITLES[n], SHUFFLED[n]) for n in range(count)]


def shown(selection: Selection) -> list[str]:
    featured = [selection.featured.article.url] if selection.featured else []
    return featured + [pick.article.url for pick in selection.headlines]


def reason_of(selection: Selection, url: str) -> str:
    return next(s.reason for s in selection.skipped if s.url == url)


def test_an_editorially_ordered_feed_leads_with_its_first_item() -> None:
    selection = select(front_page(), window=WINDOW, rules=FR)
    assert selection.featured is not None
    assert selection.featured.article.url.endswith("/n0")  # first in the feed, not the newest (n3)
    assert "position 1 of 6 in an editorially ordered source" in selection.featured.reason
    assert [p.article.url[-2:] for p in selection.headlines] == ["n1", "n2", "n3", "n4", "n5"]


def test_a_time_ordered_feed_carries_no_position_signal_and_recency_breaks_the_tie() -> None:
    items = [item(f"t{n}", FRENCH_TITLES[n], 16 - n) for n in range(5)]  # newest first
    assert time_ordered([a.published for a in items])
    selection = select(items, window=WINDOW, rules=FR)
    assert selection.featured is not None and selection.featured.article.url.endswith("/t0")  # the newest
    assert "time-ordered source (no position signal)" in selection.featured.reason
    assert {p.score for p in selection.headlines} == {selection.featured.score}


def test_a_homepage_without_dates_or_with_one_time_keeps_its_order_as_signal() -> None:
    same_time = [item(f"h{n}", FRENCH_TITLES[n], 10) for n in range(4)]
    assert not time_ordered([a.published for a in same_time])
    selection = select(same_time[::-1], window=WINDOW, rules=FR)
    assert selection.featured is not None and selection.featured.article.url.endswith("/h3")  # first listed
    assert "position 1 of 4 in an editorially ordered source" in selection.featured.reason


def test_coverage_by_another_source_outranks_position() -> None:
    items = front_page()
    other = item(
        "greve",
        "Transports : les syndicats appellent à une grève générale",
        13,
        url="https://autre.example/greve",
        source="L'Autre Journal",
        summary="Les syndicats des transports appellent à la grève, les syndicats réclament des hausses.",
    )
    items[2] = item("n2", FRENCH_TITLES[2], 8, summary="Les syndicats des transports appellent à la grève.")
    selection = select([*items, other], window=WINDOW, rules=FR)
    assert selection.featured is not None
    assert selection.featured.article.url.endswith("/n2") or selection.featured.article.url == other.url
    assert "told by 2 sources" in selection.featured.reason
    assert [a.source for a in selection.featured.also] in (["L'Autre Journal"], ["Le Journal"])


@pytest.mark.parametrize(
    ("url", "title", "categories", "summary", "kind"),
    [
        ("https://j.example/live/2025/guerre", "En direct : la guerre au jour le jour", (), "", "live"),
        ("https://j.example/monde/x", "عاجل | غارات على جنوب لبنان", (), "", "live"),
        ("https://j.example/opinion/x", "Pourquoi il faut réformer l'école", (), "", "opinion"),
        ("https://j.example/commentisfree/x", "The speech was bad | Jane Doe", (), "", "opinion"),
        ("https://j.example/vox/x", "Un débat nécessaire", (), "TRIBUNE - Un texte de l'auteur.", "opinion"),
        ("https://j.example/monde/x", "10 things to know before you travel", (), "", "service"),
        ("https://j.example/jeux/quiz-du-jour", "Le quiz de l'actualité", (), "", "service"),
        ("https://j.example/x/horoscope-du-jour", "Votre horoscope du jour", (), "", "service"),
        ("https://j.example/podcasts/x", "Notre podcast sur la semaine", (), "", "service"),
        (
            "https://j.example/sciences/x",
            "Mémoire : comment la muscler",
            (),
            "NOS CONSEILS - Mieux connaître.",
            "service",
        ),
        ("https://j.example/politique/x", "Les Français et les retraites", (), "SONDAGE - Plus de 60 %.", "explainer"),
        ("https://j.example/culture/x", "Un nouveau film sur les écrans", (), "", "feature"),
        ("https://j.example/x", "Kara Doe: ‘One person can make a difference’", (), "", "feature"),
        ("https://j.example/video/x", "Les images de la tempête", (), "", "video"),
        ("https://j.example/chroniques-de-la-presidence/x", "Les adultes encadrent", (), "", "opinion"),
        ("https://j.example/jeux-olympiques-2024/x", "Une médaille de plus", (), "", "sport"),
        ("https://j.example/sport/x", "Le club gagne la finale", (), "", "sport"),
        ("https://j.example/monde/x", "Un avion s'écrase près de Moscou", (), "", "news"),
        ("https://j.example/monde/x", "WHO declares a global health emergency", (), "", "news"),
        ("https://j.example/monde/x", "Who is the new leader of the party?", (), "", "explainer"),
        ("https://j.example/monde/x", "Les élus votent le budget", ("Politique",), "", "news"),
    ],
)
def test_the_kind_of_piece_is_read_from_url_category_kicker_and_title(
    url: str, title: str, categories: tuple[str, ...], summary: str, kind: str
) -> None:
    article = Article(url=url, title=title, source="s", categories=categories, summary=summary)
    assert kind_of(article).name == kind


def test_hard_news_leads_over_features_opinion_and_service_pieces() -> None:
    items = [
        item("quiz", "Le grand quiz de la semaine", 9, url="https://journal.example/jeux/quiz"),
        item("tribune", "Il faut sauver le soldat Europe", 14, url="https://journal.example/idees/tribune"),
        item("liste", "10 choses à faire ce week-end", 8),
        item("news", "Un séisme de magnitude 6 frappe le sud du pays", 16),
    ]
    selection = select(items, window=WINDOW, rules=FR)
    assert selection.featured is not None and selection.featured.article.url.endswith("/news")
    assert [p.article.url.rsplit("/", 1)[1] for p in selection.headlines] == ["tribune", "quiz", "liste"]


def test_news_of_deaths_attacks_disasters_or_war_weighs_more() -> None:
    items = [item("budget", FRENCH_TITLES[0], 9), item("seisme", "Un séisme fait dix morts dans le sud", 8)]
    items += [item("rai", "غارات على جنوب لبنان", 10, url="https://journal.example/rai/x")]
    selection = select(items, window=WINDOW, rules=FR)
    assert selection.featured is not None and selection.featured.article.url.endswith("/seisme")
    assert "hard news in the title ×1.2" in selection.featured.reason


@pytest.mark.parametrize(
    ("title", "severe"),
    [
        ("Police now need a warrant for IP addresses, top court rules", True),
        ("Un homme condamné à vingt ans de prison", True),
        ("Teen planned attack at a concert", True),
        ("مقتل ثلاثة أشخاص في حادث سير", True),
        ("Stack Overflow to charge developers for access", False),
        ("Le festival ouvre ses portes", False),
    ],
)
def test_severity_reads_the_title_in_three_languages(title: str, severe: bool) -> None:
    assert (severity(item("s", title)) > 1) is severe


def test_section_weights_over_the_publishers_sections() -> None:
    items = [item(f"n{n}", FRENCH_TITLES[n], SHUFFLED[n], section="Sport" if n == 0 else "Économie") for n in range(4)]
    weighted = SelectionRules(language="fr", section_weights={"sport": 0.3, "ÉCONOMIE": 1.5})
    selection = select(items, window=WINDOW, rules=weighted)
    assert selection.featured is not None and selection.featured.article.section == "Économie"
    assert "section Économie ×1.5" in selection.featured.reason
    assert selection.headlines[-1].article.url.endswith("/n0")


def test_a_source_weight_set_by_the_publisher() -> None:
    ours = item("ours", FRENCH_TITLES[0], 9)
    theirs = item("theirs", FRENCH_TITLES[1], 10, url="https://agence.example/x", source="Agence")
    rules = SelectionRules(language="fr", source_weights={"Agence": 3})
    selection = select([ours, theirs], window=WINDOW, rules=rules)
    assert selection.featured is not None and selection.featured.article.url == theirs.url
    assert "source Agence ×3" in selection.featured.reason


def test_the_featured_pick_needs_a_real_image_when_a_top_candidate_has_one() -> None:
    items = front_page(4)
    items[1] = item("n1", FRENCH_TITLES[1], SHUFFLED[1], image="https://img.example/1.jpg", image_width=1200)
    items[0] = item("n0", FRENCH_TITLES[0], SHUFFLED[0], image="https://img.example/icon.png", image_width=64)
    selection = select(items, window=WINDOW, rules=FR)
    assert selection.featured is not None and selection.featured.article.url.endswith("/n1")
    assert "led over a better-scored story without a real image" in selection.featured.reason


def test_an_item_in_another_language_never_leads_and_comes_after() -> None:
    english = item("en", "Government unveils its budget for next year amid protests", 9)
    french = [item(f"n{n}", FRENCH_TITLES[n], SHUFFLED[n + 1]) for n in range(3)]
    selection = select([english, *french], window=WINDOW, rules=FR)
    assert selection.featured is not None and selection.featured.article.lang == "fr"
    assert selection.headlines[-1].article.url == english.url
    assert selection.headlines[-1].article.lang == "en"


def test_stories_cluster_across_sources_with_language_aware_words() -> None:
    assert fold("L’ÉTÉ à Montréal") == "l’ete a montreal"
    assert words("Les frappes d’Israël") == words("les frappes d'israel")
    assert words("الإسرائيليةُ") == words("الاسرائيلية") == words("الإسرائيلـية")
    items = [
        StoryInput(item("a", "Incendie à Lyon : l’entrepôt détruit", summary="Un entrepôt a brûlé à Vénissieux.")),
        StoryInput(
            item(
                "b",
                "Lyon : un entrepot detruit par un incendie",
                url="https://autre.example/b",
                source="Autre",
                summary="L'incendie d'un entrepot à Venissieux, près de Lyon.",
            )
        ),
        StoryInput(item("c", "Lyon : le club gagne la finale", summary="Le club de Lyon a gagné.")),
    ]
    assert cluster(items) == [[0, 1], [2]]


def test_two_stories_sharing_a_name_or_topic_word_stay_apart() -> None:
    items = [
        StoryInput(
            item(
                "a",
                "Open d'Australie : Arthur Cazaux élimine Holger Rune",
                summary="Le Français, 122e mondial, a battu le Danois en quatre sets.",
            )
        ),
        StoryInput(
            item(
                "b",
                "Open d'Australie : Clara Burel bat la numéro 5 mondiale",
                summary="La Française s'est qualifiée pour le troisième tour face à la Tchèque.",
            )
        ),
        StoryInput(item("c", "Apple sécurise la marque AirPower", summary="La marque est déposée.")),
        StoryInput(item("d", "L'AirPower apparaît sur le site d'Apple", summary="Une image cachée du chargeur.")),
    ]
    assert cluster(items) == [[0], [1], [2], [3]]


def test_the_richest_copy_is_shown_and_the_others_are_listed_in_also() -> None:
    poor = item("poor", FRENCH_TITLES[0], 9)
    rich = item("rich", FRENCH_TITLES[0], 10, url="https://autre.example/rich", source="Autre", body="Texte. " * 100)
    selection = select([poor, rich], window=WINDOW, rules=FR)
    assert selection.featured is not None and selection.featured.article.url == rich.url
    assert [a.url for a in selection.featured.also] == [poor.url]
    assert reason_of(selection, poor.url) == f"same story as {rich.url} (shown once)"


def test_the_cap_keeps_the_most_important_then_orders_by_time_with_feed_order_on_ties() -> None:
    items = front_page(8)
    items[6] = item("n6", FRENCH_TITLES[6], SHUFFLED[7])  # same time as n7
    rules = SelectionRules(language="fr", headlines_max=4, headline_order="time")
    selection = select(items, window=WINDOW, rules=rules)
    kept = [p.article.url[-2:] for p in selection.headlines]
    assert sorted(kept) == ["n1", "n2", "n3", "n4"]  # the most important four after the featured n0
    assert kept == ["n3", "n1", "n4", "n2"]  # then newest first
    assert reason_of(selection, items[7].url).startswith("over the cap of 4 headlines")
    tied = [item("x", FRENCH_TITLES[0], 20), item("a", FRENCH_TITLES[1], 9), item("b", FRENCH_TITLES[2], 9)]
    by_time = select(tied, window=WINDOW, rules=SelectionRules(language="fr", headline_order="time"))
    assert [p.article.url[-1] for p in by_time.headlines] == ["a", "b"]  # equal times keep feed order


def test_junk_never_reaches_readers_and_says_why() -> None:
    junk = [
        item("s1", "[Sponsor] Timing — Automatic Time Tracking for Mac"),
        item("s2", "Sponsored: The best credit card of the year"),
        item("s3", "Publicité : découvrez notre nouvelle offre"),
        item("s4", "Contenu partenaire - Voyager autrement"),
        item("s5", "Promos : prix en baisse sur des iPhone XR"),
        item("s6", "Download now"),
        item("s7", "Les meilleurs bons plans du jour", url="https://journal.example/bons-plans/x"),
        item("s8", "How To Pay Off Your House ASAP", url="https://feedads.g.doubleclick.net/~a/x"),
        item("s9", "محتوى مدعوم: عروض رمضان"),
        item("s10", "Squarespace Domains", summary="Try Squarespace for free. Get 10% off with offer code DARING."),
        item("s11", "Timing for Mac", url="https://timingapp.example/df"),
        item("s14", "The 12 best air fryers to buy right now"),
        item("s15", "Join our WhatsApp channel for breaking news"),
        item("s16", "Concours : gagnez deux places pour le festival"),
        item("s13", "Thursday Briefing: Protesters Gather", url="https://journal.example/2024/08/08/briefing/x.html"),
    ]
    junk.append(item("s12", "[Sponsor] Timing: track your time", url="https://timingapp.example/df"))
    selection = select([*junk, *front_page(2)], window=WINDOW, rules=FR)
    assert not any(url in shown(selection) for url in (a.url for a in junk))
    for article in junk:
        assert reason_of(selection, article.url).startswith("junk: "), article.title
    assert junk_reason(item("ok", "Partenariat stratégique entre deux universités")) is None
    assert junk_reason(item("ok2", "Concours de l'agrégation : les résultats publiés")) is None
    show = item("show", "The Talk Show: episode 195", summary="Sponsored by X: 10% off with promo code TALK.")
    assert junk_reason(show) is None  # a sponsor's read in a show's notes does not make the show an ad


def test_undated_items_are_not_of_the_day_unless_their_source_dates_nothing() -> None:
    rss = """<?xml version="1.0"?><rss version="2.0"><channel><title>Le Journal</title>
    <lastBuildDate>Thu, 27 Nov 2025 10:00:00 +0100</lastBuildDate>
    <item><title>How To Pay Off Your House ASAP</title><link>https://www.example/house</link></item>
    <item><title>Le budget adopté</title><link>https://journal.example/budget</link>
    <pubDate>Thu, 27 Nov 2025 09:00:00 +0100</pubDate></item></channel></rss>""".encode()
    articles = list(parse_feed(rss, source="journal", tz=PARIS).articles)
    assert articles[0].published is None  # the feed's date is not the item's
    selection = select(articles, window=WINDOW, rules=FR)
    assert shown(selection) == ["https://journal.example/budget"]
    assert reason_of(selection, "https://www.example/house") == "no date (its source dates its other items)"
    undated = [item(f"u{n}", FRENCH_TITLES[n + 6], source="Pages", published=None) for n in range(2)]
    mixed = select([*undated, *front_page(2)], window=WINDOW, rules=FR)
    assert shown(mixed)[2:] == [undated[0].url, undated[1].url]  # never ahead of dated items
    earlier = {undated[0].canonical_url: datetime(2025, 11, 26, 8, tzinfo=UTC)}
    again = select(undated, window=WINDOW, rules=FR, first_seen=earlier)
    assert shown(again) == [undated[1].url]  # seen in an earlier window: never repeated
    assert reason_of(again, undated[0].url) == "no date, first seen 2025-11-26 09:00"


def test_sections_that_are_not_sections_go_under_more() -> None:
    numeric = [item(f"v{n}", FRENCH_TITLES[n], SHUFFLED[n], section="677769436001") for n in range(3)]
    tags = [
        item(
            f"t{n}",
            FRENCH_TITLES[n + 3],
            SHUFFLED[n + 3],
            source="Tags",
            section=f"Sujet {n}",
            categories=(f"Sujet {n}", "A", "B"),
        )
        for n in range(5)
    ]
    selection = select([*numeric, *tags], window=WINDOW, rules=FR)
    assert {p.article.section for p in selection.headlines} == {None}
    listed = select(numeric, window=WINDOW, rules=SelectionRules(language="fr", sections=("Économie",)))
    assert {p.article.section for p in listed.headlines} == {None}


def test_a_pin_beats_the_ranking() -> None:
    items = front_page(4)
    selection = select(items, window=WINDOW, rules=FR, choices=EditorChoices(featured=items[3].url))
    assert selection.featured is not None and selection.featured.article.url == items[3].url
    assert selection.featured.reason == "pinned by the editor" and selection.featured.score is None


def test_the_window_is_any_span_of_aware_times() -> None:
    rolling = (datetime(2025, 11, 26, 18, tzinfo=PARIS), datetime(2025, 11, 27, 10, 30, tzinfo=PARIS))
    items = front_page(6)  # at 9, 14, 8, 16, 11, 10 o'clock
    selection = select(items, window=rolling, day=DAY, rules=FR)
    assert sorted(shown(selection)) == sorted(items[n].url for n in (0, 2, 5))
    assert selection.window == rolling and selection.day == DAY
    with pytest.raises(ValueError, match="timezone-aware"):
        select(items, window=(datetime(2025, 11, 27), datetime(2025, 11, 28)))
