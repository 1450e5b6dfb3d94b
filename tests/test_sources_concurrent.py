"""Sources are fetched at the same time (each within its own deadline) and reported in the order given."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.models import SourceState
from digest.settings import SAMPLE_FEED
from digest.sources import MAX_CONCURRENT_FETCHES, load_articles
from digest.sources.fetch import Fetcher
from digest.sources.state import DatabaseFetchState

FEED = SAMPLE_FEED.read_bytes()


class SlowServer(ThreadingHTTPServer):
    daemon_threads = True
    spans: list[tuple[str, float, float]]
    lock: threading.Lock


class Handler(BaseHTTPRequestHandler):
    """Every feed answers after a short pause, like a distant server; /gone is a 404."""

    server: SlowServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        started = time.monotonic()
        time.sleep(0.2)
        if self.path == "/gone":
            self.send_error(404, "Not Found")
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", f'"{self.path}"')
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)
        with self.server.lock:
            self.server.spans.append((self.path, started, time.monotonic()))


@pytest.fixture
def server() -> Iterator[SlowServer]:
    httpd = SlowServer(("127.0.0.1", 0), Handler)
    httpd.spans, httpd.lock = [], threading.Lock()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _most_at_once(spans: list[tuple[str, float, float]]) -> int:
    """The largest number of requests the server was answering at the same moment."""
    return max(sum(1 for _, start, end in spans if start <= moment < end) for _, moment, _ in spans)


def test_sources_are_fetched_at_the_same_time_and_reported_in_order(server: SlowServer, engine: Engine) -> None:
    base = f"http://127.0.0.1:{server.server_address[1]}"
    sources = [f"{base}/feed-{n}" for n in range(5)] + [f"{base}/gone"] + [f"{base}/feed-{n}" for n in range(5, 10)]
    with Session(engine) as session, Fetcher(state=DatabaseFetchState(session)) as fetcher:
        result = load_articles(sources, fetcher, day=date(2025, 11, 27), tz=ZoneInfo("Africa/Casablanca"))
    assert len(server.spans) == 11
    assert 2 <= _most_at_once(server.spans) <= MAX_CONCURRENT_FETCHES, "the requests overlapped, within the cap"
    assert [error.source for error in result.errors] == [f"{base}/gone"]
    # Each feed's articles in the order the sources were given, whoever answered first.
    per_feed = len(result.articles) // 10
    assert per_feed > 0 and len(result.articles) == 10 * per_feed
    assert [a.url for a in result.articles[:per_feed]] == [a.url for a in result.articles[-per_feed:]]
    with Session(engine) as session:
        remembered = session.exec(select(SourceState.url, SourceState.etag)).all()
    assert sorted(remembered) == sorted(
        (source, f'"{source.removeprefix(base)}"') for source in sources if "gone" not in source
    )
