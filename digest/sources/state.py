"""Remember each source's ETag / Last-Modified and body in the database (the SourceState table)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from digest.models import SeenItem, SourceState
from subscribers.models import utcnow

if TYPE_CHECKING:
    from digest.sources.fetch import Remembered

# The column sizes of SourceState.
_MAX_URL, _MAX_ETAG, _MAX_DATE = 2000, 400, 100


class DatabaseFetchState:
    """The :class:`~digest.sources.fetch.FetchState` of production: one SourceState row per source URL.

    The body is kept so a 304 Not Modified can be answered from it. The column is text, so the exact bytes
    (which the parsers need to sniff the encoding) are stored base64-encoded, in a small JSON envelope
    with the final URL and content type.

    Sources are fetched from several threads at once; a lock lets one of them use the session at a time.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._lock = threading.Lock()

    def get(self, url: str) -> Remembered | None:
        """What the source answered last time, or None (never fetched, or an unreadable row)."""
        with self._lock:  # the row's attributes are read under the lock too: another thread's commit expires them
            row = self.session.exec(select(SourceState).where(SourceState.url == url)).first()
            body, etag, last_modified = (row.body, row.etag, row.last_modified) if row else (None, None, None)
        if not body:
            return None
        try:
            envelope = json.loads(body)
            content = base64.b64decode(envelope["content"], validate=True)
            final_url, content_type = envelope["final_url"], envelope.get("content_type", "")
        except (ValueError, KeyError, TypeError):
            return None  # a row from another version: fetch the whole body again
        from digest.sources.fetch import Remembered  # with httpcore: only a build from URLs needs it

        return Remembered(etag, last_modified, content, final_url, content_type)

    def put(self, url: str, remembered: Remembered) -> None:
        """Store the validators and body of ``url``, committed at once so a failed build keeps them."""
        if len(url) > _MAX_URL:
            return  # too long to index: this source is fetched in full each time
        with self._lock:
            self._store(url, remembered)

    def _store(self, url: str, remembered: Remembered) -> None:
        row = self.session.exec(select(SourceState).where(SourceState.url == url)).first() or SourceState(url=url)
        # A cut validator would never match again: one too long for its column is not kept.
        row.etag = remembered.etag if remembered.etag and len(remembered.etag) <= _MAX_ETAG else None
        row.last_modified = remembered.last_modified if len(remembered.last_modified or "") <= _MAX_DATE else None
        row.body = json.dumps(
            {
                "final_url": remembered.final_url,
                "content_type": remembered.content_type,
                "content": base64.b64encode(remembered.content).decode("ascii"),
            }
        )
        row.fetched_at = utcnow()
        self.session.add(row)
        self.session.commit()


def first_seen(session: Session, urls: Iterable[str], now: datetime) -> dict[str, datetime]:
    """When each of ``urls`` (undated items' canonical URLs) was first read; those never seen are recorded
    as seen ``now``. URLs too long for the column are left out (their items count as new each time)."""
    wanted = sorted({url for url in urls if len(url) <= _MAX_URL})
    known: dict[str, datetime] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.exec(select(SeenItem).where(col(SeenItem.url).in_(chunk))).all()
        # SQLite gives the stored UTC time back without its offset.
        known.update({row.url: row.first_seen.replace(tzinfo=row.first_seen.tzinfo or UTC) for row in rows})
    for url in wanted:
        if url not in known:
            session.add(SeenItem(url=url, first_seen=now))
            known[url] = now
    session.commit()
    return known
