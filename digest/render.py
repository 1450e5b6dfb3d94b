"""Render an edition: Jinja2 templates to HTML with CSS inlined by premailer, plus a plain-text part.

Pure: a Selection and the publication's details in, a RenderedVariant out. The Jinja2 environment is built
once by the caller (:func:`make_environment`) and passed in; nothing here reads settings, files or clocks.
Per-reader links stay as placeholders (:mod:`digest.personalize`), filled at send time.
"""

from __future__ import annotations

import logging
import textwrap
from dataclasses import dataclass
from pathlib import Path

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from premailer import Premailer

from digest.content import Selection
from digest.personalize import placeholder

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})


def templates_dir() -> Path:
    """The folder of the email templates, installed as a wheel (digest/_templates) or from a checkout."""
    package = Path(__file__).parent
    for candidate in (package / "_templates" / "email", package.parent / "templates" / "email"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("templates/email not found beside the digest package")


def make_environment(folder: Path | None = None) -> Environment:
    """The Jinja2 environment for email templates: autoescaped, strict about undefined names."""
    env = Environment(
        loader=FileSystemLoader(str(folder or templates_dir())),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


@dataclass(frozen=True, slots=True)
class Publication:
    """Who sends the edition, as the templates show it."""

    name: str
    postal_address: str
    base_url: str
    list_name: str
    brand_color: str = "#b3261e"


@dataclass(frozen=True, slots=True)
class RenderedVariant:
    """One rendered form of an edition: subject, preheader, inlined HTML and text, placeholders unfilled."""

    language: str
    subject: str
    preheader: str
    html: str
    text: str


def one_line(text: str) -> str:
    """Text fit for a header or a title: every run of whitespace, CR and LF included, becomes one space."""
    return " ".join(text.split())


def subject_for(selection: Selection, publication: Publication) -> str:
    """The default subject: the publication's name and the featured title."""
    if selection.featured:
        return one_line(f"{publication.name} : {selection.featured.article.title}")
    return one_line(publication.name)


def inline_css(html: str) -> str:
    """Inline the CSS of ``html`` with premailer, keeping `@media` rules and their `!important`.

    Styles premailer cannot apply inline (media queries, dark mode) stay in a `<style>` block; nothing is
    fetched from the network.
    """
    inliner = Premailer(
        html,
        keep_style_tags=True,
        strip_important=False,
        remove_classes=False,
        allow_network=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        disable_link_rewrites=True,
    )
    return inliner.transform(pretty_print=False)


def render_variant(
    selection: Selection,
    *,
    env: Environment,
    publication: Publication,
    language: str,
    web_url: str,
    subject: str | None = None,
) -> RenderedVariant:
    """Render ``selection`` in ``language``: HTML (CSS inlined) and text, per-reader links as placeholders."""
    subject = one_line(subject or subject_for(selection, publication))
    preheader = one_line(selection.featured_summary)
    context = {
        "selection": selection,
        "featured": selection.featured.article if selection.featured else None,
        "featured_summary": selection.featured_summary,
        "headlines": [pick.article for pick in selection.headlines],
        "publication": publication,
        "language": language,
        "direction": "rtl" if language in RTL_LANGUAGES else "ltr",
        "date_label": format_date(selection.day, format="full", locale=language),
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
        subject=subject,
        preheader=preheader,
        html=inline_css(html),
        text=wrap_text(text),
    )


def wrap_text(text: str, width: int = 72) -> str:
    """Wrap prose lines at ``width``; lines holding a URL are left whole so links stay clickable."""
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= width or "://" in line:
            out.append(line.rstrip())
        else:
            out.extend(textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False))
    return "\n".join(out).strip() + "\n"
