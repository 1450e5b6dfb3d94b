"""The desk: one day's edition previewed, reworded, rearranged, tested and approved.

`digest serve` mounts it at `/editor/<list>/<date>`; `digest preview` serves it on the editor's own machine
without a password, and `digest preview --output DIR` writes the same page as static files
(:func:`write_static`). Every change (pin, drop, add, reorder, wording, subject, intro) is stored with the
edition's choices and rebuilds it, re-rendering every variant and re-running the lint, so what is previewed is
what is sent; an approved edition goes back to draft.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.convertors import Convertor, register_url_convertor

from digest.db import open_session
from digest.delivery import Mailing, preview_fields, send_test
from digest.edition import (
    approve_edition,
    edition_name,
    ensure_edition,
    find_edition,
    kind_option,
    load_choices,
    load_selection,
    recipients_per_variant,
    stored_window,
    variant_key,
)
from digest.edits import (
    PREHEADER_CUT,
    SUBJECT_CUT,
    SUMMARY_MAX,
    TITLE_MAX,
    included,
    left_out,
    moved,
    reworded,
    with_subject,
)
from digest.errors import DigestError, EditionError, SubscriberError
from digest.lint import load_issues
from digest.mail import open_backend
from digest.models import Edition, EditionKind, EditionStatus, EditionVariant
from digest.personalize import Personalizable
from digest.render import RTL_LANGUAGES
from digest.selection import EditorChoices
from digest.settings import Settings
from digest.web.editor.auth import EDITOR_PAGE_HEADERS, _check_csrf, csrf_token, editor_router
from digest.web.pages import (
    EMAIL_PAGE_HEADERS,
    LANGUAGE_NAMES,
    cached_pages_environment,
    engine_of,
    list_or_404,
    pages_environment,
    pick_language,
    settings_of,
)
from subscribers.addresses import normalize_email
from subscribers.inputs import CONTROL_CHARACTERS
from subscribers.models import MailingList

TEST_RECIPIENTS_MAX = 10
_DARK_QUERY = "(prefers-color-scheme: dark)"
# Line breaks and tabs are fine in the editor's note; the other control characters are not.
_NOTE_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def fill_for_preview(content: str, base_url: str) -> str:
    """``content`` with its per-reader placeholders filled by stand-in links."""
    return Personalizable.compile(content).fill(preview_fields(base_url))


def force_dark(html: str) -> str:
    """The HTML as a dark-mode client shows it: its dark rules applied whatever the viewer's setting."""
    return html.replace(_DARK_QUERY, "all")


def variant_slug(key: str) -> str:
    """A file name for a variant key (keys hold ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", key)


@dataclass(frozen=True, slots=True)
class VariantView:
    """One variant as the page lists it, with where to load its renderings and how many readers get it."""

    key: str
    label: str
    language: str
    html_url: str
    dark_url: str
    text: str
    subject: str
    recipients: int


# --- Changes an editor makes ------------------------------------------------------------------------


def pin(choices: EditorChoices, url: str) -> EditorChoices:
    """Feature ``url`` (and stop excluding it)."""
    return replace(choices, featured=url, exclude=choices.exclude - {url})


def drop(choices: EditorChoices, url: str) -> EditorChoices:
    """Leave ``url`` out of the edition (unpinning it if it was featured, no longer taking it in)."""
    return replace(
        choices,
        featured=None if choices.featured == url else choices.featured,
        exclude=choices.exclude | {url},
        edits=left_out(choices.edits, url),
    )


def restore(choices: EditorChoices, url: str) -> EditorChoices:
    """Take ``url`` back in."""
    return replace(choices, exclude=choices.exclude - {url})


def add(choices: EditorChoices, url: str) -> EditorChoices:
    """Take a skipped article (excluded, cut by a cap, outside the day, a duplicate) into the headlines."""
    return replace(choices, exclude=choices.exclude - {url}, edits=included(choices.edits, url))


def with_intro(choices: EditorChoices, intro: str) -> EditorChoices:
    """Set the note shown above the headlines (blank: none)."""
    return replace(choices, intro=intro.strip())


def rebuild(
    *,
    session: Session,
    settings: Settings,
    mailing_list: MailingList,
    day: date,
    change: Callable[[EditorChoices], EditorChoices],
    kind: str = EditionKind.DAILY,
) -> Edition:
    """Apply ``change`` to the edition's stored choices and rebuild it from the sources as a draft."""
    return ensure_edition(
        session=session, settings=settings, mailing_list=mailing_list, day=day, change=change, kind=kind
    )


def parse_addresses(raw: str) -> list[str]:
    """The addresses of a test send (comma, space or newline separated), each validated."""
    addresses = [normalize_email(part) for part in re.split(r"[\s,;]+", raw) if part]
    if not addresses:
        raise SubscriberError("give at least one address for the test")
    if len(addresses) > TEST_RECIPIENTS_MAX:
        raise SubscriberError(f"at most {TEST_RECIPIENTS_MAX} test addresses at once")
    return list(dict.fromkeys(addresses))


# --- The page -------------------------------------------------------------------------------------


def _variants(session: Session, edition: Edition, default_language: str) -> list[EditionVariant]:
    """The edition's variants: the default language's first, then every language's all-sections one."""
    rows = session.exec(select(EditionVariant).where(EditionVariant.edition_id == edition.id)).all()
    return sorted(rows, key=lambda v: (v.key != default_language, v.key != variant_key(v.language), v.key))


def _label(variant: EditionVariant) -> str:
    _, _, sections = variant.key.partition(":")
    return variant.language + (f" · {sections.replace('+', ', ')}" if sections else " · all sections")


def page_context(
    *,
    session: Session,
    settings: Settings,
    mailing_list: MailingList,
    day: date,
    url_of: Callable[[EditionVariant, bool], str],
    current: str = "",
    kind: str = EditionKind.DAILY,
) -> dict[str, Any]:
    """What the desk shows for one day's edition of ``kind``, variant ``current`` (default: the first) in front.

    ``url_of(variant, dark)`` says where the page loads a variant's rendering from.
    """
    edition = find_edition(session, mailing_list, day, kind)
    step = timedelta(days=7 if kind == EditionKind.WEEKLY else 1)
    context: dict[str, Any] = {
        "list": mailing_list,
        "day": day,
        "kind": kind,
        "previous_url": desk_url(mailing_list.slug, day - step, kind),
        "next_url": desk_url(mailing_list.slug, day + step, kind),
        "edition": edition,
        "settings": settings,
        "previous_day": day - step,
        "next_day": day + step,
        "limits": {
            "title": TITLE_MAX,
            "summary": SUMMARY_MAX,
            "subject_cut": SUBJECT_CUT,
            "preheader_cut": PREHEADER_CUT,
        },
    }
    if edition is None:
        return context
    choices = load_choices(edition.choices_json)
    counts = recipients_per_variant(session, mailing_list, settings.language)
    variants = [
        VariantView(
            key=v.key,
            label=_label(v),
            language=v.language,
            html_url=url_of(v, False),
            dark_url=url_of(v, True),
            text=fill_for_preview(v.text, settings.base_url),
            subject=v.subject,
            recipients=counts.get(v.key, 0),
        )
        for v in _variants(session, edition, settings.language)
    ]
    shown = next((v for v in variants if v.key == current), variants[0])
    preheader = choices.edits.preheader.get(shown.language) or (
        edition.preheader if shown.language == settings.language else ""
    )
    window = stored_window(edition)
    context.update(
        window=[moment.astimezone(settings.tz) for moment in window] if window else None,
        selection=load_selection(edition.selection_json),
        choices=choices,
        wording=choices.edits.wording,
        excluded=sorted(choices.exclude),
        issues=load_issues(edition.lint_json),
        variants=variants,
        recipients=sum(counts.values()),
        shown=shown,
        preheader=preheader,
        editable=edition.status in (EditionStatus.DRAFT, EditionStatus.APPROVED),
    )
    return context


def write_static(
    *,
    session: Session,
    settings: Settings,
    mailing_list: MailingList,
    day: date,
    folder: Path,
    kind: str = EditionKind.DAILY,
) -> list[Path]:
    """Write the editor's page for ``day``'s edition of ``kind`` and every variant (light, dark, text) as files
    under ``folder``."""
    edition = find_edition(session, mailing_list, day, kind)
    if edition is None:
        raise EditionError(
            f"no {day} {edition_name(kind)} of {mailing_list.slug}: "
            f"run `digest build --date {day}{kind_option(kind)}` first"
        )
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for variant in _variants(session, edition, settings.language):
        html = fill_for_preview(variant.html, settings.base_url)
        slug = variant_slug(variant.key)
        for name, content in (
            (f"{slug}.html", html),
            (f"{slug}.dark.html", force_dark(html)),
            (f"{slug}.txt", fill_for_preview(variant.text, settings.base_url)),
        ):
            path = folder / name
            path.write_text(content, encoding="utf-8")
            written.append(path)
    context = page_context(
        session=session,
        settings=settings,
        mailing_list=mailing_list,
        day=day,
        url_of=lambda v, dark: f"{variant_slug(v.key)}{'.dark' if dark else ''}.html",
        kind=kind,
    )
    index = folder / "index.html"
    page = pages_environment().get_template("editor/page.html.j2")
    frame = {"ui": "en", "ui_dir": "ltr", "ui_languages": {}, "ui_query": "", "csrf": "", "static": True}
    index.write_text(page.render(context, **frame, base="", done="", count=0, error=""), encoding="utf-8")
    written.append(index)
    return written


def serve_preview(settings: Settings, *, engine: Engine, port: int) -> None:
    """Serve the web app on 127.0.0.1:``port`` with the editor open without a password (`digest preview`)."""
    import uvicorn

    from digest.web.app import create_app, uvicorn_log_config

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as err:
            raise DigestError(f"port {port} is busy ({err.strerror}): try --port {port + 1}") from err
    app = create_app(settings, engine=engine)
    app.state.editor_open = True
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", log_config=uvicorn_log_config(), proxy_headers=False
    )


# --- Web routes -----------------------------------------------------------------------------------


router = editor_router()


@dataclass(frozen=True, slots=True)
class DeskEdition:
    """The edition a desk URL names: its date and kind (``/editor/<list>/<date>[/weekly]``)."""

    day: date
    kind: str = EditionKind.DAILY

    def __str__(self) -> str:
        return self.day.isoformat() if self.kind == EditionKind.DAILY else f"{self.day} {self.kind}"


class EditionPathConvertor(Convertor[str]):
    """``<date>`` or ``<date>/weekly`` in a desk route: a weekly edition's desk is the daily one's plus
    ``/weekly`` (DESIGN's routes), every action under it alike."""

    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:/weekly)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("edition", EditionPathConvertor())


def parse_day(value: str) -> DeskEdition:
    """The edition a URL's ``<date>[/weekly]`` names, or a 404 naming the expected form."""
    raw, _, kind = value.partition("/")
    try:
        return DeskEdition(date.fromisoformat(raw), kind or EditionKind.DAILY)
    except ValueError as err:
        raise HTTPException(404, f"{value!r} is not a date like 2025-11-27") from err


def desk_url(slug: str, day: date, kind: str = EditionKind.DAILY, **query: str) -> str:
    """The desk of ``slug``'s ``day`` edition of ``kind``, with ``query``."""
    suffix = f"?{urlencode(query)}" if query else ""
    path_kind = "" if kind == EditionKind.DAILY else f"/{kind}"
    return f"/editor/{quote(slug)}/{day.isoformat()}{path_kind}{suffix}"


def ui_language(request: Request) -> str:
    """The language of the editor's pages: ``?ui=``, else the browser's, else DIGEST_LANGUAGE."""
    return pick_language(request, request.query_params.get("ui"))


def editor_page_context(request: Request) -> dict[str, Any]:
    """What every editor page's frame needs: the UI language, its direction, the menu of languages."""
    language = ui_language(request)
    return {
        "ui": language,
        "ui_dir": "rtl" if language in RTL_LANGUAGES else "ltr",
        "ui_languages": LANGUAGE_NAMES,
        "ui_query": f"?{urlencode({'ui': request.query_params['ui']})}" if "ui" in request.query_params else "",
        "csrf": csrf_token(settings_of(request)),
        "static": False,
    }


@router.get("/{slug}/{day:edition}", response_class=HTMLResponse)
def editor_page(
    request: Request, slug: str, day: str, done: str = "", count: int = 0, variant: str = ""
) -> HTMLResponse:
    """The desk for one day's edition; ``done`` is the code of what the last action did (the page words it)."""
    return _desk_page(request, slug, parse_day(day), done=done, count=count, variant=variant)


def _desk_page(
    request: Request,
    slug: str,
    the_day: DeskEdition,
    *,
    done: str = "",
    count: int = 0,
    error: str = "",
    variant: str = "",
) -> HTMLResponse:
    """The desk; ``error`` is a refused action's reason, shown at once (never carried by a URL, which anyone
    could write)."""
    settings = settings_of(request)
    frame = editor_page_context(request)
    with open_session(engine_of(request)) as session:
        mailing_list = list_or_404(session, slug)
        base = desk_url(slug, the_day.day, the_day.kind)

        def url_of(v: EditionVariant, dark: bool) -> str:
            return f"{base}/variant?{urlencode({'key': v.key, **({'dark': '1'} if dark else {})})}"

        context = page_context(
            session=session,
            settings=settings,
            mailing_list=mailing_list,
            day=the_day.day,
            url_of=url_of,
            current=variant,
            kind=the_day.kind,
        )
    html = (
        cached_pages_environment(request, frame["ui"])
        .get_template("editor/page.html.j2")
        .render(context, **frame, base=base, done=done, count=count, error=error)
    )
    return HTMLResponse(html, status_code=400 if error else 200, headers=EDITOR_PAGE_HEADERS)


@router.get("/desk.js", include_in_schema=False)
def desk_script() -> Response:
    """The desk's optional script (live character counts), served by the app: no CDN, no inline script."""
    script = (Path(__file__).parent / "desk.js").read_text(encoding="utf-8")
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def _variant(session: Session, mailing_list: MailingList, day: DeskEdition, key: str) -> tuple[Edition, EditionVariant]:
    edition = find_edition(session, mailing_list, day.day, day.kind)
    if edition is None:
        raise HTTPException(404, f"no {day} edition of {mailing_list.slug}")
    if CONTROL_CHARACTERS.search(key) or len(key) > 64:
        raise HTTPException(404, "no such variant")  # no key holds one: refused before the query
    found = session.exec(
        select(EditionVariant).where(EditionVariant.edition_id == edition.id, col(EditionVariant.key) == key)
    ).first()
    if found is None:
        raise HTTPException(404, f"no variant {key!r} in the {day} edition")
    return edition, found


@router.get("/{slug}/{day:edition}/variant", response_class=HTMLResponse)
def editor_variant(request: Request, slug: str, day: str, key: str, dark: bool = False) -> HTMLResponse:
    """One variant's HTML as readers get it (stand-in links), optionally as dark-mode clients show it."""
    with open_session(engine_of(request)) as session:
        _, variant = _variant(session, list_or_404(session, slug), parse_day(day), key)
    html = fill_for_preview(variant.html, settings_of(request).base_url)
    return HTMLResponse(force_dark(html) if dark else html, headers={"Cache-Control": "no-store", **EMAIL_PAGE_HEADERS})


@router.get("/{slug}/{day:edition}/variant.txt", response_class=PlainTextResponse)
def editor_variant_text(request: Request, slug: str, day: str, key: str) -> PlainTextResponse:
    """One variant's plain-text part."""
    with open_session(engine_of(request)) as session:
        _, variant = _variant(session, list_or_404(session, slug), parse_day(day), key)
    return PlainTextResponse(fill_for_preview(variant.text, settings_of(request).base_url), headers=EDITOR_PAGE_HEADERS)


# An action's outcome: the short message's code (the page words it) and a count for those that need one.
Done = tuple[str, int]
Action = Callable[[Session, MailingList, DeskEdition], Done]


def _act(request: Request, slug: str, day: str, csrf: str, action: Action, variant: str = "") -> Response:
    """Run one editor action and come back to the page (same variant and UI language) with its outcome."""
    _check_csrf(request, csrf)
    the_day = parse_day(day)
    keep = {k: v for k, v in (("variant", variant), ("ui", request.query_params.get("ui", ""))) if v}
    with open_session(engine_of(request)) as session:
        mailing_list = list_or_404(session, slug)
        try:
            done, count = action(session, mailing_list, the_day)
        except DigestError as err:
            session.rollback()
            failed = str(err)
        else:
            shown = {"count": str(count)} if count else {}
            return RedirectResponse(
                desk_url(slug, the_day.day, the_day.kind, done=done, **shown, **keep), status_code=303
            )
    return _desk_page(request, slug, the_day, error=failed, variant=variant)


def _change(request: Request, change: Callable[[EditorChoices], EditorChoices], done: str) -> Action:
    def action(session: Session, mailing_list: MailingList, day: DeskEdition) -> Done:
        rebuild(
            session=session,
            settings=settings_of(request),
            mailing_list=mailing_list,
            day=day.day,
            change=change,
            kind=day.kind,
        )
        return done, 0

    return action


Token = Annotated[str, Form()]
Url = Annotated[str, Form(min_length=1, max_length=2000)]
VariantKey = Annotated[str, Form(max_length=200)]


@router.post("/{slug}/{day:edition}/build")
def editor_build(request: Request, slug: str, day: str, csrf: Token, variant: VariantKey = "") -> Response:
    """Build (or rebuild) the edition from the sources, keeping the editor's choices."""
    return _act(request, slug, day, csrf, _change(request, lambda c: c, "built"), variant)


@router.post("/{slug}/{day:edition}/pin")
def editor_pin(request: Request, slug: str, day: str, csrf: Token, url: Url, variant: VariantKey = "") -> Response:
    """Feature another article (a headline or a skipped one)."""
    return _act(request, slug, day, csrf, _change(request, lambda c: pin(c, url), "featured"), variant)


@router.post("/{slug}/{day:edition}/drop")
def editor_drop(request: Request, slug: str, day: str, csrf: Token, url: Url, variant: VariantKey = "") -> Response:
    """Leave an article out."""
    return _act(request, slug, day, csrf, _change(request, lambda c: drop(c, url), "dropped"), variant)


@router.post("/{slug}/{day:edition}/restore")
def editor_restore(request: Request, slug: str, day: str, csrf: Token, url: Url, variant: VariantKey = "") -> Response:
    """Take a dropped article back."""
    return _act(request, slug, day, csrf, _change(request, lambda c: restore(c, url), "restored"), variant)


@router.post("/{slug}/{day:edition}/add")
def editor_add(request: Request, slug: str, day: str, csrf: Token, url: Url, variant: VariantKey = "") -> Response:
    """Take a skipped article into the headlines."""
    return _act(request, slug, day, csrf, _change(request, lambda c: add(c, url), "added"), variant)


@router.post("/{slug}/{day:edition}/move")
def editor_move(
    request: Request,
    slug: str,
    day: str,
    csrf: Token,
    url: Url,
    step: Annotated[int, Form(ge=-1, le=1)],
    variant: VariantKey = "",
) -> Response:
    """Move a headline one place up (-1) or down (+1)."""

    def action(session: Session, mailing_list: MailingList, the_day: DeskEdition) -> Done:
        edition = find_edition(session, mailing_list, the_day.day, the_day.kind)
        if edition is None:
            raise EditionError(f"no {the_day} edition: build it first")
        order = [pick.article.url for pick in load_selection(edition.selection_json).headlines]
        change = _change(request, lambda c: replace(c, edits=moved(c.edits, order, url, step)), "moved")
        return change(session, mailing_list, the_day)

    return _act(request, slug, day, csrf, action, variant)


@router.post("/{slug}/{day:edition}/reword")
def editor_reword(
    request: Request,
    slug: str,
    day: str,
    csrf: Token,
    url: Url,
    title: Annotated[str, Form(max_length=TITLE_MAX)] = "",
    summary: Annotated[str, Form(max_length=SUMMARY_MAX)] = "",
    variant: VariantKey = "",
) -> Response:
    """Set an article's title and summary (both blank: the source's again)."""
    change = _change(
        request, lambda c: replace(c, edits=reworded(c.edits, url, title=title, summary=summary)), "reworded"
    )
    return _act(request, slug, day, csrf, change, variant)


@router.post("/{slug}/{day:edition}/subject")
def editor_subject(
    request: Request,
    slug: str,
    day: str,
    csrf: Token,
    language: Annotated[str, Form(max_length=8)],
    subject: Annotated[str, Form(max_length=TITLE_MAX)] = "",
    preheader: Annotated[str, Form(max_length=TITLE_MAX)] = "",
    variant: VariantKey = "",
) -> Response:
    """Set the subject and preheader readers of ``language`` get (blank: the settings' templates)."""

    def change(choices: EditorChoices) -> EditorChoices:
        return replace(choices, edits=with_subject(choices.edits, language, subject=subject, preheader=preheader))

    return _act(request, slug, day, csrf, _change(request, change, "subject"), variant)


@router.post("/{slug}/{day:edition}/intro")
def editor_intro(
    request: Request,
    slug: str,
    day: str,
    csrf: Token,
    intro: Annotated[str, Form(max_length=2000)] = "",
    variant: VariantKey = "",
) -> Response:
    """Write the short note shown above the headlines (Markdown: paragraphs, emphasis, links; several lines, but
    no other control character)."""
    if _NOTE_CONTROLS.search(intro):
        return _desk_page(request, slug, parse_day(day), error="the intro must not contain control characters")
    return _act(request, slug, day, csrf, _change(request, lambda c: with_intro(c, intro), "intro"), variant)


@router.post("/{slug}/{day:edition}/test")
def editor_test(
    request: Request,
    slug: str,
    day: str,
    csrf: Token,
    to: Annotated[str, Form(max_length=2000)],
    key: Annotated[str, Form()] = "",
) -> Response:
    """Send one variant to a few addresses."""

    def action(session: Session, mailing_list: MailingList, the_day: DeskEdition) -> Done:
        addresses = parse_addresses(to)
        edition, variant = _variant(session, mailing_list, the_day, key or variant_key(settings_of(request).language))
        assert edition.id is not None
        settings = settings_of(request)
        with open_backend(settings) as backend:
            mailing = Mailing.from_settings(settings, engine_of(request), edition.id, backend)
            results = send_test(mailing, addresses, variant_key=variant.key)
        failed = [f"{r.recipient.email}: {r.error}" for r in results if not r.ok]
        if failed:
            raise DigestError("test send failed for " + "; ".join(failed))
        return "tested", len(results)

    return _act(request, slug, day, csrf, action, key)


@router.post("/{slug}/{day:edition}/approve")
def editor_approve(
    request: Request,
    slug: str,
    day: str,
    csrf: Token,
    ignore_lint: Annotated[bool, Form()] = False,
    variant: VariantKey = "",
) -> Response:
    """Approve the edition for sending."""

    def action(session: Session, mailing_list: MailingList, the_day: DeskEdition) -> Done:
        edition = find_edition(session, mailing_list, the_day.day, the_day.kind)
        if edition is None:
            raise EditionError(f"no {the_day} edition to approve: build it first")
        approve_edition(session=session, edition=edition, ignore_lint=ignore_lint)
        return "approved", 0

    return _act(request, slug, day, csrf, action, variant)
