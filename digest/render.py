"""Render an edition: Jinja2 templates to HTML with CSS inlined by premailer, plus a plain-text part.

Pure: a Selection and the publication's details in, a RenderedVariant out. The Jinja2 environment is built
once per language by the caller (:func:`make_environment`) and passed in; nothing here reads settings or
clocks. Per-reader links stay as placeholders (:mod:`digest.personalize`), filled at send time.
"""

from __future__ import annotations

import dataclasses
import gettext
import io
import logging
import re
import textwrap
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from digest.content import Article, Selection, normalize_sections
from digest.markup import intro_html, intro_text
from digest.personalize import literal, placeholder
from digest.typography import label, typographic_spaces

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "digest"
# Subjects and preheaders are cut here: inboxes show far less, and the columns hold 400 characters.
SUBJECT_MAX = 250
PREHEADER_MAX = 180
# The 600 px column less its 24 px gutters: the widest an image is shown.
CONTENT_WIDTH = 552
# An image known to be narrower than this is shown as a thumbnail beside the title, at most THUMBNAIL_WIDTH
# wide (never stretched); headline thumbnails are at most HEADLINE_THUMBNAIL_WIDTH.
FULL_WIDTH_MIN = 480
THUMBNAIL_WIDTH = 120
HEADLINE_THUMBNAIL_WIDTH = 80
DEK_MAX = 160
# A scaled height beyond this is not trusted (a 1 x 10,000 px claim would stretch the column in Outlook).
MAX_IMAGE_HEIGHT = 1200
# The line RFC 3676 readers recognise as the start of a signature: two dashes and a space.
SIGNATURE_SEPARATOR = "-- "
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*", re.IGNORECASE)

HeadlineStyle = Literal["titles", "summaries", "thumbnails"]


def templates_root() -> Path:
    """The templates folder, installed in a wheel (digest/_templates) or beside the package in a checkout."""
    package = Path(__file__).parent
    for candidate in (package / "_templates", package.parent / "templates"):
        if (candidate / "email").is_dir():
            return candidate
    raise FileNotFoundError("templates/email not found beside the digest package")


def templates_dir() -> Path:
    """The folder of the email templates."""
    return templates_root() / "email"


def load_translations(language: str, locale_dir: Path | None = None) -> gettext.NullTranslations:
    """The gettext catalog of ``language``, compiled in memory from its `.po` file (no build step).

    A language without a catalog gets the source strings (English).
    """
    po_path = (locale_dir or LOCALE_DIR) / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.is_file():
        return gettext.NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def make_environment(language: str = "fr", folder: Path | None = None) -> Environment:
    """A Jinja2 environment for ``folder`` (default: the email templates) speaking ``language``.

    Autoescaped for HTML templates, strict about undefined names, with the gettext catalog installed.
    """
    env = Environment(
        loader=FileSystemLoader(str(folder or templates_dir())),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    translations = load_translations(language)
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters["one_line"] = one_line
    env.filters["label"] = lambda text: label(str(text), language)
    env.filters["typography"] = lambda text: typographic_spaces(str(text), language)
    env.globals["default_subject_template"] = translations.gettext("{publication}: {featured_title}")
    env.globals["weekly_subject_template"] = translations.gettext("{publication} · This week: {featured_title}")
    # A weekly edition's heading; it also opens the subject a publisher's own subject template makes.
    env.globals["weekly_heading"] = translations.gettext("This week")
    return env


@dataclass(frozen=True, slots=True)
class Publication:
    """Who sends the edition, as the templates show it."""

    name: str
    postal_address: str
    base_url: str
    list_name: str
    list_slug: str = ""
    brand_color: str = "#b3261e"
    logo_url: str | None = None
    # The logo is shown at this size (Outlook shows an image without a numeric width at its file's size).
    logo_width: int = 200
    logo_height: int = 40


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How an edition is worded and linked.

    ``subject_template`` None takes the language's own default (its catalog's words); ``utm_source`` None: no
    UTM; ``headline_style``: titles only, titles with a one-line dek, or deks with a small thumbnail.
    """

    subject_template: str | None = None
    preheader_template: str = "{featured_summary}"
    utm_source: str | None = "newsletter"
    headline_style: HeadlineStyle = "titles"


@dataclass(frozen=True, slots=True)
class RenderedVariant:
    """One rendered form of an edition: subject, preheader, inlined HTML and text, placeholders unfilled."""

    language: str
    sections: frozenset[str] | None
    subject: str
    preheader: str
    html: str
    text: str


@dataclass(frozen=True, slots=True)
class Image:
    """An image as the templates show it: https source and the size to show it at (height None: unknown)."""

    src: str
    width: int
    height: int | None = None
    thumbnail: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """The language of one article's block: ``lang`` and ``direction`` None (unknown) inherit the edition's."""

    lang: str | None
    direction: str | None
    align: str


@dataclass(frozen=True, slots=True)
class Headline:
    """A headline as the templates show it: one-line title, the link, its language, dek and thumbnail."""

    title: str
    url: str
    block: Block
    dek: str = ""
    image: Image | None = None


@dataclass(frozen=True, slots=True)
class SectionGroup:
    """The headlines of one section (``name`` None: articles without a section)."""

    name: str | None
    headlines: tuple[Headline, ...]


# Every whitespace but the no-break spaces that French typography puts before punctuation.
_BREAKING_SPACE_RUNS = re.compile(r"[^\S\u00a0\u202f]+")


def one_line(text: str) -> str:
    """Text fit for a header or a title: every run of whitespace, CR and LF included, becomes one space.

    No-break spaces stay (they hold "Le Quotidien : …" together); their runs are nothing to fold.
    """
    return _BREAKING_SPACE_RUNS.sub(" ", str(text)).strip(" \u00a0\u202f")


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def with_utm(url: str, utm: Mapping[str, str] | None) -> str:
    """``url`` with the ``utm`` parameters (replacing any utm_* it had); non-web links are left alone."""
    if not utm:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith("utm_")]
    query.extend(utm.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def utm_parameters(options: RenderOptions, publication: Publication, selection: Selection) -> dict[str, str] | None:
    """The UTM parameters of this edition's article links, or None when UTM is off."""
    if not options.utm_source:
        return None
    campaign = f"{publication.list_slug or 'digest'}-{selection.day.isoformat()}"
    return {"utm_source": options.utm_source, "utm_medium": "email", "utm_campaign": campaign}


def in_sections(article: Article, sections: frozenset[str] | None) -> bool:
    """True when a reader who chose ``sections`` (None: all) wants ``article`` among the headlines."""
    wanted = normalize_sections(sections)
    return wanted is None or (article.section or "").strip().casefold() in wanted


def block_of(article: Article, edition_language: str) -> Block:
    """The language and direction of ``article``'s block in an edition in ``edition_language``.

    A malformed language tag (feeds are hostile) counts as unknown: the block then inherits the edition's.
    """
    edition_align = "right" if edition_language in RTL_LANGUAGES else "left"
    lang = (article.lang or "").strip()
    if not _LANGUAGE_TAG.fullmatch(lang):
        return Block(None, None, edition_align)
    rtl = lang.split("-", 1)[0].lower() in RTL_LANGUAGES
    return Block(lang, "rtl" if rtl else "ltr", "right" if rtl else "left")


def image_of(article: Article, *, widest: int, thumbnail_width: int) -> Image | None:
    """``article``'s image sized for the layout: ``widest`` wide, or a thumbnail when known to be narrower.

    Only https images are shown (mail clients block or warn about others). The height is scaled from the
    source's size when both dimensions are known, and omitted otherwise.
    """
    image = article.image or ""
    if not image.startswith("https://"):
        return None
    width = article.image_width if article.image_width and article.image_width > 0 else None
    height = article.image_height if article.image_height and article.image_height > 0 else None
    thumbnail = width is not None and width < FULL_WIDTH_MIN
    shown = min(width, thumbnail_width) if width is not None and thumbnail else widest  # never stretched
    scaled = round(height * shown / width) if width is not None and height is not None else None
    if scaled is not None and not 0 < scaled <= MAX_IMAGE_HEIGHT:
        scaled = None  # a size no real image has (feeds are hostile): let the client measure it
    return Image(image, shown, scaled, thumbnail)


def headline_of(article: Article, url: str, language: str, style: HeadlineStyle) -> Headline:
    """``article`` as a headline in ``style``: the dek and thumbnail only where the style shows them."""
    dek = shorten(one_line(article.summary), DEK_MAX) if style != "titles" else ""
    image = None
    if style == "thumbnails":
        image = image_of(article, widest=HEADLINE_THUMBNAIL_WIDTH, thumbnail_width=HEADLINE_THUMBNAIL_WIDTH)
    return Headline(one_line(article.title), url, block_of(article, language), dek, image)


def group_by_section(
    articles: list[Article], link: Mapping[str, str], language: str = "fr", style: HeadlineStyle = "titles"
) -> list[SectionGroup]:
    """Headlines grouped by section in order of first appearance; those without a section come last, with
    those of a section holding a single headline (a heading needs two: the rest go under "more")."""
    sizes = Counter(one_line(a.section) for a in articles if a.section and a.section.strip())
    groups: dict[str | None, list[Headline]] = {}
    for article in articles:
        name = one_line(article.section) if article.section and article.section.strip() else None
        name = name if name is not None and sizes[name] >= 2 else None
        groups.setdefault(name, []).append(headline_of(article, link[article.url], language, style))
    ordered = [name for name in groups if name is not None] + ([None] if None in groups else [])
    return [SectionGroup(name, tuple(groups[name])) for name in ordered]


def fill_text_template(template: str, fields: Mapping[str, str]) -> str:
    """``template`` (validated by the settings) with ``fields``; values are never parsed as templates."""
    return one_line(template.format_map(dict(fields)))


def inline_css(html: str) -> str:
    """Inline the CSS of ``html`` with premailer, offline, with cssutils' warnings silenced.

    `<style data-premailer="ignore">` blocks (media queries, dark mode, Outlook.com's `[data-ogsc]`) are left
    exactly as written, `!important` included, so they still beat the inlined styles.
    """
    # Imported here: premailer (with cssutils and requests) is a third of a second of start-up that only a
    # render pays, not `digest send` of an edition already rendered nor the web pages.
    from premailer import Premailer

    inliner = Premailer(
        html,
        keep_style_tags=False,
        strip_important=False,
        remove_classes=False,
        allow_network=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        disable_link_rewrites=True,
        # Outlook's Word engine sizes images from these attributes: the template's numbers must stay
        # (premailer would otherwise turn a CSS width:100% into width="100%" and add height="auto").
        disable_basic_attributes=["width", "height"],
    )
    return inliner.transform(pretty_print=False)


def render_variant(
    selection: Selection,
    *,
    env: Environment,
    publication: Publication,
    language: str,
    web_url: str,
    sections: frozenset[str] | None = None,
    options: RenderOptions | None = None,
    weekly: bool = False,
) -> RenderedVariant:
    """Render ``selection`` for readers of ``language`` who chose ``sections`` (None: all).

    ``env`` must speak ``language`` (:func:`make_environment`). Returns the HTML (CSS inlined) and the text
    part with the per-reader links left as placeholders. A ``weekly`` round-up carries its own heading ("This
    week" in the reader's language) and subject: the language's weekly wording, or the publisher's subject
    template after the heading.
    """
    options = options or RenderOptions()
    selection = _as_text(selection)
    featured = selection.featured.article if selection.featured else None
    headlines = [pick.article for pick in selection.headlines if in_sections(pick.article, sections)]
    utm = utm_parameters(options, publication, selection)
    link = {a.url: with_utm(a.url, utm) for a in [*headlines, *([featured] if featured else [])]}
    date_label = format_date(selection.day, format="full", locale=language)
    fields = {
        "publication": one_line(publication.name),
        "featured_title": featured.title if featured else "",
        "featured_summary": selection.featured_summary,
        "date": date_label,
        "list": publication.list_name,
    }
    # The template's own words get the language's typography; the fields (titles) are left as written.
    default_subject = str(env.globals["weekly_subject_template" if weekly else "default_subject_template"])
    heading = str(env.globals["weekly_heading"]) if weekly else ""
    subject_template = typographic_spaces(options.subject_template or default_subject, language)
    if weekly and options.subject_template:
        subject_template = f"{heading} · {subject_template}"
    subject = shorten(fill_text_template(subject_template, fields), SUBJECT_MAX).strip(" :-–—\u00a0\u202f")
    subject = subject or one_line(publication.name)
    preheader_template = typographic_spaces(options.preheader_template, language)
    preheader = shorten(fill_text_template(preheader_template, fields), PREHEADER_MAX)
    rtl = language in RTL_LANGUAGES
    context: dict[str, Any] = {
        "intro": intro_text(selection.intro),
        "intro_html": intro_html(selection.intro) if selection.intro.strip() else "",
        "featured": featured,
        "featured_title": one_line(featured.title) if featured else "",
        "featured_url": link[featured.url] if featured else "",
        "featured_image": image_of(featured, widest=CONTENT_WIDTH, thumbnail_width=THUMBNAIL_WIDTH)
        if featured
        else None,
        "featured_block": block_of(featured, language) if featured else None,
        "featured_summary": one_line(selection.featured_summary),
        "groups": group_by_section(headlines, link, language, options.headline_style),
        "headline_style": options.headline_style,
        "publication": publication,
        "language": language,
        "direction": "rtl" if rtl else "ltr",
        "align": "right" if rtl else "left",
        "date_label": date_label,
        "weekly_heading": heading,
        "subject": subject,
        "preheader": preheader,
        "web_url": web_url,
        "unsubscribe_url": Markup(placeholder("unsubscribe_url")),
        "preferences_url": Markup(placeholder("preferences_url")),
    }
    html = env.get_template("digest.html.j2").render(context)
    text = env.get_template("digest.txt.j2").render(context)
    return RenderedVariant(
        language=language,
        sections=sections or None,
        subject=subject,
        preheader=preheader,
        html=inline_css(html),
        text=wrap_text(text),
    )


def _as_text(selection: Selection) -> Selection:
    """``selection`` with every text from the sources and the editor unable to form a per-reader placeholder
    (:func:`digest.personalize.literal`): a feed title "%%x%%" reaches readers as text, never filled."""

    def article(value: Article) -> Article:
        changed: dict[str, Any] = {
            field.name: literal(text)
            for field in dataclasses.fields(value)
            if isinstance(text := getattr(value, field.name), str) and "%%" in text
        }
        return dataclasses.replace(value, **changed) if changed else value

    return dataclasses.replace(
        selection,
        featured=dataclasses.replace(selection.featured, article=article(selection.featured.article))
        if selection.featured
        else None,
        headlines=tuple(dataclasses.replace(pick, article=article(pick.article)) for pick in selection.headlines),
        intro=literal(selection.intro),
        featured_summary=literal(selection.featured_summary),
    )


_BLANK_RUNS = re.compile(r"\n{3,}")


def wrap_text(text: str, width: int = 72) -> str:
    """Wrap prose lines at ``width``, keeping their indent; lines holding a URL stay whole (clickable)."""
    out: list[str] = []
    for line in text.splitlines():
        line = line if line == SIGNATURE_SEPARATOR else line.rstrip()
        if len(line) <= width or "://" in line:
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        # A list item's continuation lines line up under its text, not under the dash.
        hanging = indent + ("  " if line.lstrip().startswith("- ") else "")
        out.extend(
            textwrap.wrap(
                line.strip(),
                width,
                initial_indent=indent,
                subsequent_indent=hanging,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return _BLANK_RUNS.sub("\n\n", "\n".join(out)).strip() + "\n"
