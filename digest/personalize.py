"""Per-reader placeholders: put into a rendered edition once, filled for each reader by plain substitution."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# The per-reader fields a rendered edition may hold. Their values are URL-safe (signed tokens), so the
# same value serves HTML, text and SendGrid substitutions without escaping.
FIELDS = ("unsubscribe_url", "preferences_url")
_PATTERN = re.compile(r"%%([a-z_]+)%%")
# Only the per-reader fields are placeholders: any other %%name%% is text and stays as written.
_FIELD_PATTERN = re.compile("%%(" + "|".join(FIELDS) + ")%%")
# Put between two "%" of text from the sources, so that no title or summary can form a placeholder
# ("%%unsubscribe_url%%" in a feed would otherwise be filled, "%%x%%" read as a template mistake): an
# invisible WORD JOINER, so a reader still sees "%%".
_JOINER = "\u2060"
_DOUBLE_PERCENT = re.compile(r"%(?=%)")


def placeholder(name: str) -> str:
    """The marker standing for the per-reader field ``name`` in rendered content."""
    if name not in FIELDS:
        raise ValueError(f"unknown per-reader field {name!r}")
    return f"%%{name}%%"


def literal(text: str) -> str:
    """``text`` from outside (a feed, an editor) made unable to form a placeholder, looking the same."""
    return _DOUBLE_PERCENT.sub("%" + _JOINER, text) if "%%" in text else text


@dataclass(frozen=True, slots=True)
class Personalizable:
    """Content split once at its placeholders so that filling it for a reader is one join."""

    parts: tuple[str, ...]
    names: tuple[str, ...]
    # The parts with a gap for each placeholder's value, and where the gaps are: a fill copies the pieces and
    # puts the reader's values in (half the time of building the list part by part).
    _pieces: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _gaps: tuple[tuple[int, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.parts) != len(self.names) + 1:
            raise ValueError("a Personalizable has one more part than it has names")
        pieces = [self.parts[0]]
        for part in self.parts[1:]:
            pieces += ["", part]
        object.__setattr__(self, "_pieces", tuple(pieces))
        object.__setattr__(self, "_gaps", tuple((2 * i + 1, name) for i, name in enumerate(self.names)))

    @classmethod
    def compile(cls, content: str) -> Personalizable:
        """Split ``content`` at its placeholders (the per-reader fields; any other ``%%name%%`` is text)."""
        pieces = _FIELD_PATTERN.split(content)
        return cls(parts=tuple(pieces[0::2]), names=tuple(pieces[1::2]))

    def fill(self, values: Mapping[str, str]) -> str:
        """The content with every placeholder replaced by ``values[name]`` (KeyError names a missing one)."""
        pieces = list(self._pieces)
        for index, name in self._gaps:
            pieces[index] = values[name]
        return "".join(pieces)


def unfilled(content: str) -> list[str]:
    """Names of placeholders left in ``content`` that are not per-reader fields (a template mistake)."""
    return sorted({name for name in _PATTERN.findall(content) if name not in FIELDS})
