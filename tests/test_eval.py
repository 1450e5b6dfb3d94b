"""`make eval` runs on the annotated real feeds and keeps the figures the README reports."""

from __future__ import annotations

import pytest

from tests.eval import DEFAULT_DIR, Score, WeekScore, evaluate, evaluate_weekly, main, report, weekly_report


def test_the_annotated_feeds_score_at_least_what_the_readme_says(capsys: pytest.CaptureFixture[str]) -> None:
    results = evaluate(DEFAULT_DIR)
    total = Score()
    for _name, score in results:
        total.add(score)
    assert total.editions == 13
    assert total.featured_ok >= 11 and total.featured_judged == 13
    assert total.must_shown >= 58 and total.must_total == 63
    assert total.junk_shown == 0
    assert total.groups_once == total.groups_shown
    assert "total (13 editions)" in report(results)
    assert main([str(DEFAULT_DIR)]) == 0
    assert "cross/bbc-nyt-2024-08-08" in capsys.readouterr().out


def test_each_replayed_week_keeps_the_daily_editions_featured_stories_and_shows_none_twice() -> None:
    results = evaluate_weekly(DEFAULT_DIR)
    total = WeekScore()
    for _name, week in results:
        total.days += week.days
        total.featured += week.featured
        total.featured_shown += week.featured_shown
        total.repeated += week.repeated
    assert len(results) == 13 and total.days == 36, "the days the feeds hold (one feed spans a whole week)"
    assert total.featured == 36
    assert total.featured_shown >= 0.8 * total.featured, "the issue's bar: 80% (36/36 on 2026-11-30)"
    assert total.featured_shown == 36
    assert total.repeated == 0
    assert "total (13 weeks)" in weekly_report(results)
