"""The readers' page at ``/editor/readers``: find a reader (``?q=``), see their lists, preferences, status,
consent log and last deliveries; unsubscribe, take back (with a recorded reason), erase (confirmed by typing
the address); import a CSV with the same per-row report as `digest subscribers import`.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from digest.db import open_session
from digest.delivery.queue import drop_queued
from digest.errors import DigestError
from digest.stats import last_deliveries
from digest.web.editor.auth import EDITOR_PAGE_HEADERS, _check_csrf, editor_router
from digest.web.editor.desk import editor_page_context
from digest.web.pages import cached_pages_environment, client_ip, engine_of, list_or_404, settings_of
from subscribers.directory import QUERY_MAX, REASON_MAX, consent_log, resubscribe, search_readers
from subscribers.importer import OUTCOMES, import_csv
from subscribers.models import MailingList, Subscriber
from subscribers.store import Actor, all_lists, reader_lists, remove_subscriber, unsubscribe

router = editor_router()
# An upload larger than this is refused before it is read further (about 100,000 readers).
IMPORT_MAX_BYTES = 10 * 1024 * 1024
READERS = "/editor/readers"


def _actor(request: Request) -> Actor:
    return Actor(source="editor", ip=client_ip(request), user_agent=request.headers.get("user-agent"))


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    frame = editor_page_context(request)
    html = cached_pages_environment(request, frame["ui"]).get_template(template).render(**frame, **context)
    return HTMLResponse(html, status_code=status_code, headers=EDITOR_PAGE_HEADERS)


def _back(url: str, **query: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?{urlencode(query)}" if query else url, status_code=303)


@router.get("/readers", response_class=HTMLResponse)
def readers_page(
    request: Request, q: Annotated[str, Query(max_length=QUERY_MAX)] = "", done: str = "", error: str = ""
) -> HTMLResponse:
    """Search readers by address or name, and the CSV import form."""
    with open_session(engine_of(request)) as session:
        found = search_readers(session=session, query=q)
        lists = [mailing_list for mailing_list, _ in all_lists(session=session)]
    return _render(
        request,
        "editor/readers.html.j2",
        q=q,
        found=found,
        lists=lists,
        default_list=settings_of(request).list_slug,
        done=done,
        error=error,
        report=None,
    )


@router.get("/readers/{subscriber_id}", response_class=HTMLResponse)
def reader_page(request: Request, subscriber_id: int, done: str = "", error: str = "") -> HTMLResponse:
    """One reader: lists and preferences, status, consent log, last deliveries, and what an editor may do."""
    with open_session(engine_of(request)) as session:
        reader = session.get(Subscriber, subscriber_id)
        if reader is None:
            raise HTTPException(404, "no such reader (erased, or never was)")
        context: dict[str, Any] = {
            "reader": reader,
            "memberships": reader_lists(session=session, subscriber_id=subscriber_id),
            "consents": consent_log(session=session, subscriber_id=subscriber_id),
            "deliveries": last_deliveries(session, subscriber_id=subscriber_id),
            "publication_timezone": settings_of(request).timezone,
        }
    return _render(request, "editor/reader.html.j2", **context, done=done, error=error, reason_max=REASON_MAX)


def _reader_url(subscriber_id: int) -> str:
    return f"{READERS}/{subscriber_id}"


@router.post("/readers/{subscriber_id}/unsubscribe")
def reader_unsubscribe(
    request: Request, subscriber_id: int, csrf: Annotated[str, Form()], list_slug: Annotated[str, Form(max_length=64)]
) -> Response:
    """Take the reader off one list (their queued deliveries of it too)."""
    _check_csrf(request, csrf)
    with open_session(engine_of(request)) as session:
        mailing_list = list_or_404(session, list_slug)
        unsubscribe(session=session, subscriber_id=subscriber_id, list_id=mailing_list.id, actor=_actor(request))
        drop_queued(session.connection(), subscriber_id=subscriber_id, list_id=mailing_list.id)
        session.commit()
    return _back(_reader_url(subscriber_id), done="unsubscribed")


@router.post("/readers/{subscriber_id}/resubscribe")
def reader_resubscribe(
    request: Request,
    subscriber_id: int,
    csrf: Annotated[str, Form()],
    list_slug: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=REASON_MAX)] = "",
) -> Response:
    """Take a reader who left back on a list, for the reason recorded in the consent log."""
    _check_csrf(request, csrf)
    with open_session(engine_of(request)) as session:
        mailing_list: MailingList = list_or_404(session, list_slug)
        assert mailing_list.id is not None
        try:
            resubscribe(
                session=session,
                subscriber_id=subscriber_id,
                list_id=mailing_list.id,
                actor=_actor(request),
                reason=reason,
            )
        except DigestError as err:
            session.rollback()
            return _back(_reader_url(subscriber_id), error=str(err))
        session.commit()
    return _back(_reader_url(subscriber_id), done="resubscribed")


@router.post("/readers/{subscriber_id}/erase")
def reader_erase(
    request: Request,
    subscriber_id: int,
    csrf: Annotated[str, Form()],
    confirm: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Erase the reader (GDPR), once the editor typed their address to confirm."""
    _check_csrf(request, csrf)
    with open_session(engine_of(request)) as session:
        reader = session.get(Subscriber, subscriber_id)
        if reader is None:
            raise HTTPException(404, "no such reader (erased, or never was)")
        if confirm.strip().casefold() != reader.email.casefold():
            return _back(_reader_url(subscriber_id), error="type the reader's address to confirm the erasure")
        remove_subscriber(session=session, email=reader.email, erase=True, actor=_actor(request))
        session.commit()
    return _back(READERS, done="erased")


@router.post("/readers/import", response_class=HTMLResponse)
def readers_import(
    request: Request,
    csrf: Annotated[str, Form()],
    file: Annotated[UploadFile, File()],
    list_slug: Annotated[str, Form(max_length=64)] = "",
    confirmed: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    """Import an uploaded CSV (UTF-8, as `digest subscribers import`) and show every row's outcome."""
    _check_csrf(request, csrf)
    raw = file.file.read(IMPORT_MAX_BYTES + 1)
    problem = ""
    report = None
    if len(raw) > IMPORT_MAX_BYTES:
        problem = f"the file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB: split it and import each part"
    else:
        try:
            lines = raw.decode("utf-8-sig").splitlines(keepends=True)
        except UnicodeDecodeError as err:
            problem = f"the file is not UTF-8 text ({err.reason} at byte {err.start}): save it as 'CSV UTF-8'"
        else:
            with open_session(engine_of(request)) as session:
                mailing_list = list_or_404(session, list_slug or settings_of(request).list_slug)
                try:
                    report = import_csv(lines, session=session, mailing_list=mailing_list, confirmed=confirmed)
                    session.commit()
                except DigestError as err:
                    session.rollback()
                    problem = str(err)
    with open_session(engine_of(request)) as session:
        lists = [mailing_list for mailing_list, _ in all_lists(session=session)]
    return _render(
        request,
        "editor/readers.html.j2",
        status_code=400 if problem else 200,
        q="",
        found=[],
        lists=lists,
        default_list=list_slug or settings_of(request).list_slug,
        done="",
        error=problem,
        report=report,
        outcomes=OUTCOMES,
        file_name=file.filename or "",
        confirmed=confirmed,
    )
