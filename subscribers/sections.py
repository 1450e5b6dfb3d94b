"""The sections a reader chose on a list, and the one place that knows how the subscription column stores
them: comma-separated names, none meaning every section."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from digest.errors import SubscriberError
from subscribers.inputs import MAX_SECTION_LENGTH, check_text

MAX_SECTIONS = 40
_SEPARATOR = ","


@dataclass(frozen=True, slots=True)
class Sections:
    """A reader's chosen sections, in their order; empty means every section."""

    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, stored: str | None) -> Sections:
        """The sections as the subscription column holds them."""
        return cls(tuple(part.strip() for part in (stored or "").split(_SEPARATOR) if part.strip()))

    @classmethod
    def chosen(cls, names: Iterable[str] | None) -> Sections:
        """Sections a reader or an import asked for, cleaned; SubscriberError names a bad one."""
        cleaned: list[str] = []
        for section in names or ():
            name = section.strip()
            if not name:
                continue
            if _SEPARATOR in name or len(name) > MAX_SECTION_LENGTH:
                raise SubscriberError(f"section {name[:80]!r} must be under {MAX_SECTION_LENGTH} characters, no commas")
            check_text(name, "section", max_length=MAX_SECTION_LENGTH)
            if name not in cleaned:
                cleaned.append(name)
        if len(cleaned) > MAX_SECTIONS:
            raise SubscriberError(f"at most {MAX_SECTIONS} sections (got {len(cleaned)})")
        return cls(tuple(cleaned))

    def stored(self) -> str | None:
        """The column's value (None: every section)."""
        return _SEPARATOR.join(self.names) or None

    def as_set(self) -> frozenset[str] | None:
        """The sections as a set, or None for every section (how variants are keyed)."""
        return frozenset(self.names) or None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)
