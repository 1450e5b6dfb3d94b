"""Golden selections: fixture sources -> the `digest build --json` selection, with reasons.

Regenerate with `make golden` after an intended change, and review the diff.
"""

from __future__ import annotations

import pytest

from tests.golden import GENERATORS, assert_golden

SELECTION_GOLDEN = sorted(name for name in GENERATORS if name.startswith("selection/"))


def test_every_fixture_source_has_a_golden_selection() -> None:
    assert {"selection/seed_page.json", "selection/rss2_media.json", "selection/atom_xhtml.json"} <= set(
        SELECTION_GOLDEN
    )
    assert {"selection/rss1.json", "selection/arabic_cp1256.json", "selection/all_sources.json"} <= set(
        SELECTION_GOLDEN
    )


@pytest.mark.parametrize("name", SELECTION_GOLDEN)
def test_selection_matches_its_golden_file(name: str) -> None:
    assert_golden(name)
