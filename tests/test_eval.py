"""`make eval` runs on the annotated real feeds and keeps the figures the README reports."""

from __future__ import annotations

import pytest

from tests.eval import DEFAULT_DIR, Score, evaluate, main, report


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
