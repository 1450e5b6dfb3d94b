"""Check a rendered edition before it is sent: what would get it clipped, flagged or broken in an inbox.

Pure: rendered HTML and text in, a list of :class:`LintIssue` out. Errors block the send until an editor
overrides them (`digest approve --ignore-lint`); warnings are shown only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from digest.personalize import FIELDS, placeholder, unfilled

# Gmail clips a message whose HTML passes about 102 KB; keep a margin for the headers it counts.
HTML_MAX_BYTES = 100 * 1024
HTML_WARN_BYTES = 80 * 1024
# Gmail drops a whole <style> block over 16 KB.
STYLE_MAX_BYTES = 16 * 1024
# A signed per-reader link is about this long once filled in.
FILLED_LINK_LENGTH = 160
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class LintIssue:
    """One finding: ``level`` is "error" (blocks the send) or "warning"; ``variant`` names the variant."""

    level: str
    code: str
    message: str
    variant: str = ""

    def __str__(self) -> str:
        where = f"[{self.variant}] " if self.variant else ""
        return f"{self.level}: {where}{self.message} ({self.code})"


def _size_when_filled(html: str) -> int:
    size = len(html.encode("utf-8"))
    for name in FIELDS:
        size += html.count(placeholder(name)) * (FILLED_LINK_LENGTH - len(placeholder(name)))
    return size


def _link_problem(url: str) -> tuple[str, str] | None:
    """(level, reason) when ``url`` cannot be followed safely from an inbox, else None."""
    if url.startswith("%%") and url.endswith("%%"):
        return None
    parts = urlsplit(url.strip())
    if parts.scheme == "mailto":
        return None
    if parts.scheme == "file":
        return ERROR, "points at a local file: readers cannot open it (give the source as its https:// URL)"
    if not parts.scheme or not parts.netloc:
        return ERROR, "is relative: inboxes have no page to resolve it against"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return WARNING, "is a local http:// link: fine for a demo, set DIGEST_BASE_URL to your https:// site"
    return ERROR, f"uses {parts.scheme}:// instead of https://"


def lint_variant(*, html: str, text: str, subject: str, preheader: str, variant: str = "") -> list[LintIssue]:
    """Every problem of one rendered variant (placeholders unfilled), errors first."""
    issues: list[LintIssue] = []

    def add(level: str, code: str, message: str) -> None:
        issues.append(LintIssue(level, code, message, variant))

    size = _size_when_filled(html)
    if size > HTML_MAX_BYTES:
        add(ERROR, "html-size", f"the HTML is {size / 1024:.1f} KB: Gmail clips messages over about 102 KB")
    elif size > HTML_WARN_BYTES:
        add(WARNING, "html-size", f"the HTML is {size / 1024:.1f} KB, close to Gmail's clipping at about 102 KB")
    if not text.strip():
        add(ERROR, "text-empty", "the plain-text part is empty")
    for name in sorted(set(unfilled(html) + unfilled(text))):
        add(ERROR, "placeholder", f"unknown placeholder %%{name}%% would reach readers as is")
    if not subject.strip():
        add(ERROR, "subject-empty", "the subject is empty")
    if not preheader.strip():
        add(WARNING, "preheader-empty", "no preheader: inboxes will show the first words of the body instead")
    if not html.strip():
        add(ERROR, "html-empty", "the HTML part is empty")
        return _sorted(issues)

    # Imported here: reading an edition's stored findings (a send, an approval) needs no HTML parser.
    import lxml.html

    document = lxml.html.document_fromstring(html)
    style_bytes = sum(len((style.text or "").encode("utf-8")) for style in document.iter("style"))
    if style_bytes > STYLE_MAX_BYTES:
        add(ERROR, "style-size", f"the <style> blocks hold {style_bytes / 1024:.1f} KB: Gmail drops them over 16 KB")
    title = document.findtext(".//title") or ""
    if title != subject:
        add(ERROR, "title", f"the <title> {title!r} differs from the subject {subject!r}")
    for image in document.iter("img"):
        src = image.get("src", "")
        if image.get("alt") is None:
            add(ERROR, "img-alt", f"the image {src} has no alt text")
        if not (image.get("width") or "").strip().isdigit():
            add(ERROR, "img-width", f"the image {src} has no numeric width: Outlook would show it at its file's size")
        problem = _link_problem(src)
        if problem:
            add(problem[0], "img-src", f"the image {src} {problem[1]}")
    for anchor in document.iter("a"):
        href = anchor.get("href")
        if href is None:
            continue
        problem = _link_problem(href)
        if problem:
            add(problem[0], "link", f"the link {href} {problem[1]}")
    for table in document.iter("table"):
        if table.get("role") != "presentation":
            add(WARNING, "table-role", 'a layout <table> lacks role="presentation" (screen readers read it as data)')
            break
    return _sorted(issues)


def _sorted(issues: list[LintIssue]) -> list[LintIssue]:
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda issue: issue.level != ERROR)


def errors(issues: Iterable[LintIssue]) -> list[LintIssue]:
    """The issues that block a send."""
    return [issue for issue in issues if issue.level == ERROR]


def dump_issues(issues: Iterable[LintIssue]) -> str:
    """Issues as JSON, to keep with the edition."""
    return json.dumps([asdict(issue) for issue in issues], ensure_ascii=False)


def load_issues(raw: str | None) -> list[LintIssue]:
    """Issues kept by :func:`dump_issues` (none for an edition built before lint existed)."""
    if not raw:
        return []
    return [LintIssue(**item) for item in json.loads(raw)]
