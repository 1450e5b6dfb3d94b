"""What the editor's and the archive's routes share: the app's settings and engine, lists, page templates."""

from __future__ import annotations

from fastapi import HTTPException, Request
from jinja2 import Environment
from sqlalchemy import Engine
from sqlmodel import Session

from digest.errors import SubscriberError
from digest.render import make_environment, templates_root
from digest.settings import Settings
from subscribers.models import MailingList
from subscribers.store import get_list


def settings_of(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def engine_of(request: Request) -> Engine:
    """The app's database engine."""
    engine: Engine = request.app.state.engine
    return engine


def list_or_404(session: Session, slug: str) -> MailingList:
    """The list named ``slug``, or a 404 page."""
    try:
        return get_list(session=session, slug=slug)
    except SubscriberError as err:
        raise HTTPException(404, f"no list {slug!r}") from err


def pages_environment(language: str = "en") -> Environment:
    """The Jinja2 environment of the editor's (English) and the archive's (localised) pages."""
    return make_environment(language, folder=templates_root() / "web")


def cached_pages_environment(request: Request, language: str = "en") -> Environment:
    """The pages' environment in ``language``, built once per app."""
    state = request.app.state
    if not hasattr(state, "pages_environments"):
        state.pages_environments = {}
    cache: dict[str, Environment] = state.pages_environments
    if language not in cache:
        cache[language] = pages_environment(language)
    return cache[language]
