"""One-click unsubscribe (RFC 8058) and the unsubscribe page, both at the `List-Unsubscribe` URL `/u/TOKEN`.

A POST unsubscribes at once and answers 200 with no redirect and no cookie: mail clients send
``List-Unsubscribe=One-Click`` without any session. Any POST to a valid link unsubscribes (the signed token
is the authority; prefetchers never POST), so a reader's wish is never lost to a malformed body. A GET never
unsubscribes, because link scanners open every link: it shows a page with the button.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from digest.db import open_session
from digest.delivery.queue import drop_queued
from digest.web.pages import (
    Form,
    engine_of,
    form_problem,
    links_of,
    message_page,
    not_found,
    page,
    pick_language,
    reads_of,
    run_reads,
    verified_reader_row,
    web_actor,
    writing,
)
from subscribers.models import SubscriptionStatus
from subscribers.store import unsubscribe

router = APIRouter()


@router.get("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: str) -> Response:
    """The page behind the link: one button for this list, one for everything, and the preference centre."""
    return await run_reads(request, _unsubscribe_page, request, token)


def _unsubscribe_page(request: Request, token: str) -> Response:
    with reads_of(request).connect() as connection:
        reader = verified_reader_row(request, connection, "unsubscribe", token)
    if reader is None:
        return not_found(request)
    return page(
        request,
        "subscribers/unsubscribe.html.j2",
        language=pick_language(request, reader.language),
        list_name=reader.list_name,
        email=reader.email,
        already=reader.status == SubscriptionStatus.UNSUBSCRIBED,
        action=f"/u/{token}",
        preferences_url=links_of(request).preferences_url(reader.subscriber_id, reader.list_id, reader.token_secret),
    )


@router.post("/u/{token}", response_class=HTMLResponse)
def one_click_unsubscribe(request: Request, token: str, submitted: Form) -> Response:
    """Unsubscribe from the token's list (``scope=all``: from every list); 200 every time, no redirect."""
    with writing(request), open_session(engine_of(request)) as session:
        # The reader as a plain row, then one UPDATE, one INSERT and one DELETE: no ORM objects loaded.
        reader = verified_reader_row(request, session.connection(), "unsubscribe", token)
        if reader is None:
            return not_found(request)
        language = pick_language(request, reader.language)
        # Only a body too large to read is refused: any other POST to a valid link unsubscribes.
        refusal = form_problem(request, submitted, language) if submitted.problem == 413 else None
        if refusal is not None:
            return refusal
        everything = submitted.form.get("scope") == "all"
        one_click = submitted.form.get("List-Unsubscribe") == "One-Click"
        left = None if everything else reader.list_id
        unsubscribe(
            session=session,
            subscriber_id=reader.subscriber_id,
            list_id=left,
            actor=web_actor(request),
            detail="everything" if everything else ("one-click" if one_click else "unsubscribe page"),
        )
        drop_queued(session, subscriber_id=reader.subscriber_id, list_id=left)
        session.commit()
    return message_page(
        request,
        language=language,
        kind="unsubscribed",
        link=(
            links_of(request).preferences_url(reader.subscriber_id, reader.list_id, reader.token_secret),
            "preferences",
        ),
    )
