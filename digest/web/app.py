"""The web app: one FastAPI application built from the settings by :func:`create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine

from digest import __version__
from digest.db import make_engine
from digest.mail.transactional import QueueSender
from digest.settings import Settings
from digest.web import archive, editor, subscribe, unsubscribe, webhooks


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """The whole web app for ``settings``; tests pass their own engine."""
    engine = engine or make_engine(settings.database_url)

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
    app.state.settings = settings
    app.state.engine = engine
    for module in (subscribe, unsubscribe, editor, archive, webhooks):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        """The site's front door is the subscribe form."""
        return RedirectResponse("/subscribe", status_code=303)

    return app
