"""Import subscribers from CSV: one outcome per row; a bad row is reported, never fatal."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from digest.errors import DigestError, SubscriberError
from subscribers.models import MailingList
from subscribers.store import add_subscriber

COLUMNS = ("email", "name", "language", "sections")


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What happened to one CSV row (line numbers count the header as line 1)."""

    line: int
    email: str
    outcome: str
    reason: str = ""


@dataclass
class ImportReport:
    """Every row's outcome and the totals per outcome."""

    rows: list[RowOutcome] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        """How many rows were added, updated, unchanged, invalid or refused."""
        return Counter(row.outcome for row in self.rows)


def import_csv(
    lines: Iterable[str],
    *,
    session: Session,
    mailing_list: MailingList,
    confirmed: bool = False,
    now: datetime | None = None,
) -> ImportReport:
    """Subscribe every row of a CSV (header: email[,name,language,sections]) to ``mailing_list``.

    Sections inside one cell are separated by ``;``. Re-importing the same file changes nothing.
    """
    reader = csv.DictReader(lines)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    if "email" not in header:
        raise DigestError(f"CSV header must have an 'email' column (found: {', '.join(header) or 'nothing'})")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise DigestError(f"CSV header has unknown columns {', '.join(unknown)} (known: {', '.join(COLUMNS)})")
    reader.fieldnames = header
    report = ImportReport()
    for row in reader:
        line = reader.line_num
        raw_email = (row.get("email") or "").strip()
        sections = [s.strip() for s in (row.get("sections") or "").split(";") if s.strip()]
        try:
            with session.begin_nested():
                result = add_subscriber(
                    session=session,
                    mailing_list=mailing_list,
                    email=raw_email,
                    name=(row.get("name") or "").strip() or None,
                    language=(row.get("language") or "").strip().lower() or None,
                    sections=sections or None,
                    confirmed=confirmed,
                    source="import",
                    now=now,
                    commit=False,
                )
            report.rows.append(RowOutcome(line, result.subscriber.email, result.outcome))
        except SubscriberError as err:
            outcome = "refused" if "suppressed" in str(err) else "invalid"
            report.rows.append(RowOutcome(line, raw_email, outcome, str(err)))
    session.commit()
    return report
