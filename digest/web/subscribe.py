"""Subscribe form, double opt-in confirmation (`/c/TOKEN`), and the preference centre (`/p/TOKEN`)."""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer, base64_encode
from sqlalchemy import Connection, Engine, bindparam
from sqlalchemy import select as sql_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from starlette.datastructures import FormData

from digest.db import open_session
from digest.errors import SubscriberError
from digest.links import BadToken
from digest.mail.transactional import enqueue_confirmation, send_queued_mail
from digest.models import Edition
from digest.settings import Settings
from digest.typography import sort_key
from digest.web.limits import Limit, RateLimits, client_key, mailbox_and_domain
from digest.web.pages import (
    LANGUAGE_NAMES,
    SECURITY_HEADERS,
    DbSession,
    Form,
    PlainRoute,
    Submitted,
    client_ip,
    engine_of,
    form_problem,
    links_of,
    message_page,
    not_found,
    page,
    pick_language,
    rate_limits,
    reads_of,
    run_reads,
    settings_of,
    verified_reader,
    verified_reader_choices,
    web_actor,
)
from digest.web.zones import zone_options
from subscribers.addresses import normalize_email
from subscribers.inputs import MAX_SECTION_LENGTH, check_slug, check_text
from subscribers.models import MailingList, SubscriptionStatus, utcnow
from subscribers.prepared import Prepared
from subscribers.store import (
    Actor,
    ListChoice,
    Preferences,
    Reader,
    ReaderRow,
    add_subscriber,
    confirm_subscription,
    confirmable,
    expire_pending,
    find_subscriber,
    get_list,
    list_choices,
    split_sections,
    update_preferences,
)

router = APIRouter()
log = logging.getLogger(__name__)

# Sign-ups per client (IPv4 address or IPv6 /64): enough for a family behind one router, too few for a bot.
SUBSCRIBE_LIMIT = Limit("subscribe", 5, 600.0)
# Confirmation emails per mailbox (sub-addresses are one mailbox) and per domain, whoever asks: the form must not
# become a way to flood someone's inbox, or a small company's.
CONFIRMATIONS_PER_MAILBOX = Limit("confirm-mailbox", 3, 3600.0)
CONFIRMATIONS_PER_DOMAIN = Limit("confirm-domain", 100, 3600.0)
CSRF_MAX_AGE = 2 * 3600
CSRF_COOKIE = "digest_csrf"
PAUSE_MAX = timedelta(days=366)


def _subscribe_form(
    request: Request, mailing_list: MailingList, language: str, *, email: str = "", name: str = "", error: str = ""
) -> HTMLResponse:
    return page(
        request,
        "subscribers/subscribe.html.j2",
        language=language,
        status_code=400 if error else 200,
        list_name=mailing_list.name,
        list_slug=mailing_list.slug,
        language_names=LANGUAGE_NAMES,
        email=email,
        name=name,
        error=error,
    )


def _find_list(session: Session, slug: str) -> MailingList | None:
    """The public list ``slug`` (readers sign up to public lists only), or None."""
    try:
        found = get_list(session=session, slug=check_slug(slug, existing=True))
    except SubscriberError:
        return None
    return found if found.public else None


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request, session: DbSession, list: str | None = None, lang: str | None = None) -> Response:
    """The sign-up form of a list (``?list=slug``, default DIGEST_LIST), in ``?lang=`` or the browser's language."""
    mailing_list = _find_list(session, list or settings_of(request).list_slug)
    if mailing_list is None:
        return not_found(request)
    return _subscribe_form(request, mailing_list, pick_language(request, lang))


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(request: Request, session: DbSession, submitted: Form, background: BackgroundTasks) -> Response:
    """Sign up: the same answer after the same work whatever the address's state (new, known, unsubscribed,
    suppressed), so neither the page nor its timing tells them apart. Only the form is checked before answering;
    the sign-up itself (:func:`_sign_up`) runs once the answer has left."""
    form = submitted.form
    language = pick_language(request, str(form.get("language") or ""))
    if problem := form_problem(request, submitted, language):
        return problem
    wait = rate_limits(request).hit(SUBSCRIBE_LIMIT, client_key(client_ip(request)))
    if wait is not None:
        return message_page(
            request,
            language=language,
            kind="too_many",
            status_code=429,
            headers={"Retry-After": str(int(wait) + 1)},
        )
    settings = settings_of(request)
    mailing_list = _find_list(session, str(form.get("list") or settings.list_slug))
    if mailing_list is None:
        return not_found(request)
    email = str(form.get("email") or "").strip()[:320]
    name = str(form.get("name") or "").strip()[:200]
    done = message_page(request, language=language, kind="check_inbox")
    if form.get("website"):
        return done  # the hidden field is filled in: a bot
    try:
        address = normalize_email(email)
    except SubscriberError:
        return _subscribe_form(request, mailing_list, language, email=email, name=name, error="invalid_email")
    try:
        check_text(name, "name", max_length=200)
    except SubscriberError:
        return _subscribe_form(request, mailing_list, language, email=email, error="invalid_name")
    assert mailing_list.id is not None
    signup = SignUp(mailing_list.id, address, name or None, language, web_actor(request))
    background.add_task(_sign_up, settings, engine_of(request), rate_limits(request), signup)
    return done


@dataclass(frozen=True, slots=True)
class SignUp:
    """What a sign-up form asked for, checked, to be done after the answer."""

    list_id: int
    address: str
    name: str | None
    language: str
    actor: Actor


def _sign_up(settings: Settings, engine: Engine, limits: RateLimits, signup: SignUp) -> None:
    """Subscribe and send the confirmation email (within the mailbox's and domain's caps). Runs after the
    answer; a suppressed, erased or racing address just ends here."""
    with open_session(engine) as session:
        expire_pending(session=session)
        mailing_list = session.get(MailingList, signup.list_id)
        if mailing_list is None:
            return
        known = find_subscriber(session=session, email=signup.address)
        try:
            # A stranger must not change a known reader's details: only new readers bring their name and language.
            result = add_subscriber(
                session=session,
                mailing_list=mailing_list,
                email=signup.address,
                name=None if known else signup.name,
                language=None if known else signup.language,
                actor=signup.actor,
            )
        except IntegrityError:
            session.rollback()  # the same address signed up at the same moment elsewhere: that one wins
            return
        except SubscriberError:
            session.rollback()  # suppressed, bounced or erased: nothing to do, and the answer told nothing
            return
        session.commit()  # this task is the entry point: it owns the transaction
        if not (
            result.needs_confirmation
            and result.outcome != "unchanged"
            and _may_confirm(limits, result.subscriber.email)
        ):
            return
        # Queued first, then sent: a mail server that is down delays it (the queue retries), never loses it.
        assert result.subscriber.id is not None and mailing_list.id is not None
        enqueue_confirmation(session=session, subscriber_id=result.subscriber.id, list_id=mailing_list.id, now=utcnow())
        session.commit()
    send_queued_mail(engine, settings)


def _may_confirm(limits: RateLimits, address: str) -> bool:
    """Whether one more confirmation email may go to ``address``'s mailbox and domain (and count it)."""
    mailbox, domain = mailbox_and_domain(address)
    if limits.blocked(CONFIRMATIONS_PER_DOMAIN, domain) is not None:
        return False
    return (
        limits.hit(CONFIRMATIONS_PER_MAILBOX, mailbox) is None and limits.hit(CONFIRMATIONS_PER_DOMAIN, domain) is None
    )


def _confirm_reader(request: Request, session: Session, token: str) -> tuple[Reader, int] | None:
    """The reader a confirm token names and when the token was made, when it may act: never an old link of
    someone who left since."""
    reader = verified_reader(request, session, "confirm", token)
    if reader is None:
        return None
    try:
        issued = links_of(request).claim("confirm", token).issued
    except BadToken:
        return None  # expired in between
    return (reader, issued) if confirmable(session=session, reader=reader, issued=issued) else None


@router.get("/c/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str, session: DbSession) -> Response:
    """The confirmation page: one button (a GET never confirms, so link scanners cannot)."""
    found = _confirm_reader(request, session, token)
    if found is None:
        return not_found(request)
    reader, _ = found
    language = pick_language(request, reader.subscriber.language)
    if reader.subscription.status == SubscriptionStatus.ACTIVE:
        return _confirmed(request, reader, language)
    return page(
        request,
        "subscribers/confirm.html.j2",
        language=language,
        list_name=reader.mailing_list.name,
        email=reader.subscriber.email,
        action=f"/c/{token}",
    )


@router.post("/c/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str, session: DbSession, submitted: Form) -> Response:
    """Confirm the subscription the token names; confirming twice is harmless."""
    expire_pending(session=session)
    found = _confirm_reader(request, session, token)
    if found is None:
        return not_found(request)
    reader, issued = found
    language = pick_language(request, reader.subscriber.language)
    if problem := form_problem(request, submitted, language):
        return problem
    confirm_subscription(session=session, reader=reader, actor=web_actor(request), issued=issued)
    session.commit()
    return _confirmed(request, reader, language)


def _confirmed(request: Request, reader: Reader, language: str) -> HTMLResponse:
    assert reader.subscriber.id is not None and reader.mailing_list.id is not None
    preferences = links_of(request).preferences_url(
        reader.subscriber.id, reader.mailing_list.id, reader.subscriber.token_secret
    )
    return message_page(
        request,
        language=language,
        kind="confirmed",
        link=(preferences, "preferences"),
    )


def _csrf_serializer(request: Request) -> URLSafeTimedSerializer:
    """The preference form's CSRF signer, built once per app."""
    state = request.app.state
    serializer: URLSafeTimedSerializer | None = getattr(state, "csrf_serializer", None)
    if serializer is None:
        keys = list(reversed(settings_of(request).signing_keys()))
        serializer = state.csrf_serializer = URLSafeTimedSerializer(keys, salt="digest.csrf")
    return serializer


def _csrf_token(request: Request, reader: ReaderRow, nonce: str) -> str:
    """The preference form's CSRF token (:func:`_csrf_serializer`'s), signed by a signer built once per app and
    without the zlib attempt of every ``dumps``: a list with a random nonce never compresses, and ``loads``
    reads a payload that is not compressed as it is."""
    state = request.app.state
    signer: Signer | None = getattr(state, "csrf_signer", None)
    if signer is None:
        signer = state.csrf_signer = _csrf_serializer(request).make_signer()
    payload = json.dumps([reader.subscriber_id, reader.list_id, nonce], separators=(",", ":"))
    return signer.sign(base64_encode(payload)).decode()


def known_sections(settings: Settings, connection: Connection, list_id: int, chosen: list[str]) -> list[str]:
    """Sections readers can choose, plus the reader's own choices: DIGEST_SECTIONS when set (in its order),
    else those of the list's last editions (a feed's section that is not one line of plain text is never
    offered)."""
    if settings.sections:
        wanted = {name.casefold() for name in settings.sections}
        return [*settings.sections, *(name for name in chosen if name.casefold() not in wanted)]
    picked = tuple(raw for (raw,) in _LAST_SECTIONS.execute(connection, {"list_id": list_id}))
    offered = _offered_sections(picked)
    extra = [section for section in chosen if section not in offered and _offerable(section)]
    if not extra:
        return list(offered)
    # accent-aware: "Économie" sorts with the e, not after "Tech"
    return sorted({*offered, *extra}, key=sort_key)


@functools.lru_cache(maxsize=16)
def _offered_sections(picked: tuple[str, ...]) -> tuple[str, ...]:
    """The sections that can be offered among the editions' ``picked`` ones (``Edition.picked_sections``),
    sorted. Cached by those strings: each preference page reads the same few editions."""
    found: set[str] = set()
    for raw in picked:
        try:
            sections = json.loads(raw)
        except ValueError:
            continue
        if isinstance(sections, list):
            found.update(section for section in sections if isinstance(section, str))
    return tuple(sorted((section for section in found if _offerable(section)), key=sort_key))


# Run on the driver (subscribers.prepared): every preference page reads it.
_LAST_SECTIONS = Prepared(
    sql_select(col(Edition.picked_sections))
    .where(col(Edition.list_id) == bindparam("list_id"))
    .order_by(col(Edition.date).desc())
    .limit(14)
)


def _offerable(section: object) -> bool:
    if not isinstance(section, str) or "," in section:
        return False
    try:
        check_text(section, "section", max_length=MAX_SECTION_LENGTH)
    except SubscriberError:
        return False
    return True


def _offered(choices: list[ListChoice]) -> list[ListChoice]:
    """The lists a reader's preference centre shows: every public list, and any list the reader is on."""
    return [each for each in choices if each.public or each.status]


@router.get("/p/{token}", response_class=HTMLResponse)
async def preferences_page(request: Request, token: str, saved: int = 0) -> Response:
    """The preference centre of the reader the token names (their own data only)."""
    return await run_reads(request, _preferences_page, request, token, saved)


async def plain_preferences_page(request: Request) -> Response:
    """:func:`preferences_page` for a query that is empty or ``saved=DIGITS`` (every link and redirect to it),
    without FastAPI's parameter layer: its busiest GET."""
    saved = request.scope["query_string"].partition(b"=")[2]
    return await run_reads(request, _preferences_page, request, request.path_params["token"], int(saved or 0))


# Ahead of the FastAPI routes (digest.web.app): the preference page's links and its redirect after a save.
plain_routes = [PlainRoute("/p/{token}", plain_preferences_page, method="GET", query=re.compile(rb"(saved=\d{1,9})?"))]


def _preferences_page(request: Request, token: str, saved: int) -> Response:
    # Plain rows on a pooled connection: no session, no ORM objects for a page shown this often.
    with reads_of(request).connect() as connection:
        found = verified_reader_choices(request, connection, "preferences", token)
        if found is None:
            return not_found(request)
        return _preferences(request, connection, found.reader, found.lists, token, saved=bool(saved))


def _preferences(
    request: Request,
    connection: Connection,
    reader: ReaderRow,
    lists: list[ListChoice],
    token: str,
    *,
    saved: bool = False,
    error: str = "",
    refused: FormData | None = None,
) -> HTMLResponse:
    """The preference page, beside ``lists`` (:func:`subscribers.store.list_choices`); after a refused save
    (``refused``) it shows what the reader chose, not the store."""
    settings = settings_of(request)
    language = pick_language(request, reader.language)
    nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(16)
    shown = {
        "name": reader.name or "",
        "reader_language": reader.language or settings.language,
        "frequency": reader.frequency,
        "format": reader.format,
        "paused_until": reader.paused_until.isoformat() if reader.paused_until else "",
        "timezone": reader.timezone or "",
    }
    chosen = split_sections(reader.sections)
    if refused is not None:
        field = {"reader_language": "language"}
        shown = {key: str(refused.get(field.get(key, key)) or value) for key, value in shown.items()}
        chosen = [str(value) for value in refused.getlist("section")]
    ticked = {str(value) for value in refused.getlist("list")} if refused is not None else None
    offered = [
        {
            "id": each.id,
            "name": each.name,
            "active": str(each.id) in ticked if ticked is not None else each.status == SubscriptionStatus.ACTIVE,
            "status": each.status,
        }
        for each in _offered(lists)
    ]
    response = page(
        request,
        "subscribers/preferences.html.j2",
        language=language,
        status_code=400 if error else 200,
        saved=saved,
        error=error,
        email=reader.email,
        language_names=LANGUAGE_NAMES,
        lists=offered,
        list_name=reader.list_name,
        sections=known_sections(settings, connection, reader.list_id, chosen),
        publication_timezone=settings.timezone,
        delivery_hour=settings.delivery_hour.strftime("%H:%M") if settings.delivery_hour else "",
        chosen=chosen,
        csrf=_csrf_token(request, reader, nonce),
        action=f"/p/{token}",
        unsubscribe_url=links_of(request).unsubscribe_url(reader.subscriber_id, reader.list_id, reader.token_secret),
        **shown,
        spliced={"zone_options": zone_options(datetime.now(settings.tz), reader.timezone)},
    )
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        max_age=CSRF_MAX_AGE,
        path="/p/",
        httponly=True,
        samesite="strict",
        secure=settings.base_url.startswith("https://"),
    )
    return response


def _csrf_ok(request: Request, reader: Reader, submitted: Submitted) -> bool:
    settings = settings_of(request)
    # With Referrer-Policy no-referrer browsers send "Origin: null" for our own forms; a cross-site form
    # still shows in Sec-Fetch-Site or a foreign Origin. The signed token and cookie are the real check.
    origin = request.headers.get("origin", "null")
    if origin != "null" and origin not in (settings.base_url, str(request.base_url).rstrip("/")):
        return False
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    try:
        subscriber_id, list_id, nonce = _csrf_serializer(request).loads(
            str(submitted.form.get("csrf") or ""), max_age=CSRF_MAX_AGE
        )
    except (BadSignature, ValueError, TypeError):
        return False
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return (
        subscriber_id == reader.subscriber.id
        and list_id == reader.mailing_list.id
        and bool(cookie)
        and secrets.compare_digest(str(nonce), cookie)
    )


def _parse_pause(raw: str, today: date) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError as err:
        raise SubscriberError("paused_until") from err
    if day <= today or day > today + PAUSE_MAX:
        raise SubscriberError("paused_until")
    return day


@router.post("/p/{token}", response_class=HTMLResponse)
def save_preferences(request: Request, token: str, session: DbSession, submitted: Form) -> Response:
    """Save the preference form (CSRF-checked), then show the page again (POST, redirect, GET)."""
    reader = verified_reader(request, session, "preferences", token)
    if reader is None:
        return not_found(request)
    language = pick_language(request, reader.subscriber.language)
    if problem := form_problem(request, submitted, language):
        return problem
    if not _csrf_ok(request, reader, submitted):
        return message_page(
            request,
            language=language,
            kind="csrf",
            status_code=403,
            link=(f"/p/{token}", "reload"),
        )
    form = submitted.form
    try:
        wanted_lists = {int(str(value)) for value in form.getlist("list")}
    except ValueError:
        wanted_lists = set()
    assert reader.subscriber.id is not None and reader.mailing_list.id is not None
    choices = list_choices(connection=session.connection(), subscriber_id=reader.subscriber.id)
    row = ReaderRow.of(reader)
    try:
        paused = _parse_pause(str(form.get("paused_until") or ""), datetime.now(settings_of(request).tz).date())
    except SubscriberError:
        return _preferences(request, session.connection(), row, choices, token, error="bad_date", refused=form)
    lists = {each.id: each.id in wanted_lists for each in _offered(choices)}
    sections = [str(value).strip() for value in form.getlist("section") if str(value).strip()]
    offered = known_sections(
        settings_of(request), session.connection(), reader.mailing_list.id, split_sections(reader.subscription.sections)
    )
    if any(section not in offered for section in sections):
        return _preferences(request, session.connection(), row, choices, token, error="unknown section", refused=form)
    try:
        update_preferences(
            session=session,
            reader=reader,
            language=str(form.get("language") or "") or None,
            name=str(form.get("name") or "").strip() or None,
            preferences=Preferences(
                sections=sections,
                frequency=str(form.get("frequency") or reader.subscription.frequency),
                format=str(form.get("format") or reader.subscription.format),
                paused_until=paused,
            ),
            lists=lists,
            actor=web_actor(request),
            timezone=str(form.get("timezone") or "") or None,
        )
    except SubscriberError as err:
        session.rollback()
        return _preferences(request, session.connection(), row, choices, token, error=str(err), refused=form)
    session.commit()
    return RedirectResponse(f"/p/{token}?saved=1", status_code=303, headers=SECURITY_HEADERS)
