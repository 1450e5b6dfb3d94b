"""Fetch a source's bytes from a file path or an http(s) URL, with timeouts and a size cap."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from digest import __version__
from digest.errors import SourceError

USER_AGENT = f"digest/{__version__} (newsletter digest generator)"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    """The bytes of one source and the URL they finally came from."""

    url: str
    content: bytes


class Fetcher:
    """Reads sources; one instance per build so one HTTP connection pool serves every source."""

    def __init__(self, *, timeout: float = 15.0, max_bytes: int = DEFAULT_MAX_BYTES, max_redirects: int = 5):
        self.max_bytes = max_bytes
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=True,
            max_redirects=max_redirects,
            headers={"User-Agent": USER_AGENT},
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
        path = Path(source.removeprefix("file://")).expanduser()
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                raise SourceError(source, f"file is {size} bytes, over the {self.max_bytes}-byte cap")
            return Fetched(path.resolve().as_uri(), path.read_bytes())
        except OSError as err:
            raise SourceError(source, f"cannot read file: {err.strerror or err}") from err

    def _fetch_url(self, url: str) -> Fetched:
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise SourceError(url, f"HTTP {response.status_code} {response.reason_phrase}")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise SourceError(url, f"body over the {self.max_bytes}-byte cap")
                    chunks.append(chunk)
                return Fetched(str(response.url), b"".join(chunks))
        except httpx.TooManyRedirects as err:
            raise SourceError(url, "too many redirects") from err
        except httpx.TimeoutException as err:
            raise SourceError(url, f"timed out ({type(err).__name__})") from err
        except httpx.HTTPError as err:
            raise SourceError(url, f"cannot fetch: {err}") from err
