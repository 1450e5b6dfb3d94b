"""SpamAssassin's local rules on the sample edition in every language, as readers' servers would score it."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.mail.base import Batch, Content, Recipient
from digest.mail.mime import MessageBuilder
from tests.golden import render_sample, sample_selection

SPAMASSASSIN = shutil.which("spamassassin")
# Far below SpamAssassin's 5.0: the message must trigger no content rule at all worth mentioning.
SCORE_MAX = 0.5
FIELDS = {"unsubscribe_url": "https://news.example.com/u/T", "preferences_url": "https://news.example.com/p/T"}


def _message(language: str) -> bytes:
    variant = render_sample(language, sample_selection())
    batch = Batch(
        content=Content(subject=variant.subject, html=variant.html, text=variant.text),
        recipients=[Recipient(email="reader@example.com", fields=FIELDS)],
        sender="Le Quotidien <news@example.com>",
        list_id="Quotidien <quotidien.example.com>",
        now=datetime(2025, 11, 27, 6, tzinfo=UTC),
        edition_key="2025-11-27.quotidien",
    )
    return MessageBuilder(batch).build(batch.recipients[0]).data


@pytest.mark.skipif(SPAMASSASSIN is None, reason="spamassassin is not installed (apt-get install -y spamassassin)")
@pytest.mark.parametrize("language", ["fr", "en", "ar"])
def test_spamassassin_scores_the_edition_below_half_a_point(language: str, tmp_path: Path) -> None:
    assert SPAMASSASSIN is not None
    checked = subprocess.run(
        [SPAMASSASSIN, "--local", "--test-mode"],  # local rules only: no DNS or network lookups
        input=_message(language),
        capture_output=True,
        check=True,
        timeout=120,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    report = checked.stdout.decode("utf-8", "replace")
    score = float(re.search(r"X-Spam-Status: \w+, score=(-?[\d.]+)", report)[1])  # type: ignore[index]
    rules = re.findall(r"^\s*-?[\d.]+ ([A-Z_0-9]+) ", report.split("Content analysis details:", 1)[-1], re.M)
    assert score < SCORE_MAX, f"{language}: {score} points ({', '.join(rules)})"
    assert "HTML_FONT_LOW_CONTRAST" not in rules
