"""Cleaning what sources give: plain-text titles and summaries, canonical URLs, timezone-aware dates.

Everything here is pure: strings in, strings (or datetimes) out.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime, tzinfo
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

_TAG = re.compile(r"</?[a-zA-Z][^<>]*>|<!--.*?-->", re.DOTALL)
_SCRIPT = re.compile(r"(?is)<(script|style|noscript)\b.*?</\1\s*>")
# C0 and C1 controls (CR and LF included: a title is one line), zero-width and soft-hyphen characters.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff]+")
_BLOCK_END = re.compile(r"(?i)</(?:p|div|h[1-6]|li|blockquote|figcaption|pre|tr|section|article)\s*>|<br\s*/?>|\n\s*\n")

# Tails that announce the rest of the article, in the languages our publishers write in.
_READ_MORE = re.compile(
    r"""(?ix)
    \s*(?:\[\s*(?:…|\.\.\.)\s*\]|…|\.\.\.)?          # an ellipsis before the link text
    \s*[(\[]?\s*
    (?:lire\ la\ suite|lire\ plus|la\ suite|en\ savoir\ plus|continue\ reading|read\ more|
       اقرأ\ المزيد|اقرأ\ أيضا|المزيد)
    (?:\s*(?:de\ l['’]article|»|›|→|>>|\.\.\.|…))*
    \s*[)\]]?\s*$
    """
)
# WordPress appends "The post X appeared first on Y." (in French: "L’article X est apparu en premier sur Y.").
_WORDPRESS_TAIL = re.compile(
    r"(?is)\s*(?:the post .{1,300}? appeared first on|l['’]article .{1,300}? est apparu en premier sur) .{1,200}$"
)
_TRAILING_ELLIPSIS = re.compile(r"\s*\[\s*(?:…|\.\.\.)\s*\]\s*$")

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


def plain_text(markup: str | None) -> str:
    """Markup to one line of plain text: tags stripped, entities decoded (twice-escaped ones too),
    control and zero-width characters removed, whitespace collapsed."""
    text = markup or ""
    # Feeds often escape entities twice ("&amp;#8217;"); decode until nothing changes (two rounds suffice).
    for _ in range(2):
        decoded = html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", text)))
        if decoded == text:
            break
        text = decoded
    text = _TAG.sub(" ", text)
    return " ".join(_INVISIBLE.sub(" ", text).split())


def paragraphs(markup: str | None) -> str:
    """Markup to plain-text paragraphs separated by a blank line."""
    blocks = _BLOCK_END.split(_SCRIPT.sub(" ", markup or ""))
    return "\n\n".join(p for p in (plain_text(b) for b in blocks) if p)


def clean_title(markup: str | None) -> str:
    """A title as one line of plain text."""
    return plain_text(markup)


def clean_summary(markup: str | None) -> str:
    """A summary as plain text, without "Lire la suite"-style tails or WordPress's "appeared first on"."""
    text = plain_text(markup)
    text = _WORDPRESS_TAIL.sub("", text)
    previous = None
    while previous != text:
        previous = text
        text = _READ_MORE.sub("", text)
    return _TRAILING_ELLIPSIS.sub("…", text).strip()


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
