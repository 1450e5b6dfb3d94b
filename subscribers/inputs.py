"""Checks on free text from forms, the command line and CSV files before it is stored.

Names, sections and list slugs end up in mail headers, file paths, page titles and rendered variants: one
character that breaks a line (CR, LF, U+2028), hides text (NUL) or turns it around (bidi overrides) there
breaks every reader's send or misleads them. So such text is refused, never silently repaired.
"""

from __future__ import annotations

import functools
import re
import zoneinfo

from digest.errors import SubscriberError

# C0 and C1 controls (DEL included), the Unicode line and paragraph separators, and the invisible marks and
# overrides that change the display direction of the text around them.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
MAX_SECTION_LENGTH = 60
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# What a list created before these rules may be called: anything else names no list.
ANY_SLUG = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Words a list's URLs (/editions/<slug>, /editor/<slug>/...) or the site's routes already use, and names that
# mean something as a path.
RESERVED_SLUGS = frozenset(
    {
        "readers",
        "subscribers",
        "subscribe",
        "editor",
        "editions",
        "edition",
        "webhooks",
        "feed",
        "archive",
        "admin",
        "api",
        "static",
        "confirm",
        "unsubscribe",
        "preferences",
        "u",
        "p",
        "c",
    }
)


def check_text(value: str, what: str, *, max_length: int) -> str:
    """``value`` when it is one line of at most ``max_length`` characters without control characters, else
    SubscriberError naming ``what`` and the first offending character."""
    found = CONTROL_CHARACTERS.search(value)
    if found:
        raise SubscriberError(f"{what} must not contain the control character U+{ord(found.group()):04X}")
    if len(value) > max_length:
        raise SubscriberError(f"{what} must be at most {max_length} characters")
    return value


def check_slug(slug: str, *, existing: bool = False) -> str:
    """``slug`` when it can name a new list in URLs and file paths, else SubscriberError saying why.

    With ``existing`` (a lookup), only what a list may already be called is required: a slug that cannot be
    a list's is refused before it reaches a query.
    """
    if existing:
        if not ANY_SLUG.fullmatch(slug):
            raise SubscriberError(f"no list {slug[:80]!r}")
        return slug
    if not SLUG.fullmatch(slug):
        raise SubscriberError(
            f"list slug {slug[:80]!r} must be 1 to 64 ASCII letters, digits, '-' or '_', starting with a letter "
            "or digit"
        )
    if slug.lower() in RESERVED_SLUGS:
        raise SubscriberError(f"list slug {slug!r} is reserved (a word the site's addresses use)")
    return slug


# The longest IANA key is 32 characters today; a reader's time zone is stored in 64 (Subscriber.timezone).
MAX_TIMEZONE_LENGTH = 64


@functools.cache
def known_timezones() -> frozenset[str]:
    """The IANA keys this machine's zoneinfo knows (read once: the set does not change while running)."""
    return frozenset(zoneinfo.available_timezones())


def check_timezone(value: str | None) -> str | None:
    """``value`` as a reader's time zone: an IANA key such as ``Europe/Paris`` that zoneinfo knows, or None
    (blank: the publication's). Else SubscriberError naming what is wrong.

    Only keys of :func:`known_timezones` pass, compared exactly: a path (``../../etc/passwd``), an absolute
    file name or a key in the wrong case never reaches ``ZoneInfo``, which would read files by that name.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    shown = value[:80]
    check_text(value, "time zone", max_length=MAX_TIMEZONE_LENGTH)
    if value not in known_timezones():
        raise SubscriberError(f"time zone {shown!r} is not an IANA time zone name such as Europe/Paris")
    return value
