"""One-click unsubscribe (RFC 8058) and the unsubscribe page, both at the `List-Unsubscribe` URL `/u/TOKEN`.

A POST unsubscribes at once and answers 200 with no redirect and no cookie: mail clients send
``List-Unsubscribe=One-Click`` without any session. Any POST to a valid link unsubscribes (the signed token
is the authority; prefetchers never POST), so a reader's wish is never lost to a malformed body. A GET never
unsubscribes, because link scanners open every link: it shows a page with the button.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from digest.leaving import leave
from digest.web.pages import (
    PlainRoute,
    Submitted,
    form_problem,
    links_of,
    message_page,
    not_found,
    one_statement_writes_of,
    page,
    pick_language,
    read_form,
    reads_of,
    run_reads,
    verified_reader_row,
    web_actor,
    writing,
)
from subscribers.models import SubscriptionStatus

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


async def one_click_unsubscribe(request: Request) -> Response:
    """Unsubscribe from the token's list (``scope=all``: from every list); 200 every time, no redirect."""
    submitted = await read_form(request)
    return await run_in_threadpool(_one_click_unsubscribe, request, request.path_params["token"], submitted)


def _one_click_unsubscribe(request: Request, token: str, submitted: Submitted) -> Response:
    # The reader as a plain row, then leave(): on PostgreSQL one statement, committed as it returns; on SQLite
    # committed as the block ends.
    with writing(request), one_statement_writes_of(request).begin() as connection:
        reader = verified_reader_row(request, connection, "unsubscribe", token)
        if reader is None:
            return not_found(request)
        language = pick_language(request, reader.language)
        # Only a body too large to read is refused: any other POST to a valid link unsubscribes.
        refusal = form_problem(request, submitted, language) if submitted.problem == 413 else None
        if refusal is not None:
            return refusal
        everything = submitted.form.get("scope") == "all"
        one_click = submitted.form.get("List-Unsubscribe") == "One-Click"
        leave(
            connection=connection,
            subscriber_id=reader.subscriber_id,
            list_id=None if everything else reader.list_id,
            actor=web_actor(request),
            detail="everything" if everything else ("one-click" if one_click else "unsubscribe page"),
        )
    return message_page(
        request,
        language=language,
        kind="unsubscribed",
        link=(
            links_of(request).preferences_url(reader.subscriber_id, reader.list_id, reader.token_secret),
            "preferences",
        ),
    )


# Ahead of the FastAPI routes (digest.web.app): every POST to a reader's unsubscribe link, whatever its query.
plain_routes = [PlainRoute("/u/{token}", one_click_unsubscribe, method="POST")]
