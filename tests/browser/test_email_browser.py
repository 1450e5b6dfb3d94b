"""The rendered email in a real browser: no overflow from 320 px up, light and dark, with or without its <style>
blocks (Gmail with other accounts drops them), Outlook.com's dark mode, contrast, and axe-core's audit."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from digest.content import Pick, Selection
from digest.personalize import Personalizable
from digest.render import RenderOptions, make_environment, render_variant
from tests.browser.conftest import offline
from tests.golden import SAMPLE_PUBLICATION, SAMPLE_WEB_URL, render_sample, sample_selection

pytestmark = pytest.mark.browser
FIELDS = {"unsubscribe_url": "https://news.example.com/u/T", "preferences_url": "https://news.example.com/p/T"}
AXE = Path(__file__).resolve().parents[1] / "data" / "axe" / "axe.min.js"
# axe-core's page-level landmark rules: they judge a whole web page, which an email is not.
PAGE_LEVEL_RULES = {"region", "landmark-one-main"}
VARIANTS = ["fr", "en", "ar", "mixed"]


def _png(width: int, height: int) -> bytes:
    """A grey PNG of that size: what the offline browser gets for every image of the email."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x99\x99\x99" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _mixed_selection(selection: Selection) -> Selection:
    """The sample day as an Arabic reader with thumbnails sees it: French articles, one Arabic, a small image."""
    assert selection.featured is not None
    featured = replace(selection.featured.article, lang="fr", image_width=300, image_height=200)
    headlines = []
    for number, pick in enumerate(selection.headlines):
        article = replace(pick.article, lang="fr", image=f"https://cdn.example.ma/{number}.jpg", image_width=640)
        if number == 1:
            title, summary = "المغرب يطلق أول شركة لخدمات الطاقة", "خطوة جديدة نحو الانتقال الطاقي في المملكة."
            article = replace(article, lang="ar", title=title, summary=summary)
        headlines.append(Pick(replace(article, image_height=360), pick.reason))
    intro = "صباح الخير، إليكم أهم أخبار اليوم."
    return replace(selection, featured=Pick(featured, "test"), headlines=tuple(headlines), intro=intro)


@pytest.fixture(scope="module")
def emails() -> dict[str, str]:
    selection = sample_selection()
    rendered = {language: render_sample(language, selection) for language in ("fr", "en", "ar")}
    rendered["mixed"] = render_variant(
        _mixed_selection(selection),
        env=make_environment("ar"),
        publication=replace(SAMPLE_PUBLICATION, name="اليومية"),
        language="ar",
        web_url=SAMPLE_WEB_URL,
        options=RenderOptions(headline_style="thumbnails"),
    )
    return {name: Personalizable.compile(variant.html).fill(FIELDS) for name, variant in rendered.items()}


def _page(browser, html: str, width: int, scheme: str = "light", styles: bool = True):
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    offline(context)
    image = _png(8, 6)
    context.route("https://**/*.jpg", lambda route: route.fulfill(body=image, content_type="image/png"))
    page = context.new_page()
    page.set_content(html, wait_until="load")
    if not styles:
        page.evaluate("document.querySelectorAll('style').forEach((style) => style.remove())")
    return context, page


@pytest.mark.parametrize("styles", [True, False], ids=["styles", "no-styles"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [320, 375, 600])
@pytest.mark.parametrize("name", VARIANTS)
def test_no_horizontal_overflow(browser, emails, artifacts: Path, name: str, width: int, scheme: str, styles) -> None:
    context, page = _page(browser, emails[name], width, scheme, styles)
    scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll <= client, f"{name}: {scroll}px of content in a {client}px window"
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('body *')].filter((node) => {
            const box = node.getBoundingClientRect();
            return box.width > 0 && (box.right > window.innerWidth + 0.5 || box.left < -0.5);
        }).map((node) => node.tagName + '.' + node.className).slice(0, 5)"""
    )
    assert overflowing == [], f"{name} at {width}px: {overflowing}"
    if width in (320, 600):
        suffix = "" if styles else "-nostyle"
        page.screenshot(path=str(artifacts / f"email-{name}-{width}-{scheme}{suffix}.png"), full_page=True)
    context.close()


def test_phones_narrow_the_gutters_only(browser, emails) -> None:
    context, page = _page(browser, emails["fr"], 375)
    padding = "(selector) => getComputedStyle(document.querySelector(selector)).padding"
    assert page.evaluate(padding, "td.pad") == "24px 16px"
    assert page.evaluate(padding, "td.pad-top") == "24px 16px 0px"
    assert page.evaluate(padding, "td.pad-bottom") == "0px 16px 24px"
    context.close()
    context, page = _page(browser, emails["fr"], 600)
    assert page.evaluate(padding, "td.pad") == "24px"
    context.close()


@pytest.mark.parametrize("name", ["fr", "ar"])
def test_desktop_column_is_at_most_600px(browser, emails, artifacts: Path, name: str) -> None:
    context, page = _page(browser, emails[name], 1280)
    width = page.evaluate("document.querySelector('table.container').getBoundingClientRect().width")
    assert 500 < width <= 600
    page.screenshot(path=str(artifacts / f"email-{name}-1280.png"), full_page=True)
    context.close()


def test_left_to_right_blocks_stay_left_aligned_in_a_right_to_left_edition(browser, emails) -> None:
    context, page = _page(browser, emails["mixed"], 600)
    french = page.evaluate(
        """() => { const cell = document.querySelector('td.headline-cell div[lang="fr"]');
                   const text = cell.querySelector('a').getBoundingClientRect();
                   return [getComputedStyle(cell).textAlign, getComputedStyle(cell).direction,
                           text.left - cell.getBoundingClientRect().left]; }"""
    )
    assert french[0] == "left" and french[1] == "ltr" and french[2] < 1
    arabic = page.evaluate(
        "(() => { const c = document.querySelector('td.headline-cell div[lang=\"ar\"]');"
        " return [getComputedStyle(c).textAlign, getComputedStyle(c).direction]; })()"
    )
    assert arabic == ["right", "rtl"]
    thumbnail = page.evaluate("document.querySelector('td.card-thumb img').getBoundingClientRect().width")
    assert thumbnail == 120, "a small featured image is shown at its own size, beside the title"
    context.close()


def test_dark_mode_changes_the_background(browser, emails, artifacts: Path) -> None:
    script = "getComputedStyle(document.querySelector('table.container')).backgroundColor"
    headline = "getComputedStyle(document.querySelector('p.headline-title a')).color"
    light_context, light = _page(browser, emails["fr"], 1280)
    dark_context, dark = _page(browser, emails["fr"], 1280, scheme="dark")
    assert light.evaluate(script) == "rgb(255, 255, 255)"
    assert dark.evaluate(script) == "rgb(30, 30, 30)"
    assert dark.evaluate(headline) == "rgb(242, 240, 237)"
    dark.screenshot(path=str(artifacts / "email-fr-1280-dark.png"), full_page=True)
    light_context.close()
    dark_context.close()


def test_outlook_com_dark_mode_matches(browser, emails, artifacts: Path) -> None:
    """Outlook.com marks the elements it recolours with data-ogsc (text) and data-ogsb (backgrounds)."""
    context, page = _page(browser, emails["fr"], 600)
    page.evaluate("document.body.setAttribute('data-ogsc', ''); document.body.setAttribute('data-ogsb', '')")
    assert page.evaluate("getComputedStyle(document.querySelector('table.container')).backgroundColor") == (
        "rgb(30, 30, 30)"
    )
    assert page.evaluate("getComputedStyle(document.querySelector('p.headline-title a')).color") == "rgb(242, 240, 237)"
    assert page.evaluate("getComputedStyle(document.querySelector('td.headline-cell')).borderTopColor") == (
        "rgb(58, 56, 53)"
    )
    page.screenshot(path=str(artifacts / "email-fr-600-outlook-com-dark.png"), full_page=True)
    context.close()


def _luminance(rgb: str) -> float:
    channels = [int(part) / 255 for part in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_is_readable(browser, emails, scheme: str) -> None:
    context, page = _page(browser, emails["mixed"], 1280, scheme=scheme)
    background = _luminance(
        page.evaluate("getComputedStyle(document.querySelector('table.container')).backgroundColor")
    )
    selectors = [".masthead", ".dateline", ".intro", ".kicker", ".featured-title a", ".summary", ".section-title"]
    selectors += [".headline-title a", ".dek", ".footer p", ".footer a"]
    for selector in selectors:
        color = page.evaluate(f"getComputedStyle(document.querySelector('{selector}')).color")
        lighter, darker = sorted((_luminance(color), background), reverse=True)
        ratio = (lighter + 0.05) / (darker + 0.05)
        assert ratio >= 4.5, f"{scheme}: {selector} has contrast {ratio:.2f} ({color})"
    context.close()


@pytest.mark.parametrize("name", VARIANTS)
def test_axe_finds_nothing_but_page_level_rules(browser, emails, name: str) -> None:
    context, page = _page(browser, emails[name], 600)
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map((v) => v.id + ': ' + v.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(', '))"""
    )
    problems = [item for item in found if item.split(":")[0] not in PAGE_LEVEL_RULES]
    assert problems == [], problems
    context.close()
