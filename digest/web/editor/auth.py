"""Who may use the editor's pages (HTTP Basic, or open under `digest preview`) and the CSRF token of their forms."""

from __future__ import annotations

import base64
import binascii
import hmac
import math

from fastapi import APIRouter, Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from digest.settings import Settings
from digest.web.limits import Limit, client_key
from digest.web.pages import client_ip, rate_limits, settings_of

CSRF_MAX_AGE = 12 * 3600
# The editor's own pages: inline styles, the desk's own script file, the variants in frames of this site,
# nothing else; never framed.
EDITOR_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
        "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
# Failed editor logins: a few typos per client, and a ceiling for everyone together so that a guesser spread
# over many addresses gains nothing. Past either, every login (the right one too) waits for the window.
LOGIN_FAILURES_PER_CLIENT = Limit("editor-login-client", 10, 60.0)
LOGIN_FAILURES_EVERYONE = Limit("editor-login-all", 20, 60.0)


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


def editor_router() -> APIRouter:
    """A router for editor pages under ``/editor``, every route behind :func:`require_editor`."""
    return APIRouter(prefix="/editor", dependencies=[Depends(require_editor)])


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
