"""Feeds written for a test: stories at chosen times, as an RSS 2.0 file a source reads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape


def write_feed(path: Path, stories: Iterable[tuple[str, datetime]]) -> Path:
    """An RSS 2.0 feed at ``path`` with one item per (title, published) story, each with its own link and a
    summary long enough to be a real article."""
    items = "".join(
        f"<item><title>{escape(title)}</title><link>https://news.example.org/story/{number}</link>"
        f"<guid>https://news.example.org/story/{number}</guid><pubDate>{format_datetime(published)}</pubDate>"
        f"<description>{escape(title)}: what happened, who said what, and what comes next. "
        * 3
        + "</description></item>"
        for number, (title, published) in enumerate(stories, start=1)
    )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Test news</title>'
        f"<link>https://news.example.org/</link><description>Test</description>{items}</channel></rss>",
        encoding="utf-8",
    )
    return path
