"""The editor's intro note: a tiny safe Markdown (paragraphs, emphasis, lists, links) turned into clean HTML.

Markdown is parsed by markdown-it-py with raw HTML off, then nh3 keeps only the tags below and http(s) or
mailto links, so whatever an editor pastes cannot add script, style or tracking to the email.
"""

from __future__ import annotations

import re

from markupsafe import Markup

INTRO_TAGS = {"p", "br", "a", "em", "strong", "ul", "ol", "li"}
INTRO_SCHEMES = {"http", "https", "mailto"}


def intro_html(text: str) -> Markup:
    """``text`` (Markdown) as sanitised HTML: one ``<p>`` per paragraph, line breaks kept, safe links only."""
    import nh3
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})
    rendered = parser.render(text.strip())
    cleaned = nh3.clean(
        rendered,
        tags=INTRO_TAGS,
        attributes={"a": {"href"}},
        url_schemes=INTRO_SCHEMES,
        link_rel=None,
    )
    return Markup(cleaned.strip())  # nh3 just sanitised it


def intro_text(text: str) -> str:
    """``text`` (Markdown) for the plain-text part: links written out as ``words (url)``, markup dropped."""
    linked = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"\1 (\2)", text.strip())
    return re.sub(r"(\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w))", "", linked)
