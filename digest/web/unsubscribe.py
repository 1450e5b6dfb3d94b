"""One-click unsubscribe (RFC 8058) and the unsubscribe page, both at the `List-Unsubscribe` URL `/u/TOKEN`.

A POST unsubscribes at once and answers 200 with no redirect and no cookie: mail clients send
``List-Unsubscribe=One-Click`` without any session. Any POST to a valid link unsubscribes (the signed token
is the authority; prefetchers never POST), so a reader's wish is never lost to a malformed body. A GET never
unsubscribes, because link scanners open every link: it shows a page with the button.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from digest.delivery.queue import drop_queued
from digest.web.pages import (
    DbSession,
    Form,
    form_problem,
    links_of,
    message_page,
    not_found,
    page,
    pick_language,
    verified_reader,
    web_actor,
)
from subscribers.models import SubscriptionStatus
from subscribers.store import unsubscribe

router = APIRouter()


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, session: DbSession) -> Response:
    """The page behind the link: one button for this list, one for everything, and the preference centre."""
    reader = verified_reader(request, session, "unsubscribe", token)
    if reader is None:
        return not_found(request)
    links = links_of(request)
    assert reader.subscriber.id is not None and reader.mailing_list.id is not None
    return page(
        request,
        "subscribers/unsubscribe.html.j2",
        language=pick_language(request, reader.subscriber.language),
        list_name=reader.mailing_list.name,
        email=reader.subscriber.email,
        already=reader.subscription.status == SubscriptionStatus.UNSUBSCRIBED,
        action=f"/u/{token}",
        preferences_url=links.preferences_url(
            reader.subscriber.id, reader.mailing_list.id, reader.subscriber.token_secret
        ),
    )


@router.post("/u/{token}", response_class=HTMLResponse)
def one_click_unsubscribe(request: Request, token: str, session: DbSession, submitted: Form) -> Response:
    """Unsubscribe from the token's list (``scope=all``: from every list); 200 every time, no redirect."""
    reader = verified_reader(request, session, "unsubscribe", token)
    if reader is None:
        return not_found(request)
    links = links_of(request)
    assert reader.subscriber.id is not None and reader.mailing_list.id is not None
    language = pick_language(request, reader.subscriber.language)
    # Only a body too large to read is refused: any other POST to a valid link unsubscribes.
    refusal = form_problem(request, submitted, language) if submitted.problem == 413 else None
    if refusal is not None:
        return refusal
    everything = submitted.form.get("scope") == "all"
    one_click = submitted.form.get("List-Unsubscribe") == "One-Click"
    left = None if everything else reader.mailing_list.id
    unsubscribe(
        session=session,
        subscriber_id=reader.subscriber.id,
        list_id=left,
        actor=web_actor(request),
        detail="everything" if everything else ("one-click" if one_click else "unsubscribe page"),
    )
    drop_queued(session, subscriber_id=reader.subscriber.id, list_id=left)
    session.commit()
    return message_page(
        request,
        language=language,
        kind="unsubscribed",
        link=(
            links.preferences_url(reader.subscriber.id, reader.mailing_list.id, reader.subscriber.token_secret),
            "preferences",
        ),
    )
