"""What the web routes share: the app's settings and engine, lists, page templates, and for the readers'
pages security headers, bounded form bodies, signed-link lookup, client addresses and rate limits.

The readers' pages need no JavaScript and no cookies, except the preference centre's CSRF cookie. Every
answer to a link with a token carries ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store`` so the
token never leaks to another site or a shared cache.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Environment, pass_context
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.runtime import Context
from markupsafe import Markup
from sqlalchemy import Connection, Engine
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import Scope

from digest.db import open_session
from digest.errors import SubscriberError
from digest.links import BadToken, Links
from digest.render import RTL_LANGUAGES, load_translations, make_environment, templates_root
from digest.settings import Settings
from digest.web.limits import RateLimits, peer_address
from subscribers.inputs import CONTROL_CHARACTERS, check_slug
from subscribers.models import MailingList
from subscribers.store import (
    LANGUAGES,
    Actor,
    Reader,
    ReaderChoices,
    ReaderRow,
    find_reader,
    find_reader_choices,
    find_reader_row,
    get_list,
)

# Each language named in itself, for the language menus.
LANGUAGE_NAMES = {"fr": "Français", "en": "English", "ar": "العربية"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
# An email shown as a page runs no script, whatever its content, and only this site may frame it.
# An email shown as a page runs no script, whatever its content, posts no form, and only this site may frame it
# (the editor's page does).
EMAIL_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "script-src 'none'; object-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
T = TypeVar("T")
# Forms on these pages are a few hundred bytes; anything much larger is refused before it is parsed.
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 200
URLENCODED = "application/x-www-form-urlencoded"


def settings_of(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def engine_of(request: Request) -> Engine:
    """The app's database engine."""
    engine: Engine = request.app.state.engine
    return engine


def reads_of(request: Request) -> Engine:
    """The app's engine for pages that only read: on PostgreSQL in autocommit, so a page costs its queries and
    no BEGIN and ROLLBACK round trips around them. Each query sees the data committed when it runs."""
    engine: Engine = request.app.state.read_engine
    return engine


def one_statement_writes_of(request: Request) -> Engine:
    """The app's engine for a handler whose write is one statement on PostgreSQL (:func:`digest.leaving.leave`):
    there in autocommit, so the statement is committed as it returns, without BEGIN and COMMIT round trips;
    on SQLite the app's engine, and the handler's commit ends its transaction."""
    return reads_of(request)


async def run_reads(request: Request, function: Callable[..., T], *args: Any) -> T:
    """Run ``function`` (a page's reads and rendering) on the event loop when the database is SQLite, else on a
    worker thread. SQLite reads never wait (in WAL mode the writer does not block readers) and cost less than
    the hop to a thread and back; a server database is a round trip per query, which the loop must not sit
    through while other requests wait."""
    if engine_of(request).dialect.name == "sqlite":
        return function(*args)
    return await run_in_threadpool(function, *args)


def writing(request: Request) -> AbstractContextManager[object]:
    """Held around a handler's write transaction: on SQLite, one writer of this process at a time, handed over
    at once (SQLite allows one writer anyway, and its busy handler would sleep-poll for the lock: tens of ms
    of tail latency under concurrent one-click unsubscribes); nothing on a server database."""
    lock: threading.Lock | None = getattr(request.app.state, "sqlite_writes", None)
    return lock if lock is not None else contextlib.nullcontext()


def list_or_404(session: Session, slug: str) -> MailingList:
    """The list named ``slug``, or a 404 page (also for a slug no list can have, before any query)."""
    try:
        return get_list(session=session, slug=check_slug(slug, existing=True))
    except SubscriberError as err:
        raise HTTPException(404, f"no list {slug!r}") from err


class ConstantTranslations(Extension):
    """Translates each ``_("literal")`` once, when a template is compiled, instead of on every render (the
    preference page has two dozen): the environment speaks one language, so the text is a constant. The value
    is what newstyle gettext gives at run time, ``Markup(translated) % {}``, written as
    ``("translated"|safe)``; a call with arguments stays a call."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        translate: Callable[[str], str] = self.environment.constant_gettext  # type: ignore[attr-defined]
        tokens = list(stream)
        at = 0
        while at < len(tokens):
            shape = tuple((token.type, token.value if token.type == "name" else "") for token in tokens[at : at + 4])
            after_dot = at > 0 and tokens[at - 1].type == "dot"
            if shape == _GETTEXT_CALL and not after_dot:
                try:
                    text = translate(tokens[at + 2].value) % {}
                except (TypeError, ValueError, KeyError):
                    text = None  # a literal newstyle gettext would refuse too: left to fail as it would
                if text is not None:
                    line = tokens[at].lineno
                    yield from (
                        Token(line, "lparen", "("),
                        Token(line, "string", text),
                        Token(line, "pipe", "|"),
                        Token(line, "name", "safe"),
                        Token(line, "rparen", ")"),
                    )
                    at += 4
                    continue
            yield tokens[at]
            at += 1


_GETTEXT_CALL = (("name", "_"), ("lparen", ""), ("string", ""), ("rparen", ""))


def _formatting_gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    """The ``_`` of the calls :class:`ConstantTranslations` leaves (those with arguments): what newstyle
    gettext does, ``Markup(translated) % arguments`` (a plain string's ``%`` without autoescaping), called
    directly instead of through two context calls (a third of such a call's cost)."""

    @pass_context
    def _(context: Context, text: str, **arguments: Any) -> str:
        translated = translate(text)
        return (Markup(translated) if context.eval_ctx.autoescape else translated) % arguments

    return _


def pages_environment(language: str = "en") -> Environment:
    """The Jinja2 environment of the editor's (English) and the archive's (localised) pages."""
    environment = make_environment(language, folder=templates_root() / "web")
    translate = load_translations(language).gettext
    environment.extend(constant_gettext=translate)
    environment.add_extension(ConstantTranslations)
    environment.globals["_"] = _formatting_gettext(translate)
    # Templates are compiled once per process: no look at the files' times on every page (a changed template is
    # seen at the next start, as a changed module is).
    environment.auto_reload = False
    return environment


def cached_pages_environment(request: Request, language: str = "en") -> Environment:
    """The pages' environment in ``language``, built once per app."""
    state = request.app.state
    if not hasattr(state, "pages_environments"):
        state.pages_environments = {}
    cache: dict[str, Environment] = state.pages_environments
    if language not in cache:
        cache[language] = pages_environment(language)
    return cache[language]


async def db_session(request: Request) -> AsyncIterator[Session]:
    """A database session for one request (FastAPI dependency).

    Async so that FastAPI opens and closes it on the event loop instead of hopping to a worker thread twice
    per request: making a Session touches no database, and closing it hands its connection back to the pool.
    """
    with open_session(engine_of(request)) as session:
        yield session


def links_of(request: Request) -> Links:
    """The signer of the readers' links, built once per app from its settings (its keys derived once)."""
    state = request.app.state
    links: Links | None = getattr(state, "links", None)
    if links is None:
        links = state.links = Links.from_settings(settings_of(request))
    return links


def verified_reader(request: Request, session: Session, purpose: str, token: str) -> Reader | None:
    """The reader a ``purpose`` token names, or None when forged, tampered, expired or erased (answer 404)."""
    return _verified(
        request,
        purpose,
        token,
        lambda reader, mailing_list: find_reader(session=session, subscriber_id=reader, list_id=mailing_list),
        lambda found: found.subscriber.token_secret,
    )


def verified_reader_row(request: Request, connection: Connection, purpose: str, token: str) -> ReaderRow | None:
    """:func:`verified_reader` as a plain row (the unsubscribe page and one-click unsubscribe)."""
    return _verified(
        request,
        purpose,
        token,
        lambda reader, mailing_list: find_reader_row(connection=connection, subscriber_id=reader, list_id=mailing_list),
        lambda found: found.token_secret,
    )


def verified_reader_choices(request: Request, connection: Connection, purpose: str, token: str) -> ReaderChoices | None:
    """:func:`verified_reader_row` with the lists beside it, from one query (the preference page)."""
    return _verified(
        request,
        purpose,
        token,
        lambda reader, mailing_list: find_reader_choices(
            connection=connection, subscriber_id=reader, list_id=mailing_list
        ),
        lambda found: found.reader.token_secret,
    )


def _verified(
    request: Request,
    purpose: str,
    token: str,
    find: Callable[[int, int], T | None],
    secret: Callable[[T], str],
) -> T | None:
    """What ``find`` (subscriber id, list id) returns for the reader the token claims, once the token is proved
    signed with that reader's ``secret``; None when it is not (forged, tampered, expired, erased)."""
    links = links_of(request)
    try:
        claimed = links.claim(purpose, token)
        found = find(claimed.subscriber_id, claimed.list_id)
        links.verify(purpose, token, secret(found) if found is not None else None)
    except BadToken:
        return None
    return found


def web_actor(request: Request) -> Actor:
    """The consent log's record of who acted: the web, with the client's address and user agent."""
    agent = request.headers.get("user-agent")
    return Actor(source="web", ip=client_ip(request), user_agent=CONTROL_CHARACTERS.sub("", agent) if agent else None)


def pick_language(request: Request, *candidates: str | None) -> str:
    """The first of ``candidates`` digest speaks, else the browser's preferred one, else DIGEST_LANGUAGE."""
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate
    ranked: list[tuple[float, str]] = []
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((weight, tag.split("-")[0].lower()))
    for _, tag in sorted(ranked, key=lambda item: -item[0]):
        if tag in LANGUAGES:
            return tag
    return settings_of(request).language


def page(
    request: Request,
    template: str,
    *,
    language: str,
    status_code: int = 200,
    spliced: Mapping[str, bytes] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` in ``language`` with the publication's name, as a secured HTML answer.

    ``spliced``: values that are HTML already, in UTF-8, put into the encoded page where the template shows
    them instead of going through the template and the encoding (the preference page's 30 KB of time-zone
    options cost more to encode on every page than the rest of it).
    """
    settings = settings_of(request)
    markers = {name: f"<!--{_SPLICE}:{name}-->" for name in spliced or ()}
    html = (
        cached_pages_environment(request, language)
        .get_template(template)
        .render(
            lang=language,
            dir="rtl" if language in RTL_LANGUAGES else "ltr",
            publication=settings.publication_name,
            postal_address=settings.postal_address,
            **context,
            **{name: Markup(marker) for name, marker in markers.items()},
        )
    )
    body = html.encode()
    for name, value in (spliced or {}).items():
        body = body.replace(markers[name].encode(), value)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


# Stands for a spliced value in a rendered page: random, so that no reader's data can contain it.
_SPLICE = secrets.token_hex(16)


def message_page(
    request: Request,
    *,
    language: str,
    kind: str,
    status_code: int = 200,
    link: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page that says one thing (``kind``: check_inbox, not_found, too_many...), localised.

    ``link`` is (URL, label kind: preferences or reload).
    """
    response = page(
        request, "subscribers/message.html.j2", language=language, status_code=status_code, kind=kind, link=link
    )
    response.headers.update(headers or {})
    return response


def not_found(request: Request) -> HTMLResponse:
    """The one answer to a forged, tampered, expired or stale link: 404, saying nothing about why."""
    return message_page(request, language=pick_language(request), kind="not_found", status_code=404)


@dataclass(frozen=True, slots=True)
class Submitted:
    """A POSTed form, or the HTTP status that refuses it (413 too large, 400 malformed)."""

    form: FormData
    problem: int | None = None


def form_problem(request: Request, submitted: Submitted, language: str) -> HTMLResponse | None:
    """The page refusing a form that could not be read (413 or 400), or None when it was read."""
    if submitted.problem == 413:
        return message_page(request, language=language, kind="too_large", status_code=413)
    if submitted.problem:
        return message_page(request, language=language, kind="bad_request", status_code=400)
    return None


async def read_form(request: Request) -> Submitted:
    """The request's form, read with a size cap so a huge body is refused before it is parsed (dependency)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return Submitted(FormData(), 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return Submitted(FormData(), 413)
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() == URLENCODED:
        # What Starlette's parser gives (fields split on "&", each unquoted from its latin-1 text as UTF-8),
        # without its streaming parser's callbacks (7-8% of a one-click unsubscribe).
        try:
            fields: list[tuple[str, str | UploadFile]] = list(
                parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
            )
        except ValueError:
            return Submitted(FormData(), 400)
        return Submitted(FormData(fields))
    # Starlette parses the form from the cached body instead of the stream we just read.
    request._body = bytes(body)
    try:
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    except StarletteHTTPException:
        return Submitted(FormData(), 400)
    return Submitted(form)


class PlainRoute(Route):
    """A reader's page answered by a plain Starlette endpoint, ahead of the FastAPI routes: FastAPI's parameter
    and dependency layer was a tenth of the preference page's CPU. It takes one method only (no HEAD), and
    only requests whose query string ``query`` matches; any other falls through to the FastAPI route of the
    same path (if any), which answers, or refuses (422), it as before. Without ``query``, any query."""

    def __init__(
        self, path: str, endpoint: Callable[..., Any], *, method: str, query: re.Pattern[bytes] | None = None
    ) -> None:
        super().__init__(path, endpoint, methods=[method])
        self.method = method
        self.query = query

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match.FULL for its method and a query it reads, else Match.NONE (no 405: another route may take it)."""
        if scope["type"] != "http" or scope["method"] != self.method:
            return Match.NONE, {}
        if self.query is not None and not self.query.fullmatch(scope["query_string"]):
            return Match.NONE, {}
        return super().matches(scope)


DbSession = Annotated[Session, Depends(db_session)]
Form = Annotated[Submitted, Depends(read_form)]


def client_ip(request: Request) -> str:
    """The client's address: the connection's, or behind a proxy listed in DIGEST_TRUSTED_PROXIES the address
    that proxy says it forwarded for (X-Forwarded-For from anyone else is ignored)."""
    return peer_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        settings_of(request).trusted_proxies,
    )


def rate_limits(request: Request) -> RateLimits:
    """The app's rate limits (shared between processes when Redis or PostgreSQL hold them)."""
    limits: RateLimits = request.app.state.rate_limits
    return limits
