"""The editor's pages: preview, adjust, send tests, approve (behind DIGEST_EDITOR_PASSWORD).

`digest serve` mounts them at `/editor`; `digest preview` serves them on the editor's own machine without a
password, and `digest preview --output DIR` writes the same page as static files (:func:`write_static`).
Every change (pin, drop, intro) is stored with the edition and rebuilds it, so what is previewed is what
is sent.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from digest.db import open_session
from digest.delivery import Mailing, preview_fields, send_test
from digest.edition import (
    approve_edition,
    ensure_edition,
    find_edition,
    load_choices,
    load_selection,
    variant_key,
)
from digest.errors import DigestError, EditionError, SubscriberError
from digest.lint import load_issues
from digest.mail import open_backend
from digest.models import Edition, EditionStatus, EditionVariant
from digest.personalize import Personalizable
from digest.selection import EditorChoices
from digest.settings import Settings
from digest.web.limits import Limit, client_key
from digest.web.pages import (
    EMAIL_PAGE_HEADERS,
    cached_pages_environment,
    client_ip,
    engine_of,
    list_or_404,
    pages_environment,
    rate_limits,
    settings_of,
)
from subscribers.addresses import normalize_email
from subscribers.inputs import CONTROL_CHARACTERS
from subscribers.models import MailingList

TEST_RECIPIENTS_MAX = 10
CSRF_MAX_AGE = 12 * 3600
_DARK_QUERY = "(prefers-color-scheme: dark)"
# The editor's own page: inline styles, the variants in frames of this site, nothing else; never framed.
EDITOR_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; frame-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
# Line breaks and tabs are fine in the editor's note; the other control characters are not.
_NOTE_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Failed editor logins: a few typos per client, and a ceiling for everyone together so that a guesser spread
# over many addresses gains nothing. Past either, every login (the right one too) waits for the window.
LOGIN_FAILURES_PER_CLIENT = Limit("editor-login-client", 10, 60.0)
LOGIN_FAILURES_EVERYONE = Limit("editor-login-all", 20, 60.0)
# The outcomes an action reports back to the page, as codes in the redirect: the page's wording is its own,
# so a link cannot make the editor's page say anything else.
DONE = {
    "rebuilt": "rebuilt from the sources",
    "featured": "article featured",
    "dropped": "article dropped",
    "restored": "article restored",
    "intro": "intro saved",
    "test_sent": "test sent to {count} address(es)",
    "approved": "approved: `digest send` will mail it",
}


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
    """One variant as the page lists it, with where to load its renderings."""

    key: str
    label: str
    html_url: str
    dark_url: str
    text: str
    subject: str


# --- Changes an editor makes ------------------------------------------------------------------------


def pin(choices: EditorChoices, url: str) -> EditorChoices:
    """Feature ``url`` (and stop excluding it)."""
    return replace(choices, featured=url, exclude=choices.exclude - {url})


def drop(choices: EditorChoices, url: str) -> EditorChoices:
    """Leave ``url`` out of the edition (unpinning it if it was featured)."""
    return replace(
        choices, featured=None if choices.featured == url else choices.featured, exclude=choices.exclude | {url}
    )


def restore(choices: EditorChoices, url: str) -> EditorChoices:
    """Take ``url`` back in."""
    return replace(choices, exclude=choices.exclude - {url})


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
) -> Edition:
    """Apply ``change`` to the edition's stored choices and rebuild it from the sources as a draft."""
    return ensure_edition(session=session, settings=settings, mailing_list=mailing_list, day=day, change=change)


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
) -> dict[str, Any]:
    """What the editor's page shows for one day's edition, variant ``current`` (default: the first) in front.

    ``url_of(variant, dark)`` says where the page loads a variant's rendering from.
    """
    edition = find_edition(session, mailing_list, day)
    context: dict[str, Any] = {"list": mailing_list, "day": day, "edition": edition, "settings": settings}
    if edition is None:
        return context
    choices = load_choices(edition.choices_json)
    variants = [
        VariantView(
            key=v.key,
            label=_label(v),
            html_url=url_of(v, False),
            dark_url=url_of(v, True),
            text=fill_for_preview(v.text, settings.base_url),
            subject=v.subject,
        )
        for v in _variants(session, edition, settings.language)
    ]
    context.update(
        selection=load_selection(edition.selection_json),
        choices=choices,
        excluded=sorted(choices.exclude),
        issues=load_issues(edition.lint_json),
        variants=variants,
        shown=next((v for v in variants if v.key == current), variants[0]),
        editable=edition.status in (EditionStatus.DRAFT, EditionStatus.APPROVED),
    )
    return context


def write_static(
    *, session: Session, settings: Settings, mailing_list: MailingList, day: date, folder: Path
) -> list[Path]:
    """Write the editor's page for ``day`` and every variant (light, dark, text) as files under ``folder``."""
    edition = find_edition(session, mailing_list, day)
    if edition is None:
        raise EditionError(f"no {day} edition of {mailing_list.slug}: run `digest build --date {day}` first")
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
    )
    index = folder / "index.html"
    page = pages_environment().get_template("editor/page.html.j2")
    index.write_text(page.render(context, static=True), encoding="utf-8")
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


def require_editor(request: Request) -> None:
    """Let the editor in: HTTP Basic with DIGEST_EDITOR_PASSWORD, or no password under `digest preview`."""
    password = settings_of(request).editor_password
    if not password:
        if getattr(request.app.state, "editor_open", False):
            return
        raise HTTPException(403, "the editor is closed: set DIGEST_EDITOR_PASSWORD to open it")
    limits, client = rate_limits(request), client_key(client_ip(request))
    wait = limits.blocked(LOGIN_FAILURES_EVERYONE, "all") or limits.blocked(LOGIN_FAILURES_PER_CLIENT, client)
    if wait is not None:
        raise HTTPException(
            429, "too many failed logins: try again later", headers={"Retry-After": str(math.ceil(wait))}
        )
    header = request.headers.get("authorization")
    scheme, _, encoded = (header or "").partition(" ")
    given = ""
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            given = ""
    if not hmac.compare_digest(given.encode("utf-8"), password.encode("utf-8")):
        if header is not None:  # a browser's first request carries no password: that is no failure
            limits.count(LOGIN_FAILURES_EVERYONE, "all")
            limits.count(LOGIN_FAILURES_PER_CLIENT, client)
        raise HTTPException(
            401, "editor password required", headers={"WWW-Authenticate": 'Basic realm="digest editor"'}
        )


router = APIRouter(prefix="/editor", dependencies=[Depends(require_editor)])


def _csrf(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(reversed(settings.signing_keys())), salt="digest.editor")


def csrf_token(settings: Settings) -> str:
    """A fresh token for the editor's forms (they are refused without one)."""
    return str(_csrf(settings).dumps("editor"))


def _check_csrf(request: Request, token: str) -> None:
    try:
        _csrf(settings_of(request)).loads(token, max_age=CSRF_MAX_AGE)
    except BadSignature as err:
        raise HTTPException(403, "the form expired: reload the page and try again") from err


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise HTTPException(404, f"{value!r} is not a date like 2025-11-27") from err


def _page_url(slug: str, day: date, **query: str) -> str:
    suffix = f"?{urlencode(query)}" if query else ""
    return f"/editor/{quote(slug)}/{day.isoformat()}{suffix}"


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def editor_home(request: Request) -> RedirectResponse:
    """Today's edition of the default list."""
    settings = settings_of(request)
    return RedirectResponse(_page_url(settings.list_slug, datetime.now(settings.tz).date()), status_code=303)


@router.get("/{slug}/{day}", response_class=HTMLResponse)
def editor_page(
    request: Request, slug: str, day: str, done: str = "", count: int = 0, variant: str = ""
) -> HTMLResponse:
    """The preview and controls for one day's edition; ``done`` names what the last action did (DONE)."""
    return _editor_page(request, slug, _parse_day(day), message=DONE.get(done, "").format(count=count), variant=variant)


def _editor_page(
    request: Request, slug: str, the_day: date, *, message: str = "", error: str = "", variant: str = ""
) -> HTMLResponse:
    settings = settings_of(request)
    with open_session(engine_of(request)) as session:
        mailing_list = list_or_404(session, slug)
        base = _page_url(slug, the_day)

        def url_of(v: EditionVariant, dark: bool) -> str:
            return f"{base}/variant?{urlencode({'key': v.key, **({'dark': '1'} if dark else {})})}"

        context = page_context(
            session=session, settings=settings, mailing_list=mailing_list, day=the_day, url_of=url_of, current=variant
        )
    html = (
        cached_pages_environment(request)
        .get_template("editor/page.html.j2")
        .render(context, static=False, base=base, message=message, error=error, csrf=csrf_token(settings))
    )
    return HTMLResponse(html, status_code=400 if error else 200, headers=EDITOR_PAGE_HEADERS)


def _variant(session: Session, mailing_list: MailingList, day: date, key: str) -> tuple[Edition, EditionVariant]:
    edition = find_edition(session, mailing_list, day)
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


@router.get("/{slug}/{day}/variant", response_class=HTMLResponse)
def editor_variant(request: Request, slug: str, day: str, key: str, dark: bool = False) -> HTMLResponse:
    """One variant's HTML as readers get it (stand-in links), optionally as dark-mode clients show it."""
    with open_session(engine_of(request)) as session:
        _, variant = _variant(session, list_or_404(session, slug), _parse_day(day), key)
    html = fill_for_preview(variant.html, settings_of(request).base_url)
    return HTMLResponse(force_dark(html) if dark else html, headers={"Cache-Control": "no-store", **EMAIL_PAGE_HEADERS})


@router.get("/{slug}/{day}/variant.txt", response_class=PlainTextResponse)
def editor_variant_text(request: Request, slug: str, day: str, key: str) -> PlainTextResponse:
    """One variant's plain-text part."""
    with open_session(engine_of(request)) as session:
        _, variant = _variant(session, list_or_404(session, slug), _parse_day(day), key)
    return PlainTextResponse(fill_for_preview(variant.text, settings_of(request).base_url), headers=EDITOR_PAGE_HEADERS)


# An action returns the DONE code of what it did, and the query of the page that reports it.
Action = Callable[[Session, MailingList, date], dict[str, str]]


def _act(request: Request, slug: str, day: str, csrf: str, action: Action) -> Response:
    """Run one editor action, then come back to the page saying what it did (POST, redirect, GET); a refused
    action shows the page with the reason at once (no redirect carries text the page would show)."""
    _check_csrf(request, csrf)
    the_day = _parse_day(day)
    with open_session(engine_of(request)) as session:
        mailing_list = list_or_404(session, slug)
        try:
            done = action(session, mailing_list, the_day)
        except DigestError as err:
            session.rollback()
            failed = str(err)
        else:
            return RedirectResponse(_page_url(slug, the_day, **done), status_code=303)
    return _editor_page(request, slug, the_day, error=failed)


def _change(request: Request, change: Callable[[EditorChoices], EditorChoices], done: str) -> Action:
    def action(session: Session, mailing_list: MailingList, day: date) -> dict[str, str]:
        rebuild(session=session, settings=settings_of(request), mailing_list=mailing_list, day=day, change=change)
        return {"done": done}

    return action


Token = Annotated[str, Form()]
Url = Annotated[str, Form(min_length=1, max_length=2000)]


@router.post("/{slug}/{day}/build")
def editor_build(request: Request, slug: str, day: str, csrf: Token) -> Response:
    """Build (or rebuild) the edition from the sources, keeping the editor's choices."""
    return _act(request, slug, day, csrf, _change(request, lambda c: c, "rebuilt"))


@router.post("/{slug}/{day}/pin")
def editor_pin(request: Request, slug: str, day: str, csrf: Token, url: Url) -> Response:
    """Feature another article."""
    return _act(request, slug, day, csrf, _change(request, lambda c: pin(c, url), "featured"))


@router.post("/{slug}/{day}/drop")
def editor_drop(request: Request, slug: str, day: str, csrf: Token, url: Url) -> Response:
    """Leave an article out."""
    return _act(request, slug, day, csrf, _change(request, lambda c: drop(c, url), "dropped"))


@router.post("/{slug}/{day}/restore")
def editor_restore(request: Request, slug: str, day: str, csrf: Token, url: Url) -> Response:
    """Take a dropped article back."""
    return _act(request, slug, day, csrf, _change(request, lambda c: restore(c, url), "restored"))


@router.post("/{slug}/{day}/intro")
def editor_intro(
    request: Request, slug: str, day: str, csrf: Token, intro: Annotated[str, Form(max_length=1000)] = ""
) -> Response:
    """Write the short note shown above the headlines (several lines, but no other control character)."""
    if _NOTE_CONTROLS.search(intro):
        return _editor_page(request, slug, _parse_day(day), error="the intro must not contain control characters")
    return _act(request, slug, day, csrf, _change(request, lambda c: with_intro(c, intro), "intro"))


@router.post("/{slug}/{day}/test")
def editor_test(
    request: Request,
    slug: str,
    day: str,
    csrf: Token,
    to: Annotated[str, Form(max_length=2000)],
    key: Annotated[str, Form()] = "",
) -> Response:
    """Send one variant to a few addresses."""

    def action(session: Session, mailing_list: MailingList, the_day: date) -> dict[str, str]:
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
        return {"done": "test_sent", "count": str(len(results))}

    return _act(request, slug, day, csrf, action)


@router.post("/{slug}/{day}/approve")
def editor_approve(
    request: Request,
    slug: str,
    day: str,
    csrf: Token,
    ignore_lint: Annotated[bool, Form()] = False,
) -> Response:
    """Approve the edition for sending."""

    def action(session: Session, mailing_list: MailingList, the_day: date) -> dict[str, str]:
        edition = find_edition(session, mailing_list, the_day)
        if edition is None:
            raise EditionError(f"no {the_day} edition to approve: build it first")
        approve_edition(session=session, edition=edition, ignore_lint=ignore_lint)
        return {"done": "approved"}

    return _act(request, slug, day, csrf, action)
