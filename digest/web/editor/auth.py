"""Who may use the editor's pages (HTTP Basic, or open under `digest preview`) and the CSRF token of their forms."""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import APIRouter, Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from digest.settings import Settings
from digest.web.pages import settings_of

CSRF_MAX_AGE = 12 * 3600


def require_editor(request: Request) -> None:
    """Let the editor in: HTTP Basic with DIGEST_EDITOR_PASSWORD, or no password under `digest preview`."""
    password = settings_of(request).editor_password
    if not password:
        if getattr(request.app.state, "editor_open", False):
            return
        raise HTTPException(403, "the editor is closed: set DIGEST_EDITOR_PASSWORD to open it")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    given = ""
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            given = ""
    if not hmac.compare_digest(given.encode("utf-8"), password.encode("utf-8")):
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
