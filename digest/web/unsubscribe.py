"""One-click unsubscribe (RFC 8058) and the unsubscribe page, both at the `List-Unsubscribe` URL `/u/TOKEN`.

A POST unsubscribes at once and answers 200 with no redirect and no cookie: mail clients send
``List-Unsubscribe=One-Click`` without any session. Any POST to a valid link unsubscribes (the signed token
is the authority; prefetchers never POST), so a reader's wish is never lost to a malformed body. A GET never
unsubscribes, because link scanners open every link: it shows a page with the button.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from digest.links import BadToken, Links
from digest.web.messages import MESSAGES
from digest.web.pages import (
    Submitted,
    client_ip,
    db_session,
    message_page,
    not_found,
    page,
    pick_language,
    read_form,
    settings_of,
)
from subscribers.models import SubscriptionStatus
from subscribers.store import Actor, Reader, find_reader, unsubscribe

router = APIRouter()

DbSession = Annotated[Session, Depends(db_session)]
Form = Annotated[Submitted, Depends(read_form)]


def _reader(request: Request, session: Session, token: str) -> tuple[Reader, Links] | None:
    settings = settings_of(request)
    links = Links(settings.base_url, settings.signing_keys())
    try:
        named = links.verify("unsubscribe", token)
    except BadToken:
        return None
    reader = find_reader(session=session, subscriber_id=named.subscriber_id, list_id=named.list_id)
    return (reader, links) if reader else None


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, session: DbSession) -> Response:
    """The page behind the link: one button for this list, one for everything, and the preference centre."""
    found = _reader(request, session, token)
    if found is None:
        return not_found(request)
    reader, links = found
    assert reader.subscriber.id is not None and reader.mailing_list.id is not None
    return page(
        request,
        "subscribers/unsubscribe.html.j2",
        language=pick_language(request, reader.subscriber.language),
        list_name=reader.mailing_list.name,
        email=reader.subscriber.email,
        already=reader.subscription.status == SubscriptionStatus.UNSUBSCRIBED,
        action=f"/u/{token}",
        preferences_url=links.preferences_url(reader.subscriber.id, reader.mailing_list.id),
    )


@router.post("/u/{token}", response_class=HTMLResponse)
def one_click_unsubscribe(request: Request, token: str, session: DbSession, submitted: Form) -> Response:
    """Unsubscribe from the token's list (``scope=all``: from every list); 200 every time, no redirect."""
    found = _reader(request, session, token)
    if found is None:
        return not_found(request)
    reader, links = found
    assert reader.subscriber.id is not None and reader.mailing_list.id is not None
    language = pick_language(request, reader.subscriber.language)
    if submitted.problem == 413:
        return message_page(request, language=language, title="too_large_title", text="too_large_text", status_code=413)
    everything = submitted.form.get("scope") == "all"
    one_click = submitted.form.get("List-Unsubscribe") == "One-Click"
    unsubscribe(
        session=session,
        subscriber_id=reader.subscriber.id,
        list_id=None if everything else reader.mailing_list.id,
        actor=Actor(source="web", ip=client_ip(request), user_agent=request.headers.get("user-agent")),
        detail="everything" if everything else ("one-click" if one_click else "unsubscribe page"),
    )
    return message_page(
        request,
        language=language,
        title="unsubscribed_title",
        text="unsubscribed_text",
        link=(
            links.preferences_url(reader.subscriber.id, reader.mailing_list.id),
            MESSAGES[language]["manage_link"],
        ),
    )
