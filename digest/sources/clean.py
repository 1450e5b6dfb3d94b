"""Cleaning what sources give: canonical URLs, title keys, timezone-aware dates (text: see text.py).

Everything here is pure: strings in, strings (or datetimes) out.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, tzinfo
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

# C0 and C1 controls, zero-width and soft-hyphen characters: never part of a URL.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff]+")

# Query parameters that only track where a click came from; they never change what a URL points to.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "xtor",
        "at_medium",
        "at_campaign",
        "at_platform",
        "at_send_date",
        "ocid",
        "cmpid",
        "ito",
        "wt_mc",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "spm",
        "share",
        "amp",
    }
)
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_")
_URL_SAFE = "/%:@!$&'()*+,;=-._~?"


def absolute_url(link: str | None, base_url: str = "") -> str | None:
    """``link`` made absolute against ``base_url``; None unless it is an http(s) URL (no javascript:, data:)."""
    link = "".join(_INVISIBLE.sub("", link or "").split())
    if not link:
        return None
    try:
        parts = urlsplit(urljoin(base_url, link) if base_url else link)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.port == 0:
            return None
    except ValueError:  # a malformed host or port ("http://[x/", "http://a:b/")
        return None
    # Non-ASCII paths ("/طقس/1002") are percent-encoded: every mail client follows such a link.
    return urlunsplit(parts._replace(path=quote(parts.path, safe=_URL_SAFE), query=quote(parts.query, safe=_URL_SAFE)))


def canonical_url(url: str) -> str:
    """The identity of ``url``: scheme and host lower-cased, default port, fragment and tracking parameters
    (utm_*, fbclid, xtor, ...) removed, remaining parameters sorted, unsafe characters percent-encoded."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # not a URL we can take apart: it is its own identity
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMETERS and not key.lower().startswith(_TRACKING_PREFIXES)
    )
    path = quote(parts.path or "/", safe=_URL_SAFE)
    return urlunsplit((scheme, host, path, urlencode(query), ""))


_PUNCTUATION_OR_SPACE = re.compile(r"[\W_]+")


def title_key(title: str) -> str:
    """A title reduced for near-duplicate detection: case, accents and diacritics (Latin and Arabic),
    apostrophes, punctuation and spacing ignored."""
    text = unicodedata.normalize("NFKD", title.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch) and ch != "\u0640")  # \u0640: tatweel
    return " ".join(_PUNCTUATION_OR_SPACE.sub(" ", text).split())


def language_code(value: str | None) -> str | None:
    """A declared language ("fr-FR", "en_us", "AR") as an ISO 639-1 code ("fr"), or None."""
    code = re.split(r"[-_\s]", (value or "").strip(), maxsplit=1)[0].lower()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


def parse_date(raw: str | None, tz: tzinfo) -> datetime | None:
    """A date as sources write it (RFC 822 or ISO 8601) as an aware datetime; one without an offset is
    read in the publication's time zone ``tz``. None when ``raw`` is empty or not a date."""
    raw = (raw or "").strip()
    if not raw:
        return None
    value: datetime | None = None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        try:
            value = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=tz)
    return value
