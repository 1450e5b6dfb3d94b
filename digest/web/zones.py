"""The time-zone chooser of the preference centre: IANA zones grouped by region, each with its offset now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from markupsafe import escape

from subscribers.inputs import known_timezones

# The regions a person looks for their city under; the other keys zoneinfo knows (US/Pacific, Etc/GMT+5,
# posixrules...) are aliases or technical names, accepted from a CSV but not offered.
REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@dataclass(frozen=True, slots=True)
class ZoneChoice:
    """One option: the IANA key, and what the reader reads (city and UTC offset now)."""

    key: str
    label: str


def _offset(zone: str, now: datetime) -> str:
    offset = now.astimezone(ZoneInfo(zone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_options(now: datetime, current: str | None) -> bytes:
    """The chooser's ``<optgroup>``s and ``<option>``s as HTML in UTF-8 (zones grouped by region, sorted by city,
    with their UTC offset at ``now``), ``current`` selected and kept even when it is not in a region (an alias
    a CSV import set), so that saving the form never changes it unasked.

    The preference page is the readers' busiest GET: ~430 options through the template engine cost more than
    the rest of the page, so they are made once an hour (offsets change only at clock changes, on the hour),
    already encoded for the page to splice in (:func:`digest.web.pages.page`), and only the chosen one is marked
    per reader.
    """
    html = _regional_html(now.replace(minute=0, second=0, microsecond=0))
    region, _, city = (current or "").partition("/")
    if current and not (region in REGIONS and city) and current in known_timezones():
        html += _group("Other", [ZoneChoice(current, f"{current} ({_offset(current, now)})")]).encode()
    if current:
        chosen = f'<option value="{escape(current)}">'.encode()
        html = html.replace(chosen, chosen[:-1] + b" selected>", 1)
    return html


@lru_cache(maxsize=2)
def _regional_html(hour: datetime) -> bytes:
    groups: dict[str, list[ZoneChoice]] = {}
    for key in known_timezones():
        region, _, city = key.partition("/")
        if region in REGIONS and city:
            label = f"{city.replace('_', ' ').replace('/', ' / ')} ({_offset(key, hour)})"
            groups.setdefault(region, []).append(ZoneChoice(key, label))
    html = "".join(_group(region, sorted(groups[region], key=lambda choice: choice.key)) for region in sorted(groups))
    return html.encode()


def _group(region: str, choices: list[ZoneChoice]) -> str:
    options = "".join(f'<option value="{escape(choice.key)}">{escape(choice.label)}</option>' for choice in choices)
    return f'<optgroup label="{escape(region)}">{options}</optgroup>'
