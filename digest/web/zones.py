"""The time-zone chooser of the preference centre: IANA zones grouped by region, each with its offset now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

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


def zone_groups(now: datetime, current: str | None) -> list[tuple[str, list[ZoneChoice]]]:
    """The zones offered, as (region, options sorted by city), with ``current`` kept even when it is not in
    a region (an alias a CSV import set), so that saving the form never changes it unasked."""
    # Offsets change only at clock changes, on the hour: the ~430 regional zones are worked out once an hour,
    # not on every preference page.
    groups = _regional(now.replace(minute=0, second=0, microsecond=0))
    region, _, city = (current or "").partition("/")
    if current is None or (region in REGIONS and city):
        return groups
    alias = ZoneChoice(current, f"{current} ({_offset(current, now)})")
    return [*groups, ("Other", [alias])] if current in known_timezones() else groups


@lru_cache(maxsize=4)
def _regional(hour: datetime) -> list[tuple[str, list[ZoneChoice]]]:
    groups: dict[str, list[ZoneChoice]] = {}
    for key in known_timezones():
        region, _, city = key.partition("/")
        if region in REGIONS and city:
            label = f"{city.replace('_', ' ').replace('/', ' / ')} ({_offset(key, hour)})"
            groups.setdefault(region, []).append(ZoneChoice(key, label))
    return [(region, sorted(groups[region], key=lambda choice: choice.key)) for region in sorted(groups)]
