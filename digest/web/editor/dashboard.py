"""The publisher's dashboard at ``/editor``: the last editions with their figures and rates, and charts of
those rates and of the list's size over 90 days, each beside its table (readable without images or script).

Figures come from the per-edition counters (:mod:`digest.counters`), never from counting deliveries. Charts
are pygal's SVG, served as images by the app: no script runs, nothing is fetched from elsewhere.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from digest.db import open_session
from digest.render import load_translations
from digest.stats import counted_editions, list_growth
from digest.web.editor.auth import EDITOR_PAGE_HEADERS, editor_router
from digest.web.editor.desk import desk_url, editor_page_context, ui_language
from digest.web.pages import EMAIL_PAGE_HEADERS, cached_pages_environment, engine_of, list_or_404, settings_of

router = editor_router()
ListSlug = Annotated[str, Query(alias="list", max_length=64)]
# How far back the charts go, and how many editions the table lists.
DAYS = 90
TABLE_ROWS = 14
RATE_LINES = ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed")
GROWTH_LINES = ("active", "new", "unsubscribed", "bounced")


def _labels(language: str) -> dict[str, str]:
    """The figures' names in ``language``."""
    _ = load_translations(language).gettext
    return {
        "recipients": _("recipients"),
        "sent": _("sent"),
        "failed": _("failed"),
        "uncertain": _("uncertain"),
        "delivered": _("delivered"),
        "opened": _("opened"),
        "clicked": _("clicked"),
        "bounced": _("bounced"),
        "unsubscribed": _("unsubscribed"),
        "active": _("active"),
        "new": _("new"),
    }


def _window(request: Request) -> tuple[date, date]:
    today = datetime.now(settings_of(request).tz).date()
    return today - timedelta(days=DAYS), today


def _chart(
    kind: str, *, labels: list[str], series: dict[str, list[float | None]], percent: bool, secondary: str = ""
) -> str:
    """An SVG chart (pygal) of ``series`` over ``labels``; no script, no outside style sheet."""
    import pygal
    from pygal.style import Style

    # pygal appends to sys.meta_path a finder for its map plugins (unused here) that has no find_spec: every
    # later import that misses (optional speedups probed by other libraries) would warn through it.
    sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__module__ != "pygal"]

    style = Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#1c1b1a",
        foreground_strong="#1c1b1a",
        foreground_subtle="#e1ddd6",
        font_family="system-ui, sans-serif",
        colors=("#8c1d18", "#1f6f43", "#1d4f91", "#b06000", "#6b3fa0", "#4a4a4a"),
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=13,
    )
    chart_type: Callable[..., Any] = pygal.Line if kind == "line" else pygal.StackedBar
    chart = chart_type(
        style=style,
        js=[],
        width=900,
        height=340,
        explicit_size=False,
        show_dots=len(labels) <= 40,
        x_label_rotation=30,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(labels) // 10),
        legend_at_bottom=True,
        legend_at_bottom_columns=6,
        truncate_legend=-1,
        value_formatter=(lambda v: f"{v:.1%}") if percent else (lambda v: f"{v:,.0f}"),
        print_values=False,
        disable_xml_declaration=True,
    )
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values, secondary=name == secondary)
    return str(chart.render(is_unicode=True))


def _svg(svg: str) -> Response:
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store", **EMAIL_PAGE_HEADERS})


def _growth(request: Request, slug: str) -> list[dict[str, Any]]:
    start, end = _window(request)
    with open_session(engine_of(request)) as session:
        mailing_list = list_or_404(session, slug)
        assert mailing_list.id is not None
        return list_growth(session, list_id=mailing_list.id, start=start, end=end)


def _editions(request: Request, slug: str) -> list[dict[str, Any]]:
    start, _ = _window(request)
    with open_session(engine_of(request)) as session:
        return counted_editions(session, since=start, list_slug=slug)


@router.get("", include_in_schema=False, response_class=HTMLResponse)
@router.get("/", include_in_schema=False, response_class=HTMLResponse)
def dashboard(request: Request, list_slug: ListSlug = "") -> HTMLResponse:
    """The last editions, their figures and rates, and how the list grew."""
    settings = settings_of(request)
    slug = list_slug or settings.list_slug
    frame = editor_page_context(request)
    editions = _editions(request, slug)
    growth = _growth(request, slug)
    today = datetime.now(settings.tz).date()
    html = (
        cached_pages_environment(request, frame["ui"])
        .get_template("editor/dashboard.html.j2")
        .render(
            **frame,
            slug=slug,
            # Daily editions and weekly round-ups are listed apart: their figures do not compare.
            editions=[e for e in editions if e["kind"] == "daily"][:TABLE_ROWS],
            weekly_editions=[e for e in editions if e["kind"] == "weekly"][:TABLE_ROWS],
            chart_editions=list(reversed([e for e in editions if e["kind"] == "daily"])),
            growth=growth,
            labels=_labels(frame["ui"]),
            rate_lines=RATE_LINES,
            growth_lines=GROWTH_LINES,
            today_desk=desk_url(slug, today),
            tomorrow_desk=desk_url(slug, today + timedelta(days=1)),
            desk_url=desk_url,
            days=DAYS,
        )
    )
    return HTMLResponse(html, headers=EDITOR_PAGE_HEADERS)


@router.get("/charts/rates.svg", include_in_schema=False)
def rates_chart(request: Request, list_slug: ListSlug = "") -> Response:
    """The rates of each daily edition of the last 90 days, as a line chart."""
    # Daily editions only: a weekly round-up's rates are another series (its own table on the page).
    listed = _editions(request, list_slug or settings_of(request).list_slug)
    editions = [e for e in reversed(listed) if e["recipients"] and e["kind"] == "daily"]
    names = _labels(ui_language(request))
    series: dict[str, list[float | None]] = {names[n]: [e["rates"][n] for e in editions] for n in RATE_LINES}
    return _svg(_chart("line", labels=[e["date"].isoformat() for e in editions], series=series, percent=True))


@router.get("/charts/readers.svg", include_in_schema=False)
def readers_chart(request: Request, list_slug: ListSlug = "") -> Response:
    """The list's active readers (right axis) and its daily joins, departures and bounces over 90 days."""
    growth = _growth(request, list_slug or settings_of(request).list_slug)
    names = _labels(ui_language(request))
    series: dict[str, list[float | None]] = {names[n]: [float(day[n]) for day in growth] for n in GROWTH_LINES}
    labels = [day["date"].isoformat() for day in growth]
    return _svg(_chart("line", labels=labels, series=series, percent=False, secondary=names["active"]))
