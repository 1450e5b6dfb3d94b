"""Fetch a source's bytes from a file path or an http(s) URL: timeouts, a size cap, a clear User-Agent,
limited redirects and conditional GET (ETag / Last-Modified remembered by a :class:`FetchState`).

A server is hostile until proven otherwise: one wall-clock deadline covers a whole source (connecting, every
redirect, the headers and the body, however slowly they trickle), at most one content encoding is accepted,
and the body is decompressed piece by piece against the size cap, so a small gzip bomb stays small.
"""

from __future__ import annotations

import math
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpcore

if TYPE_CHECKING:
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

    The pool (and httpx with it, a tenth of a second of start-up) is made on the first URL: a build from
    files never pays for it.

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
        self.max_redirects = max_redirects
        self._timeouts = (timeout, connect_timeout)
        self._transport = transport
        self._clock = _DeadlineBackend()
        self._client_lock = threading.Lock()
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        """The HTTP client, made on first use (sources are fetched from several threads)."""
        with self._client_lock:
            if self._http is None:
                import httpx

                timeout, connect_timeout = self._timeouts
                self._http = httpx.Client(
                    timeout=httpx.Timeout(timeout, connect=connect_timeout),
                    follow_redirects=True,
                    max_redirects=self.max_redirects,
                    headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"},
                    transport=self._transport or _deadline_transport(self._clock),
                )
            return self._http

    def close(self) -> None:
        """Close the HTTP connection pool (if one was made)."""
        with self._client_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

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
        import httpx

        client = self._client()
        remembered = self.state.get(url) if self.state else None
        headers = {}
        if remembered and remembered.etag:
            headers["If-None-Match"] = remembered.etag
        if remembered and remembered.last_modified:
            headers["If-Modified-Since"] = remembered.last_modified
        self._clock.start(self.deadline)
        try:
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304 and remembered:
                    return Fetched(remembered.final_url, remembered.content, remembered.content_type, True)
                if response.status_code >= 300:
                    raise SourceError(url, f"HTTP {response.status_code} {response.reason_phrase}".strip())
                content = self._read_capped(url, response)
                fetched = Fetched(str(response.url), content, response.headers.get("Content-Type", ""))
        except httpx.TooManyRedirects as err:
            raise SourceError(url, f"too many redirects (more than {self.max_redirects})") from err
        except httpx.TimeoutException as err:
            if self._clock.passed():
                raise SourceError(url, f"timed out: still reading after {self.deadline:g} s") from err
            what = "connecting" if isinstance(err, httpx.ConnectTimeout) else "waiting for data"
            raise SourceError(url, f"timed out {what}") from err
        except (httpx.HTTPError, httpx.InvalidURL) as err:
            raise SourceError(url, f"cannot fetch: {err or type(err).__name__}") from err
        finally:
            self._clock.stop()
        etag, last_modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        if self.state and (etag or last_modified):
            self.state.put(url, Remembered(etag, last_modified, fetched.content, fetched.url, fetched.content_type))
        return fetched

    def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceError(url, f"body of {int(declared)} bytes is over the {self.max_bytes}-byte cap")
        codings = [c.strip().lower() for c in response.headers.get("Content-Encoding", "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise SourceError(url, f"stacked content encodings ({', '.join(codings)}) are refused")
        if codings and codings[0] not in _DECODERS:
            raise SourceError(url, f"unsupported content encoding {codings[0]!r}")
        started = time.monotonic()
        raw = response.iter_raw()
        pieces = _inflate(raw, codings[0], self.max_bytes) if codings else raw
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in pieces:
                size += len(chunk)
                if size > self.max_bytes:
                    raise SourceError(url, f"body over the {self.max_bytes}-byte cap")
                if time.monotonic() - started > self.deadline:
                    raise SourceError(url, f"timed out: still reading after {self.deadline:g} s")
                chunks.append(chunk)
        except zlib.error as err:
            raise SourceError(url, f"bad {codings[0]} body: {err}") from err
        return b"".join(chunks)


_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def _inflate(raw: Iterable[bytes], coding: str, max_bytes: int) -> Iterator[bytes]:
    """Decompress ``raw`` in pieces of at most ``max_bytes + 1`` bytes, so the caller's cap stops a bomb early."""
    decoder = zlib.decompressobj(_DECODERS[coding])
    first = True
    for chunk in raw:
        data = chunk
        while data:
            try:
                piece = decoder.decompress(data, max_bytes + 1)
            except zlib.error:
                if not (first and coding == "deflate"):
                    raise
                # Some servers send raw deflate without the zlib header that "deflate" means.
                decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                piece = decoder.decompress(data, max_bytes + 1)
            first = False
            data = decoder.unconsumed_tail
            if piece:
                yield piece
    tail = decoder.flush()
    if tail:
        yield tail


class _DeadlineBackend(httpcore.NetworkBackend):
    """Plain sockets whose every connect, read and write waits at most until the current source's deadline.

    httpx's timeouts bound each operation; a server dribbling a header byte just inside the read timeout
    would otherwise hold a build indefinitely. The deadline is per thread (one source at a time each).
    """

    def __init__(self) -> None:
        self._sockets = httpcore.SyncBackend()
        self._local = threading.local()

    def start(self, seconds: float) -> None:
        """Begin one source: every operation from now on ends ``seconds`` from now at the latest."""
        self._local.until = time.monotonic() + seconds

    def stop(self) -> None:
        """End the source (connections kept alive for the next one wait without a deadline)."""
        self._local.until = math.inf

    def passed(self) -> bool:
        """Whether the current source's deadline has passed."""
        return time.monotonic() >= getattr(self._local, "until", math.inf)

    def cap(self, timeout: float | None, error: type[Exception]) -> float | None:
        """``timeout`` shortened to the time left, or ``error`` when none is left."""
        left = getattr(self._local, "until", math.inf) - time.monotonic()
        if left <= 0:
            raise error("the source's deadline passed")
        if math.isinf(left):
            return timeout
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._sockets.connect_tcp(
            host, port, self.cap(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream, self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._sockets.connect_unix_socket(path, self.cap(timeout, httpcore.ConnectTimeout), socket_options)
        return _DeadlineStream(stream, self)

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, backend: _DeadlineBackend) -> None:
        self._stream = stream
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._backend.cap(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._backend.cap(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = self._backend.cap(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout), self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _deadline_transport(backend: _DeadlineBackend) -> httpx.HTTPTransport:
    """httpx's own transport, on sockets that keep to the source's deadline.

    httpx has no setting for the network backend, so its connection pool is replaced by one built the same
    way (certificates verified) but on ``backend``.
    """
    import httpx

    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=backend)
    return transport


_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, "
    "text/xml;q=0.9, text/html;q=0.8, text/plain;q=0.5, */*;q=0.1"
)
