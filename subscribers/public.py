"""Role-named shapes of subscriber data as it leaves the program (`--json`, pages): the outward contract of
DESIGN.md, apart from the tables' own models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from subscribers.store import SubscriberRow, split_sections


class SubscriberPublic(BaseModel):
    """One reader on one list as `digest subscribers list --json` prints it; times are ISO 8601 with offsets."""

    model_config = ConfigDict(frozen=True)

    email: str
    name: str | None
    language: str | None
    status: str
    sections: list[str] | None
    frequency: str
    format: str
    paused_until: str | None
    #: The reader's own time zone (an IANA name); None: the publication's (DIGEST_TIMEZONE).
    timezone: str | None
    subscribed_at: str
    confirmed_at: str | None

    @classmethod
    def from_row(cls, row: SubscriberRow) -> SubscriberPublic:
        """The public shape of a stored row."""
        return cls(
            email=row.email,
            name=row.name,
            language=row.language,
            status=row.status,
            sections=split_sections(row.sections) or None,
            frequency=row.frequency,
            format=row.format,
            paused_until=row.paused_until.isoformat() if row.paused_until else None,
            timezone=row.timezone,
            subscribed_at=row.subscribed_at.isoformat(),
            confirmed_at=row.confirmed_at.isoformat() if row.confirmed_at else None,
        )
