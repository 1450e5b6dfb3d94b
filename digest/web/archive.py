"""Public web version of each sent edition, the archive page and its feed.

`/editions/<list>/<date>` is the "view in browser" link of every email (:meth:`digest.links.Links.edition_url`);
`/editions/<list>` lists the past editions and `/editions/<list>/feed.atom` carries them in full. Only
editions that went out (sending or sent) are public.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

import lxml.html
from babel.dates import format_date
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from lxml import etree
from sqlmodel import Session, col, select

from digest import __version__
from digest.db import open_session
from digest.edition import variant_key
from digest.links import Links
from digest.models import Edition, EditionKind, EditionStatus, EditionVariant
from digest.personalize import FIELDS, Personalizable
from digest.render import RTL_LANGUAGES
from digest.settings import Settings
from digest.web.pages import (
    EMAIL_PAGE_HEADERS,
    SECURITY_HEADERS,
    cached_pages_environment,
    engine_of,
    list_or_404,
    settings_of,
)
from subscribers.models import MailingList

router = APIRouter(prefix="/editions")

PUBLIC = (EditionStatus.SENDING, EditionStatus.SENT)
# The archive's list of editions: the readers' pages' headers, cacheable (it is public).
ARCHIVE_PAGE_HEADERS = {name: value for name, value in SECURITY_HEADERS.items() if name != "Cache-Control"}
# An edition's web version: an email as a page (no script, no form), framed by nobody.
PUBLIC_EDITION_HEADERS = {
    **EMAIL_PAGE_HEADERS,
    "Content-Security-Policy": EMAIL_PAGE_HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors 'self'", "frame-ancestors 'none'"
    ),
}
FEED_ENTRIES = 30
ATOM = "http://www.w3.org/2005/Atom"
# The email's footer row for readers (templates/email/macros.html.j2), swapped for the archive's own.
READER_FOOTER = re.compile(r'<tr class="reader-footer"[^>]*>.*?</tr>', re.DOTALL)


def public_editions(session: Session, mailing_list: MailingList, limit: int | None = None) -> list[Edition]:
    """The list's editions that went out, newest first."""
    query = (
        select(Edition)
        .where(Edition.list_id == mailing_list.id, col(Edition.status).in_(PUBLIC))
        .order_by(col(Edition.date).desc())
    )
    return list(session.exec(query.limit(limit) if limit else query).all())


def public_html(variant: EditionVariant, archive_url: str, footer: str = "") -> str:
    """A variant as anyone may read it: the reader's footer replaced by ``footer`` (the archive's own).

    Editions rendered before the footer was marked keep theirs, with the per-reader links leading to the
    archive instead of a reader's pages.
    """
    html = READER_FOOTER.sub(lambda _match: footer, variant.html, count=1) if footer else variant.html
    return Personalizable.compile(html).fill(dict.fromkeys(FIELDS, archive_url))


def archive_footer(request: Request, settings: Settings, mailing_list: MailingList, language: str) -> str:
    """The web version's footer in ``language``: subscribe to the list, past editions, postal address."""
    template = cached_pages_environment(request, language).get_template("archive/footer.html.j2")
    return template.render(
        publication=settings.publication_name_for(language),
        list_name=mailing_list.name,
        subscribe_url=f"{settings.base_url}/subscribe?list={mailing_list.slug}&lang={language}",
        archive_url=f"{settings.base_url}/editions/{mailing_list.slug}",
        postal_address=settings.postal_address,
        align="right" if language in RTL_LANGUAGES else "left",
    )


def public_variant(session: Session, edition: Edition, language: str) -> EditionVariant | None:
    """The all-sections variant of ``edition`` in ``language``."""
    return session.exec(
        select(EditionVariant).where(
            EditionVariant.edition_id == edition.id, col(EditionVariant.key) == variant_key(language)
        )
    ).first()


def body_of(html: str) -> str:
    """The inner HTML of a document's body (what a feed entry carries)."""
    body = lxml.html.document_fromstring(html).find("body")
    if body is None:
        return html
    inner = (body.text or "") + "".join(lxml.html.tostring(child, encoding="unicode") for child in body)
    return inner.strip()


def atom_feed(
    *, title: str, feed_url: str, page_url: str, entries: list[tuple[Edition, str, str]], language: str
) -> bytes:
    """An Atom feed of ``entries`` (edition, its public URL, its full HTML content)."""
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", language)

    def add(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
        node = etree.SubElement(parent, f"{{{ATOM}}}{tag}", **attrs)
        if text is not None:
            node.text = text
        return node

    updated = max((_stamp(e) for e, _, _ in entries), default=datetime(2000, 1, 1, tzinfo=UTC))
    add(feed, "id", feed_url)
    add(feed, "title", title)
    add(feed, "updated", updated.isoformat())
    add(feed, "link", rel="self", href=feed_url)
    add(feed, "link", rel="alternate", type="text/html", href=page_url)
    add(feed, "generator", "digest", version=__version__)
    for edition, url, content in entries:
        entry = add(feed, "entry")
        add(entry, "id", url)
        add(entry, "title", edition.subject)
        add(entry, "updated", _stamp(edition).isoformat())
        add(entry, "link", rel="alternate", type="text/html", href=url)
        add(entry, "summary", edition.preheader)
        add(entry, "content", content, type="html")
        author = add(entry, "author")
        add(author, "name", title)
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="utf-8"))


def _stamp(edition: Edition) -> datetime:
    stamp = edition.sent_at or edition.approved_at or datetime.combine(edition.date, time(0), tzinfo=UTC)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _links(settings: Settings) -> Links:
    return Links.from_settings(settings)


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def archive_home(request: Request) -> RedirectResponse:
    """The default list's archive."""
    return RedirectResponse(f"/editions/{settings_of(request).list_slug}", status_code=303)


@router.get("/{slug}", response_class=HTMLResponse)
def archive_page(request: Request, slug: str) -> HTMLResponse:
    """Every edition of the list that went out, newest first, with a link to the feed."""
    settings = settings_of(request)
    links = _links(settings)
    with open_session(engine_of(request)) as session:
        mailing_list = list_or_404(session, slug)
        editions = [
            (e, links.edition_url(slug, e.date, e.kind), format_date(e.date, format="long", locale=settings.language))
            for e in public_editions(session, mailing_list)
        ]
    page = cached_pages_environment(request, settings.language).get_template("archive/index.html.j2")
    html = page.render(
        publication=settings.publication_name_for(settings.language),
        list=mailing_list,
        subscribe_url=f"{settings.base_url}/subscribe?list={slug}&lang={settings.language}",
        editions=editions,
        feed_url=f"{settings.base_url}/editions/{slug}/feed.atom",
        language=settings.language,
        direction="rtl" if settings.language == "ar" else "ltr",
    )
    return HTMLResponse(html, headers=ARCHIVE_PAGE_HEADERS)


@router.get("/{slug}/feed.atom")
def archive_feed(request: Request, slug: str) -> Response:
    """The list's latest editions as an Atom feed, each with its full content."""
    settings = settings_of(request)
    links = _links(settings)
    archive_url = f"{settings.base_url}/editions/{slug}"
    entries = []
    with open_session(engine_of(request)) as session:
        mailing_list = list_or_404(session, slug)
        for edition in public_editions(session, mailing_list, FEED_ENTRIES):
            variant = public_variant(session, edition, settings.language)
            if variant is not None:
                footer = archive_footer(request, settings, mailing_list, variant.language)
                content = body_of(public_html(variant, archive_url, footer))
                entries.append((edition, links.edition_url(slug, edition.date, edition.kind), content))
    feed = atom_feed(
        title=f"{settings.publication_name_for(settings.language)} · {mailing_list.name}",
        feed_url=f"{archive_url}/feed.atom",
        page_url=archive_url,
        entries=entries,
        language=settings.language,
    )
    return Response(
        feed, media_type="application/atom+xml; charset=utf-8", headers={"X-Content-Type-Options": "nosniff"}
    )


@router.get("/{slug}/{day}", response_class=HTMLResponse)
def edition_page(request: Request, slug: str, day: str, lang: str = "") -> HTMLResponse:
    """The web version of one daily edition that went out ("view in browser"), in ``lang`` if it was rendered."""
    return _edition_page(request, slug, day, EditionKind.DAILY, lang)


@router.get("/{slug}/{day}/weekly", response_class=HTMLResponse)
def weekly_edition_page(request: Request, slug: str, day: str, lang: str = "") -> HTMLResponse:
    """The web version of one weekly round-up that went out, in ``lang`` if it was rendered."""
    return _edition_page(request, slug, day, EditionKind.WEEKLY, lang)


def _edition_page(request: Request, slug: str, day: str, kind: str, lang: str) -> HTMLResponse:
    settings = settings_of(request)
    try:
        the_day = date.fromisoformat(day)
    except ValueError as err:
        raise HTTPException(404, "no such edition") from err
    with open_session(engine_of(request)) as session:
        mailing_list = list_or_404(session, slug)
        edition = session.exec(
            select(Edition).where(
                Edition.list_id == mailing_list.id,
                Edition.date == the_day,
                Edition.kind == kind,
                col(Edition.status).in_(PUBLIC),
            )
        ).first()
        if edition is None:
            raise HTTPException(404, "no such edition")
        variant = public_variant(session, edition, lang or settings.language) or public_variant(
            session, edition, settings.language
        )
        if variant is None:
            raise HTTPException(404, "no such edition")
        footer = archive_footer(request, settings, mailing_list, variant.language)
    html = public_html(variant, f"{settings.base_url}/editions/{slug}", footer)
    return HTMLResponse(html, headers=PUBLIC_EDITION_HEADERS)
