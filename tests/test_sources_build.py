"""`digest build` over several sources: the JSON of DESIGN.md, broken sources, empty days."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.models import Edition
from digest.settings import SAMPLE_FEED
from digest.sources.state import first_seen
from tests.conftest import SAMPLE_DAY

DATA = Path(__file__).parent / "data" / "sources"


def sources(*names: str) -> list[str]:
    args = []
    for name in names:
        args += ["--source", str(DATA / name)]
    return args


def test_build_json_has_the_design_shape_with_reasons_for_every_skip(run_cli, engine: Engine) -> None:
    result = run_cli("build", "--date", SAMPLE_DAY, "--json", *sources("rss2_media.xml", "atom_xhtml.xml", "rss1.rdf"))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"date", "list", "kind", "window", "subject", "featured", "headlines", "skipped"}
    assert [datetime.fromisoformat(moment).utcoffset() for moment in data["window"]] == [timedelta(hours=1)] * 2
    assert data["date"] == SAMPLE_DAY and data["list"] == "quotidien" and data["subject"]
    picked = {"title", "url", "summary", "published", "lang", "section", "source", "reason", "score", "also"}
    assert set(data["featured"]) == picked | {"image", "image_width", "image_height"}
    assert data["featured"]["title"].startswith("Port de Tanger Med")
    for headline in data["headlines"]:
        assert set(headline) == picked
        assert headline["reason"] and isinstance(headline["score"], float)
        assert datetime.fromisoformat(headline["published"]).utcoffset() is not None
        assert headline["published"].endswith("+01:00")  # in the publication's time zone
    reasons = {s["url"]: s["reason"] for s in data["skipped"]}
    assert all(skip["title"] for skip in data["skipped"])
    assert reasons["https://atlas-info.example/marches/masi-hausse?utm_source=twitter"].startswith("same story as ")
    assert reasons["https://sport-maroc.example/tennis/tirage-favorable"].startswith("outside the window")
    assert "warning: " in result.stderr and "has no http(s) link: left out" in result.stderr


def test_editor_choices_pin_and_exclude(run_cli, engine: Engine) -> None:
    pin = "https://sport-maroc.example/football/lions-atlas-finale?utm_source=mail"
    drop = "https://culture.example/prix-litteraire"
    result = run_cli(
        "build", "--date", SAMPLE_DAY, "--json", "--featured", pin, "--exclude", drop,
        *sources("atom_xhtml.xml", "rss1.rdf"),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["featured"]["url"] == "https://sport-maroc.example/football/lions-atlas-finale"
    assert {"url": drop, "reason": "excluded by the editor"} in [
        {"url": skip["url"], "reason": skip["reason"]} for skip in data["skipped"]
    ]
    assert "warning: the excluded URL" not in result.stderr
    unknown = run_cli("build", "--date", SAMPLE_DAY, "--exclude", "https://nowhere.example/", *sources("rss1.rdf"))
    assert "warning: the excluded URL matches no article of the sources: https://nowhere.example/" in unknown.stderr
    typo = run_cli("build", "--date", SAMPLE_DAY, "--featured", "https://typo.example/x", *sources("rss1.rdf"))
    assert typo.exit_code == 1
    assert "error: the article pinned as featured is in none of the sources: https://typo.example/x" in typo.stderr


def test_one_broken_source_warns_and_the_edition_is_built_from_the_others(run_cli, engine: Engine) -> None:
    result = run_cli("build", "--date", SAMPLE_DAY, *sources("image.png", "seed_page.txt"))
    assert result.exit_code == 0, result.stderr
    assert f"warning: skipped source {DATA / 'image.png'}: binary data (a PNG image)" in result.stderr
    assert "Traceback" not in result.output
    assert "built the 2025-11-27 edition of quotidien" in result.stdout


def test_every_source_broken_exits_1_naming_each(run_cli, engine: Engine) -> None:
    result = run_cli("build", "--date", SAMPLE_DAY, *sources("image.png", "notes.txt", "missing.xml"))
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: every source failed (3): ")
    for name in ("image.png", "notes.txt", "missing.xml"):
        assert str(DATA / name) in last
    assert "Traceback" not in result.output


def test_a_day_without_articles_exits_3_and_builds_nothing(run_cli, engine: Engine) -> None:
    result = run_cli("build", "--date", "2025-12-25", *sources("rss2_media.xml"))
    assert result.exit_code == 3
    assert "nothing to send for 2025-12-25" in result.stderr
    with Session(engine) as session:
        assert session.exec(select(Edition)).all() == []


def test_the_seed_page_dates_its_headlines_with_the_build_date(run_cli, engine: Engine) -> None:
    result = run_cli("build", "--date", "2026-01-05", "--json", *sources("seed_page.txt"))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["featured"]["title"] == "Net-Pharma Hub projette un écosystème pharmaceutique novateur au Maroc"
    assert data["featured"]["summary"].endswith(".") and len(data["featured"]["summary"]) <= 450
    assert data["headlines"][0]["published"] == "2026-01-05T18:35:00+01:00"
    assert "Suivez-nous" not in result.stdout and "Commentaires" not in result.stdout


def test_section_rules_come_from_the_settings(run_cli, engine: Engine) -> None:
    env = {"DIGEST_SECTION_MAX": "1", "DIGEST_GROUP_BY_SECTION": "1", "DIGEST_SECTION_ORDER": "Football"}
    result = run_cli("build", "--date", SAMPLE_DAY, "--json", *sources("atom_xhtml.xml"), env=env)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [h["section"] for h in data["headlines"]] == ["Football", "Athlétisme"]  # not most recent first
    capped = run_cli("build", "--date", SAMPLE_DAY, "--json", "--source", str(SAMPLE_FEED), env=env)
    reasons = [s["reason"] for s in json.loads(capped.stdout)["skipped"]]
    assert "over the cap of 1 headline in section Auto" in reasons
    bad = run_cli("build", "--date", SAMPLE_DAY, *sources("atom_xhtml.xml"), env={"DIGEST_SECTION_MAX": "-1"})
    assert bad.exit_code == 1 and "DIGEST_SECTION_MAX" in bad.stderr


def test_an_undated_item_is_first_seen_once(engine: Engine) -> None:
    first = datetime(2025, 11, 27, 8, tzinfo=UTC)
    with Session(engine) as session:
        assert first_seen(session, ["https://a.example/1", "https://a.example/1"], first) == {
            "https://a.example/1": first
        }
    later = first + timedelta(days=1)
    with Session(engine) as session:
        seen = first_seen(
            session, ["https://a.example/1", "https://a.example/2", "https://a.example/" + "x" * 2000], later
        )
    assert seen == {"https://a.example/1": first, "https://a.example/2": later}  # too long a URL is not kept
