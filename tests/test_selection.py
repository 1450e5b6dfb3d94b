"""Selection: a pure function of articles, edition window, rules and editor choices."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.content import Article, Selection
from digest.errors import EditionError
from digest.selection import EditorChoices, SelectionRules, calendar_window, select, summarize
from digest.sources.clean import canonical_url

DAY = date(2025, 11, 27)
CASABLANCA = ZoneInfo("Africa/Casablanca")
BODY = "Un paragraphe complet. " * 40


def art(slug: str, hour: float = 12, *, title: str | None = None, **fields: object) -> Article:
    url = str(fields.pop("url", f"https://news.example/{slug}"))
    published = fields.pop("published", datetime(2025, 11, 27, tzinfo=CASABLANCA) + timedelta(hours=hour))
    return Article(
        url=url,
        title=title or f"Titre {slug}un {slug}deux {slug}trois",
        source=str(fields.pop("source", "Le Quotidien")),
        published=published,  # type: ignore[arg-type]
        canonical_url=canonical_url(url),
        **fields,  # type: ignore[arg-type]
    )


def sel(
    items: list[Article],
    *,
    day: date = DAY,
    tz: ZoneInfo = CASABLANCA,
    rules: SelectionRules | None = None,
    choices: EditorChoices | None = None,
) -> Selection:
    """The selection of the calendar day ``day`` in ``tz``."""
    return select(items, window=calendar_window(day, tz), rules=rules, choices=choices)


def urls(selection: Selection) -> list[str]:
    return [p.article.url for p in selection.headlines]


def reasons(selection: Selection) -> dict[str, str]:
    return {s.url: s.reason for s in selection.skipped}


def test_an_item_at_2330_utc_belongs_to_the_next_local_day_in_utc_plus_1() -> None:
    late = art("late", published=datetime(2025, 11, 26, 23, 30, tzinfo=UTC))
    before = art("before", published=datetime(2025, 11, 26, 22, 59, tzinfo=UTC))
    last = art("last", published=datetime(2025, 11, 27, 22, 59, 59, tzinfo=UTC))
    after = art("after", published=datetime(2025, 11, 27, 23, 0, tzinfo=UTC))
    selection = sel([late, before, last, after], day=DAY, tz=CASABLANCA)
    kept = {p.article.url for p in selection.headlines} | {selection.featured.article.url if selection.featured else ""}
    assert kept == {late.url, last.url}
    assert reasons(selection)[before.url] == "outside the window (published 2025-11-26 23:59 local)"
    assert reasons(selection)[after.url] == "outside the window (published 2025-11-28 00:00 local)"
    # The same items in UTC: the day moves by one hour.
    in_utc = sel([late, before, last, after], day=DAY, tz=UTC)
    assert {p.article.url for p in in_utc.headlines} | {in_utc.featured.article.url if in_utc.featured else ""} == {
        last.url,
        after.url,
    }


def test_a_daylight_saving_day_is_23_hours() -> None:
    paris = ZoneInfo("Europe/Paris")
    start, end = calendar_window(date(2025, 3, 30), paris)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


def test_published_times_are_shown_in_the_publication_time_zone() -> None:
    selection = sel([art("a", published=datetime(2025, 11, 27, 9, 0, tzinfo=UTC))], day=DAY, tz=CASABLANCA)
    assert selection.featured is not None
    assert selection.featured.article.published is not None
    assert selection.featured.article.published.isoformat() == "2025-11-27T10:00:00+01:00"


def test_duplicates_by_link_guid_and_title_keep_the_richer_one() -> None:
    plain = art("x", url="https://news.example/x?utm_source=rss")
    rich = art("x2", url="https://news.example/x#top", body=BODY, image="https://img.example/x.jpg")
    guid_a = art("g1", guid="42", title="Un titre de plus ici")
    guid_b = art("g2", guid="42", title="Un titre différent là")
    other_source = art("g3", guid="42", source="Autre site", title="Encore un autre titre")
    title_a = art("t1", title="L’équipe nationale gagne la finale")
    title_b = art("t2", title="L'EQUIPE NATIONALE gagne la finale !", source="Autre site")
    short_a = art("s1", title="Éditorial")
    short_b = art("s2", title="Editorial", source="Autre site")
    selection = sel(
        [plain, rich, guid_a, guid_b, other_source, title_a, title_b, short_a, short_b], day=DAY, tz=CASABLANCA
    )
    skipped = reasons(selection)
    assert skipped[plain.url] == f"same story as {rich.url} (shown once)"
    assert skipped[guid_b.url] == f"same story as {guid_a.url} (shown once)"
    assert skipped[title_b.url] == f"same story as {title_a.url} (shown once)"
    assert set(skipped) == {plain.url, guid_b.url, title_b.url}  # a guid is per source; short titles are generic


def test_duplicates_linked_through_a_third_article_collapse_into_one() -> None:
    a = art("a", title="Premier titre assez long", guid="1")
    b = art("b", title="Deuxième titre assez long", guid="2")
    bridge = art("a", title="Deuxième titre assez long", url="https://news.example/a?utm_medium=x")
    selection = sel([a, b, bridge], day=DAY, tz=CASABLANCA)
    assert len(selection.headlines) + (selection.featured is not None) == 1
    assert len(selection.skipped) == 2


def test_copies_met_after_two_groups_merged_name_the_kept_copy() -> None:
    a = art("a", title="Premier titre assez long")
    b = art("b", title="Deuxième titre assez long")
    bridge = art("a", title="Deuxième titre assez long", url="https://news.example/a?utm_medium=x")
    late = art("b", title="Un tout autre titre ici", url="https://news.example/b#late", body=BODY)
    selection = sel([a, b, bridge, late], day=DAY, tz=CASABLANCA)
    assert selection.featured is not None and selection.featured.article.url == late.url  # the richest copy
    assert selection.headlines == ()
    assert {s.reason.split(" (")[0] for s in selection.skipped} == {f"same story as {late.url}"}
    assert len(selection.skipped) == 3


def test_the_editor_pins_by_any_form_of_the_link_even_outside_the_day() -> None:
    yesterday = art("big-story", published=datetime(2025, 11, 26, 10, tzinfo=CASABLANCA))
    rich = art("rich", body=BODY, image="https://img.example/r.jpg")
    choices = EditorChoices(featured="https://NEWS.example/big-story?utm_campaign=x#top")
    selection = sel([yesterday, rich], day=DAY, tz=CASABLANCA, choices=choices)
    assert selection.featured is not None
    assert selection.featured.article.url == yesterday.url
    assert selection.featured.reason == "pinned by the editor"
    assert urls(selection) == [rich.url]
    assert selection.notes == ("the pinned featured article is from 2025-11-26",)


def test_a_pin_no_source_has_or_also_excluded_is_an_error() -> None:
    with pytest.raises(EditionError, match=r"in none of the sources: https://news\.example/typo"):
        sel([art("a")], day=DAY, tz=CASABLANCA, choices=EditorChoices(featured="https://news.example/typo"))
    a = art("a")
    both = EditorChoices(featured=a.url, exclude=frozenset({a.url}))
    with pytest.raises(EditionError, match="also excluded"):
        sel([a], day=DAY, tz=CASABLANCA, choices=both)


def test_excluded_and_undated_items_are_skipped_with_their_reason() -> None:
    excluded = art("ex")
    undated = art("undated", published=None)
    choices = EditorChoices(exclude=frozenset({"https://news.example/ex?utm_source=newsletter"}))
    selection = sel([excluded, undated, art("kept")], day=DAY, tz=CASABLANCA, choices=choices)
    assert reasons(selection) == {
        excluded.url: "excluded by the editor",
        undated.url: "no date (its source dates its other items)",
    }
    assert selection.notes == ()
    typo = sel([excluded], day=DAY, tz=CASABLANCA, choices=EditorChoices(exclude=frozenset({"https://x.example/"})))
    assert typo.notes == ("the excluded URL matches no article of the sources: https://x.example/",)


def test_headlines_most_recent_first_capped_and_per_section() -> None:
    items = [art(f"eco{n}", n, section="Économie") for n in range(5)] + [
        art(f"sport{n}", 10 + n, section="Sport") for n in range(3)
    ]
    items += [art(f"none{n}", 20 + n) for n in range(3)]  # no section: only the overall cap applies
    featured = art("featured", 1, body=BODY, image="https://img.example/f.jpg", section="Économie")
    rules = SelectionRules(headlines_max=6, section_max=2, headline_order="time")
    selection = sel([*items, featured], day=DAY, tz=CASABLANCA, rules=rules)
    assert [p.article.url.rsplit("/", 1)[1] for p in selection.headlines] == [
        "none2", "none1", "none0", "sport2", "sport1", "eco4",
    ]  # fmt: skip
    skipped = reasons(selection)
    assert skipped["https://news.example/sport0"] == "over the cap of 2 headlines in section Sport"
    assert skipped["https://news.example/eco3"].startswith("over the cap of 6 headlines (score ")
    assert selection.headlines[0].reason.startswith("headline 1 of 6, most recent first; score ")


def test_headlines_grouped_by_section_in_the_stated_order() -> None:
    items = [
        art("s1", 9, section="Sport"),
        art("e1", 8, section="économie"),
        art("c1", 7, section="Culture"),
        art("e2", 6, section="Économie"),
        art("none", 5),
    ]
    rules = SelectionRules(group_by_section=True, sections=("Économie", "Sport", "Culture"))
    selection = sel([*items, art("f", 1, body=BODY)], day=DAY, tz=CASABLANCA, rules=rules)
    assert [p.article.url.rsplit("/", 1)[1] for p in selection.headlines] == ["e1", "e2", "s1", "c1", "none"]
    assert selection.headlines[0].reason.startswith("headline 1 of 5, grouped by section, by importance; score ")


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Court.", 300, "Court."),
        ("Une phrase. Une autre phrase. Une troisième phrase bien plus longue.", 40, "Une phrase. Une autre phrase."),
        (
            "M. Benyaich a parlé. Elle a salué la vision. Puis elle est partie.",
            45,
            "M. Benyaich a parlé. Elle a salué la vision.",
        ),
        ("Premier long " + "mot " * 10 + "fin. Suite.", 40, "Premier long " + "mot " * 10 + "fin."),
        ("Sans aucune ponctuation " * 20, 50, "Sans aucune ponctuation Sans aucune ponctuation…"),
        (
            "Bref. Une seconde phrase qui dépasse un peu la limite. Fin.",
            40,
            "Bref. Une seconde phrase qui dépasse un peu la limite.",
        ),
        ("جملة أولى قصيرة. جملة ثانية أطول من الأولى بكثير جدا جدا.", 30, "جملة أولى قصيرة."),
    ],
)
def test_summary_is_the_lede_cut_at_a_sentence_end(text: str, limit: int, expected: str) -> None:
    assert summarize(text, limit) == expected


def test_featured_summary_is_the_lede_of_the_body() -> None:
    body = "Le premier paragraphe dit l’essentiel. " * 5 + "\n\nLe second paragraphe développe. " * 10
    selection = sel([art("a", body=body, summary="Accroche du flux.")], day=DAY, tz=CASABLANCA)
    assert selection.featured_summary.startswith("Le premier paragraphe dit l’essentiel.")
    assert len(selection.featured_summary) <= 300 and selection.featured_summary.endswith(".")


# Property tests: any articles, any time zone, any caps.

ZONES = [
    ZoneInfo(name)
    for name in ("Africa/Casablanca", "UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati", "Etc/GMT+12")
]
SLUGS = ["a", "b", "c", "d", "e", "f", "g", "h"]
TRACKING = ["", "?utm_source=rss", "#comments", "?fbclid=1&utm_medium=x"]
TITLES = [
    "Le Maroc gagne la finale",
    "Le maroc gagne la finale !",
    "Éditorial",
    "Pluie sur Rabat ce soir",
    "Un autre titre ici",
]


@st.composite
def articles(draw: st.DrawFn) -> Article:
    slug = draw(st.sampled_from(SLUGS))
    url = f"https://{draw(st.sampled_from(['news.example', 'NEWS.example', 'other.example']))}/{slug}"
    url += draw(st.sampled_from(TRACKING))
    offset = draw(st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60))
    published = draw(st.one_of(st.none(), st.just(datetime(2025, 11, 27, tzinfo=UTC) + timedelta(minutes=offset))))
    return Article(
        url=url,
        title=draw(st.sampled_from(TITLES)) + draw(st.sampled_from(["", f" {slug}"])),
        source=draw(st.sampled_from(["A", "B"])),
        published=published,
        section=draw(st.sampled_from([None, "Sport", "Économie", "sport"])),
        body=draw(st.sampled_from(["", "Court.", BODY])),
        summary=draw(st.sampled_from(["", "Résumé."])),
        image=draw(st.sampled_from([None, "https://img.example/i.jpg"])),
        guid=draw(st.sampled_from([None, "1", "2"])),
        canonical_url=canonical_url(url),
    )


rules_strategy = st.builds(
    SelectionRules,
    headlines_max=st.integers(min_value=1, max_value=12),
    section_max=st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
    group_by_section=st.booleans(),
    headline_order=st.sampled_from(["importance", "time"]),
)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(articles(), max_size=25),
    tz=st.sampled_from(ZONES),
    day=st.sampled_from([date(2025, 11, 26), date(2025, 11, 27), date(2025, 11, 28)]),
    rules=rules_strategy,
)
def test_selection_properties(items: list[Article], tz: ZoneInfo, day: date, rules: SelectionRules) -> None:
    selection = sel(items, day=day, tz=tz, rules=rules)
    picks = ([selection.featured] if selection.featured else []) + list(selection.headlines)
    # Never two items with the same canonical URL.
    assert len({canonical_url(p.article.url) for p in picks}) == len(picks)
    # Never over its caps.
    assert len(selection.headlines) <= rules.headlines_max
    if rules.section_max is not None:
        per_section = Counter(p.article.section.casefold() for p in selection.headlines if p.article.section)
        assert max(per_section.values(), default=0) <= rules.section_max
    # Only items of the day in the given time zone.
    start, end = calendar_window(day, tz)
    dated_sources = {a.source for a in items if a.published is not None}
    for pick in picks:
        published = pick.article.published
        # Undated items only from a source that dates nothing.
        assert (published is not None and start <= published < end) or (
            published is None and pick.article.source not in dated_sources
        )
        assert pick.reason
    # Every item is either picked or skipped with a reason.
    assert len(picks) + len(selection.skipped) == len(items)
    assert all(skip.reason for skip in selection.skipped)
    # The featured article is never repeated among the headlines.
    if selection.featured:
        assert selection.featured.article.canonical_url not in {p.article.canonical_url for p in selection.headlines}
    # Deterministic for the same input.
    assert sel(list(items), day=day, tz=tz, rules=rules) == selection


def test_tfidf_weighs_as_scikit_learn_does_and_leaves_common_words_out() -> None:
    import math

    from digest.selection.stories import _tfidf

    documents = [["maroc", "maroc", "pluie"], ["maroc", "espagne"], ["pluie"], []]
    vectors = _tfidf(documents, max_df=1.0)
    assert vectors is not None
    matrix, idf = vectors
    # Smoothed idf: ln((1 + n) / (1 + df)) + 1, n = 4 documents.
    assert idf == pytest.approx(
        {"espagne": math.log(5 / 2) + 1, "maroc": math.log(5 / 3) + 1, "pluie": math.log(5 / 3) + 1}
    )
    rows = matrix.toarray()
    # Sublinear tf (1 + ln 2 for "maroc" twice), each row of unit length; the empty document stays zero.
    first = [0.0, (1 + math.log(2)) * idf["maroc"], idf["pluie"]]
    norm = math.sqrt(sum(value * value for value in first))
    assert rows[0].tolist() == pytest.approx([value / norm for value in first])
    assert [round(sum(v * v for v in row), 9) for row in rows.tolist()] == [1.0, 1.0, 1.0, 0.0]
    # A word in more than max_df of the documents tells nothing apart: left out; none left -> None.
    _, common = _tfidf(documents, max_df=0.4) or (None, {})
    assert set(common) == {"espagne"}
    assert _tfidf([["a"], ["a"]], max_df=0.4) is None
