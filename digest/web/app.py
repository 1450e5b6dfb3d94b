"""The web app: one FastAPI application built from the settings by :func:`create_app`."""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, RedirectResponse
from sqlalchemy import Engine
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest import __version__
from digest.db import make_engine, with_stored_secret
from digest.mail.transactional import QueueSender
from digest.settings import Settings
from digest.web import archive, editor, subscribe, unsubscribe, webhooks
from digest.web.limits import make_rate_limits


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """The whole web app for ``settings``; tests pass their own engine."""
    engine = engine or make_engine(settings.database_url)
    settings = with_stored_secret(settings, engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Confirmation mail the mail server could not take is retried from here (digest.mail.transactional).
        sender = QueueSender(engine, settings)
        sender.start()
        yield
        sender.stop()

    app = FastAPI(
        title="digest", version=__version__, docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.engine = engine
    sqlite = engine.dialect.name == "sqlite"
    # pysqlite begins no transaction for a SELECT already, and switching a connection to autocommit and back
    # costs SQLite more (a PRAGMA each way) than it saves.
    app.state.read_engine = engine if sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
    app.state.sqlite_writes = threading.Lock() if sqlite else None
    app.state.settings = settings
    app.state.rate_limits = make_rate_limits(settings.redis_url, engine)
    # The readers' busiest pages first, as plain Starlette routes (digest.web.pages.PlainRoute).
    app.router.routes.extend([*subscribe.plain_routes, *unsubscribe.plain_routes])
    for module in (subscribe, unsubscribe, editor, archive, webhooks):
        app.include_router(module.router)
    app.add_middleware(SiteGuard)
    webhooks.warn_if_closed(settings)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        """The site's front door is the subscribe form."""
        return RedirectResponse("/subscribe", status_code=303)

    return app


# The paths whose second segment is a reader's signed token.
_TOKEN_PATH = re.compile(r"^/([ucp])/[^/?#]+")


class ScrubTokens(logging.Filter):
    """Cut readers' tokens out of uvicorn's access log lines: a log line is no place for a key to someone's
    subscription."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], _TOKEN_PATH.sub(r"/\1/…", args[2]), *args[3:])
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with :class:`ScrubTokens` on the access log (`serve`, `preview`)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["scrub_tokens"] = {"()": ScrubTokens}
    config["loggers"]["uvicorn.access"]["filters"] = ["scrub_tokens"]
    return config


# Hosts `digest preview` answers besides DIGEST_BASE_URL's: it listens on this machine only.
PREVIEW_HOSTS = ("localhost", "127.0.0.1", "[::1]")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Every answer gets these unless its route set its own: no sniffing, no framing, no leaking the URL.
BASELINE_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
)


def _host_name(host: str) -> str:
    """``host`` (a Host header or URL authority) without its port, lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}".lower()


class SiteGuard:
    """Refuses requests not meant for this site before any route runs, and secures every answer.

    - ``Host`` must be DIGEST_BASE_URL's host (plus this machine's names under `digest preview`): a page on
      another domain that points its name at this server (DNS rebinding) gets 421.
    - A POST (PUT, PATCH, DELETE) whose ``Origin`` is another site, or that the browser marks
      ``Sec-Fetch-Site: cross-site``, gets 403: no other site can submit our forms. ``Origin: null`` (our own
      forms under ``Referrer-Policy: no-referrer``) and no Origin at all (mail providers' one-click
      unsubscribe, SendGrid) pass: the tokens are the authority there.
    - Answers get ``BASELINE_HEADERS`` they do not set themselves.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        settings: Settings = state.settings
        headers = Headers(scope=scope)
        preview = bool(getattr(state, "editor_open", False))
        allowed_hosts = {_host_name(settings.base_url.partition("://")[2].split("/", 1)[0])}
        if preview:
            allowed_hosts.update(PREVIEW_HOSTS)
        if _host_name(headers.get("host", "")) not in allowed_hosts:
            await PlainTextResponse("unknown host", status_code=421)(scope, receive, send)
            return
        if scope["method"] in UNSAFE_METHODS and not self._same_site(headers, settings.base_url, preview):
            await PlainTextResponse("cross-site request refused", status_code=403)(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in BASELINE_HEADERS if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, secured)

    @staticmethod
    def _same_site(headers: Headers, base_url: str, preview: bool) -> bool:
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            return False
        origin = headers.get("origin")
        if origin is None or origin == "null":
            return True
        if _origin(origin) == _origin(base_url):
            return True
        return preview and _host_name(origin.partition("://")[2]) in PREVIEW_HOSTS
