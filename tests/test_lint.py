"""The lint of a rendered edition, and how its errors block a send until an editor overrides them."""

from __future__ import annotations

import pytest

from digest.lint import ERROR, WARNING, LintIssue, dump_issues, errors, lint_variant, load_issues
from tests.conftest import SAMPLE_DAY
from tests.golden import render_sample

GOOD_HTML = (
    '<html><head><title>S</title></head><body><table role="presentation"><tr><td>'
    '<a href="https://example.ma/a">a</a> <a href="%%unsubscribe_url%%">u</a> <a href="mailto:x@example.ma">m</a>'
    '<img src="https://example.ma/i.png" width="80" alt="">'
    "</td></tr></table></body></html>"
)


def _codes(html: str = GOOD_HTML, text: str = "text", subject: str = "S", preheader: str = "p") -> dict[str, str]:
    issues = lint_variant(html=html, text=text, subject=subject, preheader=preheader, variant="fr")
    return {issue.code: issue.level for issue in issues}


def test_the_sample_edition_is_clean() -> None:
    for language in ("fr", "en", "ar"):
        variant = render_sample(language)
        issues = lint_variant(
            html=variant.html, text=variant.text, subject=variant.subject, preheader=variant.preheader
        )
        assert issues == [], issues


def test_a_clean_variant_has_no_issue() -> None:
    assert _codes() == {}


@pytest.mark.parametrize(
    ("html", "code", "level"),
    [
        (GOOD_HTML.replace("</td>", "x" * 101 * 1024 + "</td>"), "html-size", ERROR),
        (GOOD_HTML.replace("</td>", "x" * 85 * 1024 + "</td>"), "html-size", WARNING),
        (GOOD_HTML.replace("</head>", "<style>" + "a{color:red}" * 1500 + "</style></head>"), "style-size", ERROR),
        (GOOD_HTML.replace(' alt=""', ""), "img-alt", ERROR),
        (GOOD_HTML.replace(' width="80"', ""), "img-width", ERROR),
        (GOOD_HTML.replace(' width="80"', ' width="100%"'), "img-width", ERROR),
        (GOOD_HTML.replace("https://example.ma/i.png", "http://example.ma/i.png"), "img-src", ERROR),
        (GOOD_HTML.replace("https://example.ma/a", "/a"), "link", ERROR),
        (GOOD_HTML.replace("https://example.ma/a", "file:///tmp/page.txt#a"), "link", ERROR),
        (GOOD_HTML.replace("https://example.ma/a", "http://example.ma/a"), "link", ERROR),
        (GOOD_HTML.replace("https://example.ma/a", "http://127.0.0.1:8000/a"), "link", WARNING),
        (GOOD_HTML.replace("%%unsubscribe_url%%", "%%unsubscribe_link%%"), "placeholder", ERROR),
        (GOOD_HTML.replace("<title>S</title>", "<title>T</title>"), "title", ERROR),
        (GOOD_HTML.replace(' role="presentation"', ""), "table-role", WARNING),
    ],
)
def test_each_problem_is_named(html: str, code: str, level: str) -> None:
    assert _codes(html=html) == {code: level}


def test_empty_text_subject_and_preheader() -> None:
    assert _codes(text="  \n") == {"text-empty": ERROR}
    assert _codes(preheader="") == {"preheader-empty": WARNING}
    codes = _codes(subject="")
    assert codes["subject-empty"] == ERROR


def test_issues_round_trip_and_print_their_variant() -> None:
    issues = [LintIssue(ERROR, "link", "the link /a is relative", "ar"), LintIssue(WARNING, "x", "y")]
    assert load_issues(dump_issues(issues)) == issues
    assert errors(issues) == issues[:1]
    assert str(issues[0]) == "error: [ar] the link /a is relative (link)"
    assert load_issues(None) == []


def test_lint_errors_block_approve_and_send_until_overridden(run_cli) -> None:
    insecure = {"DIGEST_BASE_URL": "http://news.example.com"}
    assert run_cli("init").exit_code == 0
    built = run_cli("build", "--date", SAMPLE_DAY, env=insecure)
    assert built.exit_code == 0, built.output
    assert "lint error: [fr] the link http://news.example.com/editions/quotidien/2025-11-27" in built.output
    refused = run_cli("approve", "--date", SAMPLE_DAY, env=insecure)
    assert refused.exit_code == 1
    assert "lint error(s)" in refused.output and "instead of https://" in refused.output
    assert "--ignore-lint" in refused.output
    auto = run_cli("send", "--date", SAMPLE_DAY, env={**insecure, "DIGEST_AUTO_APPROVE": "1"})
    assert auto.exit_code == 1 and "lint error(s)" in auto.output
    assert run_cli("approve", "--date", SAMPLE_DAY, "--ignore-lint", env=insecure).exit_code == 0
    run_cli("subscribers", "add", "a@example.com", "--confirmed", env=insecure)
    sent = run_cli("send", "--date", SAMPLE_DAY, env=insecure)
    assert sent.exit_code == 0, sent.output
