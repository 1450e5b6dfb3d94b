"""Build and store an edition: read the sources, select, render each variant, keep it in the database."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from digest.content import Article, Pick, Selection, Skip, normalize_sections
from digest.edits import Edits, apply_edits
from digest.errors import ConfigError, DigestError, EditionError, NothingToSend
from digest.links import Links
from digest.lint import LintIssue, dump_issues, lint_variant, load_issues
from digest.lint import errors as lint_errors
from digest.models import Edition, EditionKind, EditionStatus, EditionVariant
from digest.settings import Settings
from digest.sources import LoadResult, load_articles
from digest.sources.state import DatabaseFetchState, first_seen
from digest.window import WEEK, Window, rolling_end, rolling_window, week_window
from subscribers.models import MailingList, Subscriber, Subscription, SubscriptionStatus, utcnow
from subscribers.sections import Sections
from subscribers.store import LANGUAGES, get_list

if TYPE_CHECKING:
    from jinja2 import Environment

    from digest.render import Publication, RenderOptions
    from digest.selection import EditorChoices, SelectionRules
    from digest.selection.weekly import DailyEdition
    from digest.sources.fetch import Fetcher  # imported when a build reads its sources (httpcore)

# Rendering (Jinja2, Babel) and the selection are imported by the functions that build editions: a send, an
# approval or the stats of a stored edition need neither (~40 ms of every such command's start-up).

Warn = Callable[[str], None]
# EditionVariant.key's column width.
VARIANT_KEY_MAX = 64


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _pick_summary(pick: Pick, summary: str) -> dict[str, Any]:
    article = pick.article
    return {
        "title": article.title,
        "url": article.url,
        "summary": summary,
        "published": _iso(article.published),
        "lang": article.lang,
        "section": article.section,
        "source": article.source,
        "reason": pick.reason,
        "score": pick.score,
        "also": [{"title": a.title, "url": a.url, "source": a.source} for a in pick.also],
    }


def selection_summary(
    selection: Selection, *, list_slug: str, subject: str, kind: str = "daily", summary_chars: int = 300
) -> dict[str, Any]:
    """The selection in the shape `digest build --json` prints (DESIGN.md)."""
    from digest.sources.text import summarize

    featured = None
    if selection.featured:
        article = selection.featured.article
        featured = {
            **_pick_summary(selection.featured, selection.featured_summary),
            "image": article.image,
            "image_width": article.image_width,
            "image_height": article.image_height,
        }
    window = [_iso(moment) for moment in selection.window] if selection.window else None
    return {
        "date": selection.day.isoformat(),
        "list": list_slug,
        "kind": kind,
        "window": window,
        "subject": subject,
        "featured": featured,
        "headlines": [
            _pick_summary(pick, summarize(pick.article.summary or pick.article.body, summary_chars))
            for pick in selection.headlines
        ],
        "skipped": [{"title": skip.title, "url": skip.url, "reason": skip.reason} for skip in selection.skipped],
    }


def _article_to_dict(article: Article) -> dict[str, Any]:
    data = dataclasses.asdict(article)
    data["published"] = _iso(article.published)
    return data


def _article_from_dict(data: dict[str, Any]) -> Article:
    published = data.get("published")
    return Article(**{**data, "published": datetime.fromisoformat(published) if published else None})


def _pick_to_dict(pick: Pick) -> dict[str, Any]:
    return {
        "article": _article_to_dict(pick.article),
        "reason": pick.reason,
        "score": pick.score,
        "also": [_article_to_dict(a) for a in pick.also],
    }


def _pick_from_dict(data: dict[str, Any]) -> Pick:
    # Editions stored before scores and copies were kept have neither: None and no copies.
    also = tuple(_article_from_dict(a) for a in data.get("also") or ())
    return Pick(_article_from_dict(data["article"]), data["reason"], data.get("score"), also)


def dump_selection(selection: Selection) -> str:
    """The whole selection as JSON, so an edition can be re-rendered without reading the sources again."""
    return json.dumps(
        {
            "day": selection.day.isoformat(),
            "window": [_iso(moment) for moment in selection.window] if selection.window else None,
            "featured": _pick_to_dict(selection.featured) if selection.featured else None,
            "headlines": [_pick_to_dict(p) for p in selection.headlines],
            "skipped": [dataclasses.asdict(s) for s in selection.skipped],
            "intro": selection.intro,
            "featured_summary": selection.featured_summary,
        },
        ensure_ascii=False,
    )


def dump_picked_sections(selection: Selection) -> str:
    """The sections of the selection's featured story and headlines, distinct and sorted, as a JSON array
    (``Edition.picked_sections``)."""
    picks = [*selection.headlines, *([selection.featured] if selection.featured else [])]
    return json.dumps(sorted({pick.article.section for pick in picks if pick.article.section}), ensure_ascii=False)


def load_selection(raw: str) -> Selection:
    """The selection stored by :func:`dump_selection`."""
    data = json.loads(raw)
    featured = data["featured"]
    window = data.get("window")
    return Selection(
        day=date.fromisoformat(data["day"]),
        featured=_pick_from_dict(featured) if featured else None,
        headlines=tuple(_pick_from_dict(p) for p in data["headlines"]),
        skipped=tuple(Skip(**s) for s in data["skipped"]),
        intro=data.get("intro", ""),
        featured_summary=data.get("featured_summary", ""),
        window=(datetime.fromisoformat(window[0]), datetime.fromisoformat(window[1])) if window else None,
    )


def stored_window(edition: Edition) -> Window | None:
    """The window ``edition`` was built for, in UTC (None for an edition built before windows were stored)."""
    if edition.window_start is None or edition.window_end is None:
        return None
    return _aware(edition.window_start), _aware(edition.window_end)


def _aware(value: datetime) -> datetime:
    # Stored in UTC; SQLite gives it back naive.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def previous_end(
    session: Session, mailing_list: MailingList, day: date, tz: tzinfo, kind: str = EditionKind.DAILY
) -> datetime | None:
    """Where the list's edition of ``kind`` before ``day`` ended (a daily edition follows the previous daily
    one, whatever weekly ones lie between): its stored window's end, or the end of its day for an edition
    built before windows were stored; None when there is none."""
    previous = session.exec(
        select(Edition)
        .where(Edition.list_id == mailing_list.id, Edition.kind == kind, col(Edition.date) < day)
        .order_by(col(Edition.date).desc())
        .limit(1)
    ).first()
    if previous is None:
        return None
    from digest.selection.window import calendar_window

    window = stored_window(previous)
    return window[1] if window else calendar_window(previous.date, tz)[1]


def window_for(
    *,
    session: Session,
    settings: Settings,
    mailing_list: MailingList,
    day: date,
    now: datetime,
    kind: str = EditionKind.DAILY,
    end: datetime | None = None,
) -> Window:
    """The window the edition of ``day`` and ``kind`` covers, in the publication's time zone: the one stored
    with it, else computed now (``DIGEST_EDITION_WINDOW``: :func:`digest.window.rolling_window` or the calendar
    day; a weekly edition: the 7 days ending where that daily window would end). ``end`` fixes a rolling
    window's end (the earliest reader's delivery hour) instead of ``now``."""
    tz = settings.tz
    existing = find_edition(session, mailing_list, day, kind)
    stored = stored_window(existing) if existing else None
    if stored:
        return stored[0].astimezone(tz), stored[1].astimezone(tz)
    from digest.selection.window import calendar_window

    if kind == EditionKind.WEEKLY:
        if settings.edition_window == "calendar":
            return week_window(calendar_window(day, tz)[1])
        return week_window(
            end.astimezone(tz) if end else rolling_end(day=day, now=now, tz=tz, cutoff=settings.edition_cutoff)
        )
    if settings.edition_window == "calendar":
        return calendar_window(day, tz)
    return rolling_window(
        day=day,
        now=now,
        tz=tz,
        cutoff=settings.edition_cutoff,
        previous_end=previous_end(session, mailing_list, day, tz),
        end=end,
    )


def edition_name(kind: str) -> str:
    """How messages name an edition of ``kind``: "edition" (daily) or "weekly edition"."""
    return "edition" if kind == EditionKind.DAILY else f"{kind} edition"


def kind_option(kind: str) -> str:
    """The command-line option that names ``kind`` ("" for daily, the default), for messages' hints."""
    return "" if kind == EditionKind.DAILY else f" --kind {kind}"


def article_count(selection: Selection) -> int:
    """How many articles an edition carries: the featured one and the headlines."""
    return (1 if selection.featured else 0) + len(selection.headlines)


def thin_message(edition: Edition, count: int, settings: Settings) -> str | None:
    """Why an edition of ``count`` articles waits for the editor although DIGEST_AUTO_APPROVE is set, or
    None when it has enough."""
    if count >= settings.min_articles:
        return None
    return (
        f"the {edition.date} {edition_name(edition.kind)} has only {count} article(s), fewer than "
        f"DIGEST_MIN_ARTICLES={settings.min_articles}: it waits for the editor "
        f"(`digest approve --date {edition.date}{kind_option(edition.kind)}`)"
    )


def find_edition(
    session: Session, mailing_list: MailingList, day: date, kind: str = EditionKind.DAILY
) -> Edition | None:
    """The edition of ``mailing_list`` for ``day`` of ``kind``, if built."""
    return session.exec(
        select(Edition).where(Edition.list_id == mailing_list.id, Edition.date == day, Edition.kind == kind)
    ).first()


def week_dailies(session: Session, mailing_list: MailingList, day: date) -> list[DailyEdition]:
    """The list's daily editions of the week ending on ``day`` (dated ``day`` - 6 to ``day``), as the weekly
    selection takes them: date, selection and the URL their editor pinned."""
    editions = session.exec(
        select(Edition)
        .where(
            Edition.list_id == mailing_list.id,
            Edition.kind == EditionKind.DAILY,
            col(Edition.date) > day - WEEK,
            col(Edition.date) <= day,
        )
        .order_by(col(Edition.date))
    ).all()
    from digest.selection.weekly import DailyEdition

    return [
        DailyEdition(edition.date, load_selection(edition.selection_json), load_choices(edition.choices_json).featured)
        for edition in editions
    ]


def parse_sections(raw: str | None) -> frozenset[str] | None:
    """The sections a subscription chose (as stored), or None for all."""
    return Sections.parse(raw).as_set()


def variant_key(language: str, sections: frozenset[str] | None = None) -> str:
    """The key of the rendered variant a reader gets: language, then the sections chosen (none: all).

    Sections compare without case; a key too long for its column ends in a digest of the sections instead.
    """
    wanted = normalize_sections(sections)
    if not wanted:
        return language
    key = language + ":" + "+".join(sorted(wanted))
    if len(key) <= VARIANT_KEY_MAX:
        return key
    return language + ":#" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def reader_variants(
    session: Session, mailing_list: MailingList, default: str
) -> list[tuple[str, frozenset[str] | None]]:
    """The (language, sections) pairs the list's active readers want, one rendered variant each.

    The default language for all sections always comes first: it serves readers whose variant is missing
    and the public web version.
    """
    query = (
        select(func.coalesce(Subscriber.language, default), Subscription.sections)
        .join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
        .where(Subscription.list_id == mailing_list.id, Subscription.status == SubscriptionStatus.ACTIVE)
        .distinct()
    )
    wanted: dict[str, tuple[str, frozenset[str] | None]] = {variant_key(default): (default, None)}
    for language, raw_sections in session.exec(query).all():
        language = language if language in LANGUAGES else default
        sections = parse_sections(raw_sections)
        wanted.setdefault(variant_key(language, sections), (language, sections))
    first = variant_key(default)
    return [wanted[first], *(wanted[key] for key in sorted(wanted) if key != first)]


def recipients_per_variant(session: Session, mailing_list: MailingList, default: str) -> dict[str, int]:
    """How many active readers of ``mailing_list`` get each variant key (as :func:`reader_variants` keys them)."""
    query = (
        select(Subscriber.language, Subscription.sections, func.count())
        .join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
        .where(Subscription.list_id == mailing_list.id, Subscription.status == SubscriptionStatus.ACTIVE)
        .group_by(col(Subscriber.language), col(Subscription.sections))
    )
    counts: dict[str, int] = {}
    for language, raw_sections, count in session.exec(query).all():
        key = variant_key(language if language in LANGUAGES else default, parse_sections(raw_sections))
        counts[key] = counts.get(key, 0) + count
    return counts


def publication_of(settings: Settings, mailing_list: MailingList, language: str | None = None) -> Publication:
    """The publication's details as the templates need them, named for readers of ``language``."""
    from digest.render import Publication

    logo_width, logo_height = settings.logo_dimensions
    return Publication(
        name=settings.publication_name_for(language or settings.language),
        postal_address=settings.postal_address,
        base_url=settings.base_url,
        list_name=mailing_list.name,
        list_slug=mailing_list.slug,
        brand_color=settings.brand_color,
        logo_url=settings.logo_url,
        logo_width=logo_width,
        logo_height=logo_height,
    )


def _as_template(text: str) -> str:
    """An editor's literal text as a subject or preheader template (braces are not placeholders)."""
    return text.replace("{", "{{").replace("}", "}}")


def render_options(settings: Settings, language: str | None = None, edits: Edits | None = None) -> RenderOptions:
    """How the settings (and an editor's own subject or preheader) want editions worded and linked for readers
    of ``language``."""
    from digest.render import RenderOptions

    language = language or settings.language
    edits = edits or Edits()
    subject, preheader = edits.subject.get(language), edits.preheader.get(language)
    return RenderOptions(
        subject_template=_as_template(subject) if subject else settings.subject_template_for(language),
        preheader_template=_as_template(preheader) if preheader else settings.preheader_template_for(language),
        utm_source=settings.utm_source if settings.utm else None,
        headline_style=settings.headline_style,
    )


def dump_choices(choices: EditorChoices) -> str:
    """An editor's choices as JSON, kept with the edition so a rebuild keeps them."""
    return json.dumps(
        {
            "featured": choices.featured,
            "exclude": sorted(choices.exclude),
            "intro": choices.intro,
            "edits": choices.edits.to_json(),
        },
        ensure_ascii=False,
    )


def load_choices(raw: str | None) -> EditorChoices:
    """The choices kept by :func:`dump_choices` (none for a fresh edition)."""
    from digest.selection import EditorChoices

    data = json.loads(raw or "{}")
    return EditorChoices(
        featured=data.get("featured") or None,
        exclude=frozenset(data.get("exclude") or ()),
        intro=data.get("intro") or "",
        edits=Edits.from_json(data.get("edits")),
    )


def selection_rules(settings: Settings) -> SelectionRules:
    """The selection rules the settings state."""
    from digest.selection import SelectionRules

    return SelectionRules(
        headlines_max=settings.headlines_max,
        summary_chars=settings.summary_chars,
        headline_order=settings.headline_order,
        group_by_section=settings.group_by_section,
        sections=tuple(settings.sections),
        section_order=tuple(settings.section_order),
        section_max=settings.section_max or None,
        section_weights=dict(settings.section_weights),
        source_weights=dict(settings.source_weights),
        language=settings.language,
    )


def load_sources(
    *,
    session: Session,
    settings: Settings,
    day: date,
    sources: list[str] | None = None,
    warn: Warn = lambda _message: None,
    fetcher: Fetcher | None = None,
) -> LoadResult:
    """Fetch and parse the sources (ETag / Last-Modified remembered in the database).

    A broken source and every item a source had to leave out are passed to ``warn``; when every source
    is broken, DigestError names each one.
    """
    source_list = sources or settings.sources
    if not source_list:
        raise ConfigError("no sources: set DIGEST_SOURCES or pass --source")
    own_fetcher = fetcher is None
    from digest.sources.fetch import Fetcher

    fetcher = fetcher or Fetcher(state=DatabaseFetchState(session))
    try:
        loaded = load_articles(source_list, fetcher, day=day, tz=settings.tz)
    finally:
        if own_fetcher:
            fetcher.close()
    for error in loaded.errors:
        warn(f"warning: skipped source {error}")
    for warning in loaded.warnings:
        warn(f"warning: {warning}")
    if loaded.errors and len(loaded.errors) == len(source_list):
        raise DigestError(f"every source failed ({len(loaded.errors)}): " + "; ".join(str(e) for e in loaded.errors))
    return loaded


def build_edition(
    *,
    session: Session,
    settings: Settings,
    day: date,
    list_slug: str | None = None,
    sources: list[str] | None = None,
    choices: EditorChoices | None = None,
    warn: Warn = lambda _message: None,
    fetcher: Fetcher | None = None,
    now: datetime | None = None,
    kind: str = EditionKind.DAILY,
    window_end: datetime | None = None,
) -> tuple[Edition, Selection]:
    """Read the sources, select the edition's window, render every variant and store the edition as a draft.

    The window is computed at the first build (``now``: the build time, default the clock; ``window_end``:
    where a rolling window ends, default ``now``) and kept by every rebuild (:func:`window_for`). A weekly
    edition selects from the sources and the week's stored daily editions
    (:func:`digest.selection.weekly.select_week`).

    A broken source is passed to ``warn`` and skipped; when every source is broken, DigestError names each
    (see :func:`load_sources`).
    A day with no articles raises NothingToSend and stores nothing. An edition already sending or sent is
    never rebuilt.
    """
    from digest.selection import EditorChoices
    from digest.selection import select as select_articles
    from digest.selection.weekly import select_week

    mailing_list = get_list(session=session, slug=list_slug or settings.list_slug)
    existing = find_edition(session, mailing_list, day, kind)
    if existing and existing.status in (EditionStatus.SENDING, EditionStatus.SENT):
        raise EditionError(
            f"the {day} {edition_name(kind)} of {mailing_list.slug} is already {existing.status}: it cannot be rebuilt"
        )
    if choices is None:
        choices = load_choices(existing.choices_json) if existing else EditorChoices()
    now = now or utcnow()
    window = window_for(
        session=session, settings=settings, mailing_list=mailing_list, day=day, now=now, kind=kind, end=window_end
    )
    start, end = window
    if start >= end:
        # The list's next edition was built first and covers this span already: nothing is left for this one.
        raise NothingToSend(f"nothing to send for {day}: the list's edition before it already covers up to {end}")
    loaded = load_sources(session=session, settings=settings, day=day, sources=sources, warn=warn, fetcher=fetcher)

    # An undated item belongs to the window it was first read in: remembered so it never comes back.
    seen = first_seen(session, (a.canonical_url for a in loaded.articles if a.published is None), now)
    if kind == EditionKind.WEEKLY:
        selection = select_week(
            loaded.articles,
            week_dailies(session, mailing_list, day),
            window=window,
            day=day,
            rules=selection_rules(settings),
            choices=choices,
            first_seen=seen,
        )
    else:
        selection = select_articles(
            loaded.articles,
            window=window,
            day=day,
            rules=selection_rules(settings),
            choices=choices,
            first_seen=seen,
        )
    selection, edits = apply_edits(selection, loaded.articles, choices.edits, tz=settings.tz)
    choices = dataclasses.replace(choices, edits=edits)
    if selection.is_empty:
        latest = max((a.published for a in loaded.articles if a.published), default=None)
        hint = f" (the newest article is from {latest.astimezone(settings.tz):%Y-%m-%d %H:%M})" if latest else ""
        if latest and latest >= end and settings.edition_window == "rolling":
            # Articles of a past day published after its morning cutoff: a replay wants the calendar day.
            hint += "; to replay a past day, set DIGEST_EDITION_WINDOW=calendar"
        raise NothingToSend(
            f"nothing to send for {day}: no article from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}{hint}"
        )
    edition = store_edition(
        session=session,
        settings=settings,
        mailing_list=mailing_list,
        selection=selection,
        edition=existing,
        choices=choices,
        window=window,
        kind=kind,
    )
    return edition, selection


def ensure_edition(
    *,
    session: Session,
    settings: Settings,
    mailing_list: MailingList,
    day: date,
    change: Callable[[EditorChoices], EditorChoices] | None = None,
    warn: Warn = lambda _message: None,
    now: datetime | None = None,
    kind: str = EditionKind.DAILY,
    window_end: datetime | None = None,
) -> Edition:
    """The ``day``'s edition of ``kind`` of ``mailing_list``: as stored, or built when there is none (at
    ``now``, its window ending at ``window_end``: see :func:`build_edition`). With ``change``, it is rebuilt
    from the sources with ``change`` applied to its stored choices (the editor's adjustments)."""
    edition = find_edition(session, mailing_list, day, kind)
    if edition is not None and change is None:
        return edition
    from digest.selection import EditorChoices

    choices = None
    if change is not None:
        choices = change(load_choices(edition.choices_json) if edition else EditorChoices())
    built, _ = build_edition(
        session=session,
        settings=settings,
        day=day,
        list_slug=mailing_list.slug,
        choices=choices,
        warn=warn,
        now=now,
        kind=kind,
        window_end=window_end,
    )
    return built


def store_edition(
    *,
    session: Session,
    settings: Settings,
    mailing_list: MailingList,
    selection: Selection,
    edition: Edition | None = None,
    choices: EditorChoices | None = None,
    window: Window | None = None,
    kind: str = EditionKind.DAILY,
) -> Edition:
    """Render ``selection`` once per variant the list's readers want, lint it and store it as the edition
    (a new one of ``kind``; an existing one keeps its own).

    An unsent edition's variants are replaced, its approval and lint override dropped (unless auto-approve,
    for an edition of at least DIGEST_MIN_ARTICLES articles), so what an editor approved is exactly what is
    sent. ``window`` is stored with a new edition; an existing one keeps its own.
    """
    from digest.render import make_environment, render_variant

    if choices is None and edition is not None:
        choices = load_choices(edition.choices_json)
    edits = choices.edits if choices else Edits()
    if edition is not None:
        kind = edition.kind
    links = Links.from_settings(settings)
    web_url = links.edition_url(mailing_list.slug, selection.day, kind)
    environments: dict[str, Environment] = {}
    variants = []
    for language, sections in reader_variants(session, mailing_list, settings.language):
        if language not in environments:
            environments[language] = make_environment(language)
        env = environments[language]
        variants.append(
            render_variant(
                selection,
                env=env,
                publication=publication_of(settings, mailing_list, language),
                language=language,
                web_url=web_url,
                sections=sections,
                options=render_options(settings, language, edits),
                weekly=kind == EditionKind.WEEKLY,
            )
        )
    issues = [
        issue
        for variant in variants
        for issue in lint_variant(
            html=variant.html,
            text=variant.text,
            subject=variant.subject,
            preheader=variant.preheader,
            variant=variant_key(variant.language, variant.sections),
        )
    ]
    assert mailing_list.id is not None
    if edition is None:
        edition = Edition(list_id=mailing_list.id, date=selection.day, kind=kind)
    edition.subject = variants[0].subject
    edition.preheader = variants[0].preheader
    edition.selection_json = dump_selection(selection)
    edition.picked_sections = dump_picked_sections(selection)
    if choices is not None:
        edition.choices_json = dump_choices(choices)
    edition.lint_json = dump_issues(issues)
    edition.lint_override = False
    if window is not None and edition.window_start is None:
        # Kept in UTC: SQLite would drop the offset of a local time.
        edition.window_start, edition.window_end = (moment.astimezone(UTC) for moment in window)
    approve = settings.auto_approve and article_count(selection) >= settings.min_articles
    edition.status = EditionStatus.APPROVED if approve else EditionStatus.DRAFT
    edition.approved_at = utcnow() if approve else None
    session.add(edition)
    session.flush()
    session.execute(delete(EditionVariant).where(col(EditionVariant.edition_id) == edition.id))
    assert edition.id is not None
    for variant in variants:
        session.add(
            EditionVariant(
                edition_id=edition.id,
                key=variant_key(variant.language, variant.sections),
                language=variant.language,
                format="html",
                subject=variant.subject,
                html=variant.html,
                text=variant.text,
            )
        )
    session.commit()
    session.refresh(edition)
    return edition


def lint_blockers(edition: Edition) -> list[LintIssue]:
    """The lint errors that stop ``edition`` from being sent (none once an editor overrode them)."""
    if edition.lint_override:
        return []
    return lint_errors(load_issues(edition.lint_json))


def blocked_message(edition: Edition, blockers: list[LintIssue]) -> str:
    """Why ``edition`` cannot go out, naming each lint error and the way to override."""
    listed = "; ".join(str(issue) for issue in blockers[:10])
    more = f" (and {len(blockers) - 10} more)" if len(blockers) > 10 else ""
    return (
        f"the {edition.date} {edition_name(edition.kind)} has {len(blockers)} lint error(s): {listed}{more}. "
        f"Fix them and rebuild, or send anyway with "
        f"`digest approve --date {edition.date}{kind_option(edition.kind)} --ignore-lint`"
    )


def auto_approve(*, session: Session, settings: Settings, edition: Edition) -> Edition:
    """With DIGEST_AUTO_APPROVE=1, approve a draft at send time (one an earlier preview or build left), as the
    cron run needs; an edition already approved, sending or sent is left as it is, never rebuilt.

    EditionError when the draft waits for the editor: fewer than DIGEST_MIN_ARTICLES articles, or lint errors.
    """
    if not settings.auto_approve or edition.status != EditionStatus.DRAFT:
        return edition
    thin = thin_message(edition, article_count(load_selection(edition.selection_json)), settings)
    if thin:
        raise EditionError(thin)
    return approve_edition(session=session, edition=edition)


def approve_edition(*, session: Session, edition: Edition, ignore_lint: bool = False) -> Edition:
    """Mark a draft edition approved, so `digest send` may send it.

    Lint errors refuse the approval (EditionError naming them) unless ``ignore_lint``, which is recorded so
    the send goes ahead too.
    """
    if edition.status not in (EditionStatus.DRAFT, EditionStatus.APPROVED):
        raise EditionError(f"the {edition.date} {edition_name(edition.kind)} is already {edition.status}")
    blockers = lint_blockers(edition)
    if blockers and not ignore_lint:
        raise EditionError(blocked_message(edition, blockers))
    edition.status = EditionStatus.APPROVED
    edition.approved_at = utcnow()
    edition.lint_override = bool(blockers)
    session.add(edition)
    session.commit()
    return edition
