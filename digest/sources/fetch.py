"""Fetch a source's bytes from a file path or an http(s) URL: timeouts, a size cap, a clear User-Agent,
limited redirects and conditional GET (ETag / Last-Modified remembered by a :class:`FetchState`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from digest import __version__
from digest.errors import SourceError

USER_AGENT = f"digest/{__version__} (newsletter digest generator)"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    """The bytes of one source, the URL they finally came from, and whether they came from the cache
    because the server answered 304 Not Modified."""

    url: str
    content: bytes
    content_type: str = ""
    not_modified: bool = False


@dataclass(frozen=True, slots=True)
class Remembered:
    """What a server last sent for a URL: its validators and the body they validate."""

    etag: str | None
    last_modified: str | None
    content: bytes
    final_url: str
    content_type: str = ""


class FetchState(Protocol):
    """Where the fetcher remembers validators between runs (the database in production)."""

    def get(self, url: str) -> Remembered | None:
        """What was remembered for ``url``, if anything."""
        ...

    def put(self, url: str, remembered: Remembered) -> None:
        """Remember ``remembered`` for ``url``."""
        ...


class Fetcher:
    """Reads sources; one instance per build so one HTTP connection pool serves every source.

    ``timeout`` bounds each network read, ``connect_timeout`` each connection, ``deadline`` one whole
    source (a server sending a byte a second never holds a build for long).
    """

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        connect_timeout: float = 10.0,
        deadline: float = 60.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = 5,
        state: FetchState | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.state = state
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=True,
            max_redirects=max_redirects,
            headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT},
            transport=transport,
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, source: str) -> Fetched:
        """Read ``source`` (URL or file path) or raise SourceError naming it and the reason."""
        if source.startswith(("http://", "https://")):
            return self._fetch_url(source)
        scheme = source.split("://", 1)[0] if "://" in source else ""
        if scheme and scheme != "file":
            raise SourceError(source, f"unsupported URL scheme {scheme!r}: use an http(s) URL or a file path")
        path = Path(source.removeprefix("file://")).expanduser()
        try:
            if path.is_dir():
                raise SourceError(source, "is a folder, not a feed or page file")
            size = path.stat().st_size
            if size > self.max_bytes:
                raise SourceError(source, f"file is {size} bytes, over the {self.max_bytes}-byte cap")
            return Fetched(path.resolve().as_uri(), path.read_bytes())
        except OSError as err:
            raise SourceError(source, f"cannot read file: {err.strerror or err}") from err

    def _fetch_url(self, url: str) -> Fetched:
        remembered = self.state.get(url) if self.state else None
        headers = {}
        if remembered and remembered.etag:
            headers["If-None-Match"] = remembered.etag
        if remembered and remembered.last_modified:
            headers["If-Modified-Since"] = remembered.last_modified
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304 and remembered:
                    return Fetched(remembered.final_url, remembered.content, remembered.content_type, True)
                if response.status_code >= 300:
                    raise SourceError(url, f"HTTP {response.status_code} {response.reason_phrase}".strip())
                content = self._read_capped(url, response)
                fetched = Fetched(str(response.url), content, response.headers.get("Content-Type", ""))
        except httpx.TooManyRedirects as err:
            raise SourceError(url, f"too many redirects (more than {self._client.max_redirects})") from err
        except httpx.TimeoutException as err:
            what = "connecting" if isinstance(err, httpx.ConnectTimeout) else "waiting for data"
            raise SourceError(url, f"timed out {what}") from err
        except (httpx.HTTPError, httpx.InvalidURL) as err:
            raise SourceError(url, f"cannot fetch: {err or type(err).__name__}") from err
        etag, last_modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        if self.state and (etag or last_modified):
            self.state.put(url, Remembered(etag, last_modified, fetched.content, fetched.url, fetched.content_type))
        return fetched

    def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceError(url, f"body of {int(declared)} bytes is over the {self.max_bytes}-byte cap")
        started = time.monotonic()
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise SourceError(url, f"body over the {self.max_bytes}-byte cap")
            if time.monotonic() - started > self.deadline:
                raise SourceError(url, f"timed out: still reading after {self.deadline:g} s")
            chunks.append(chunk)
        return b"".join(chunks)


_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, "
    "text/xml;q=0.9, text/html;q=0.8, text/plain;q=0.5, */*;q=0.1"
)
