"""The rendered email in a real browser: fluid on a phone, 600px on a desktop, dark mode applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.personalize import Personalizable
from tests.browser.conftest import offline
from tests.golden import render_sample, sample_selection

pytestmark = pytest.mark.browser
FIELDS = {"unsubscribe_url": "https://news.example.com/u/T", "preferences_url": "https://news.example.com/p/T"}


@pytest.fixture(scope="module")
def emails() -> dict[str, str]:
    selection = sample_selection()
    return {
        language: Personalizable.compile(render_sample(language, selection).html).fill(FIELDS)
        for language in ("fr", "en", "ar")
    }


def _page(browser, html: str, width: int, scheme: str = "light"):
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    offline(context)
    page = context.new_page()
    page.set_content(html, wait_until="load")
    return context, page


@pytest.mark.parametrize("language", ["fr", "en", "ar"])
def test_phone_has_no_horizontal_scroll(browser, emails, artifacts: Path, language: str) -> None:
    context, page = _page(browser, emails[language], 375)
    scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll <= client, f"{language}: {scroll}px of content in a {client}px window"
    padding = page.evaluate("getComputedStyle(document.querySelector('td.pad')).paddingTop")
    assert padding == "16px", "the @media rule for phones did not beat the inlined padding"
    page.screenshot(path=str(artifacts / f"email-{language}-375.png"), full_page=True)
    context.close()


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_desktop_column_is_at_most_600px(browser, emails, artifacts: Path, language: str) -> None:
    context, page = _page(browser, emails[language], 1280)
    width = page.evaluate("document.querySelector('table.container').getBoundingClientRect().width")
    assert 500 < width <= 600
    page.screenshot(path=str(artifacts / f"email-{language}-1280.png"), full_page=True)
    context.close()


def test_dark_mode_changes_the_background(browser, emails, artifacts: Path) -> None:
    script = "getComputedStyle(document.querySelector('table.container')).backgroundColor"
    light_context, light = _page(browser, emails["fr"], 1280)
    dark_context, dark = _page(browser, emails["fr"], 1280, scheme="dark")
    assert light.evaluate(script) == "rgb(255, 255, 255)"
    assert dark.evaluate(script) == "rgb(30, 30, 30)"
    headline = "getComputedStyle(document.querySelector('p.headline a')).color"
    assert dark.evaluate(headline) == "rgb(242, 240, 237)"
    dark.screenshot(path=str(artifacts / "email-fr-1280-dark.png"), full_page=True)
    light_context.close()
    dark_context.close()


def _luminance(rgb: str) -> float:
    channels = [int(part) / 255 for part in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_is_readable(browser, emails, scheme: str) -> None:
    context, page = _page(browser, emails["fr"], 1280, scheme=scheme)
    background = _luminance(
        page.evaluate("getComputedStyle(document.querySelector('table.container')).backgroundColor")
    )
    selectors = [".masthead", ".dateline", ".kicker", ".featured-title a", ".summary", ".section-title", ".headline a"]
    selectors += [".footer p", ".footer a"]
    for selector in selectors:
        color = page.evaluate(f"getComputedStyle(document.querySelector('{selector}')).color")
        lighter, darker = sorted((_luminance(color), background), reverse=True)
        ratio = (lighter + 0.05) / (darker + 0.05)
        assert ratio >= 4.5, f"{scheme}: {selector} has contrast {ratio:.2f} ({color})"
    context.close()
