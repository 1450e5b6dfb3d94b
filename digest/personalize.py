"""Per-reader placeholders: put into a rendered edition once, filled for each reader by plain substitution."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# The per-reader fields a rendered edition may hold. Their values are URL-safe (signed tokens), so the
# same value serves HTML, text and SendGrid substitutions without escaping.
FIELDS = ("unsubscribe_url", "preferences_url")
_PATTERN = re.compile(r"%%([a-z_]+)%%")


def placeholder(name: str) -> str:
    """The marker standing for the per-reader field ``name`` in rendered content."""
    if name not in FIELDS:
        raise ValueError(f"unknown per-reader field {name!r}")
    return f"%%{name}%%"


@dataclass(frozen=True, slots=True)
class Personalizable:
    """Content split once at its placeholders so that filling it for a reader is one join."""

    parts: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def compile(cls, content: str) -> Personalizable:
        """Split ``content`` at its placeholders."""
        pieces = _PATTERN.split(content)
        return cls(parts=tuple(pieces[0::2]), names=tuple(pieces[1::2]))

    def fill(self, values: Mapping[str, str]) -> str:
        """The content with every placeholder replaced by ``values[name]``."""
        out = [self.parts[0]]
        for name, part in zip(self.names, self.parts[1:], strict=True):
            out.append(values[name])
            out.append(part)
        return "".join(out)


def unfilled(content: str) -> list[str]:
    """Names of placeholders left in ``content`` that are not per-reader fields (a template mistake)."""
    return sorted({name for name in _PATTERN.findall(content) if name not in FIELDS})
