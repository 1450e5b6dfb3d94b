"""Which image illustrates an article: tracking pixels, icons, logos and share buttons never do. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from digest.sources.clean import absolute_url

# An image this small (in either dimension, where the source says it) is a pixel, an icon or a button.
MIN_SIDE = 100
# Words naming site furniture rather than photos, as a file name or folder part ("twitter_icon_large.png",
# "/share/facebook.png", "logo-2x.png"), and the usual names of spacers and tracking pixels.
_FURNITURE = re.compile(
    r"""(?ix)(?:^|[/_.\-])(?:
      icons?|favicons?|logos?|sprites?|buttons?|btn|badges?|emojis?|emoticons?|smilies|smiley|avatars?|gravatar|
      share|sharing|sharer|feed-?icon|1x1|beacon|spacer
    )(?:$|[/_.\-\d])"""
)
_PIXEL = re.compile(r"(?i)/(?:pixel|blank|transparent|spacer|tracker|clear|trans)\.(?:gif|png)$")
# A declared size this large is a photo's, whatever its file is called ("fashion-icons.jpg").
PHOTO_SIDE = 300
# Hosts that serve share buttons, counters and pixels, never a publisher's photos.
_FURNITURE_HOSTS = (
    "feeds.feedburner.com",
    "feedproxy.google.com",
    "stats.wordpress.com",
    "pixel.wp.com",
    "s.w.org",
    "gravatar.com",
    "facebook.com",
    "facebook.net",
    "twitter.com",
    "platform.twitter.com",
    "linkedin.com",
    "pinterest.com",
    "addtoany.com",
    "sharethis.com",
    "addthis.com",
    "doubleclick.net",
    "google-analytics.com",
    "googletagmanager.com",
    "scorecardresearch.com",
    "quantserve.com",
    "chartbeat.net",
    "feedblitz.com",
    "feedsportal.com",
)


@dataclass(frozen=True, slots=True)
class Image:
    """An article's image: absolute URL, size in pixels where the source gives it, and its caption or alt."""

    url: str
    width: int | None = None
    height: int | None = None
    alt: str = ""


def pixels(value: object) -> int | None:
    """A width or height attribute as a positive number of pixels ("640", "640px"), else None ("100%")."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*(?:px)?\s*", str(value or ""))
    return int(match[1]) or None if match else None


def is_furniture(url: str, width: int | None = None, height: int | None = None) -> bool:
    """True when the image at ``url`` is a tracking pixel, an icon, a logo or a share button, by its size
    (where known), its host or its file name and path."""
    if (width is not None and width < MIN_SIDE) or (height is not None and height < MIN_SIDE):
        return True
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if any(host == known or host.endswith(f".{known}") for known in _FURNITURE_HOSTS):
        return True
    path = unquote(parts.path)
    if _PIXEL.search(path):
        return True
    return bool(_FURNITURE.search(path)) and not (width or 0) >= PHOTO_SIDE


def pick_image(candidates: list[Image], base_url: str = "") -> Image | None:
    """The first candidate that is a real illustration, its URL made absolute (http(s) only)."""
    for candidate in candidates:
        url = absolute_url(candidate.url, base_url)
        if url and not is_furniture(url, candidate.width, candidate.height):
            return Image(url, candidate.width, candidate.height, candidate.alt)
    return None
