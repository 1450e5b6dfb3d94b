"""The web app: one FastAPI application built from the settings by :func:`create_app`."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine

from digest import __version__
from digest.db import make_engine, with_stored_secret
from digest.settings import Settings
from digest.web import archive, editor, subscribe, unsubscribe, webhooks


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """The whole web app for ``settings``; tests pass their own engine."""
    app = FastAPI(title="digest", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.settings = settings = with_stored_secret(settings, app.state.engine)
    for module in (subscribe, unsubscribe, editor, archive, webhooks):
        app.include_router(module.router)
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
