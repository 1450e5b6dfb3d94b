"""Fetching against a real HTTP server on loopback: timeouts, conditional GET, size cap, redirects."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.edition import load_sources
from digest.errors import SourceError
from digest.models import SourceState
from digest.settings import SAMPLE_FEED, Settings
from digest.sources.fetch import USER_AGENT, Fetcher
from digest.sources.state import DatabaseFetchState

FEED = SAMPLE_FEED.read_bytes()
MB = 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    """Routes of the test server; every request's headers are kept on the server for the tests to read."""

    server: FeedServer

    def log_message(self, format: str, *args: object) -> None:  # the tests read requests, not logs
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers)))
        route = getattr(self, "route_" + self.path.strip("/").split("?")[0].replace("-", "_"), None)
        if route is None:
            self.send_error(404, "Not Found")
            return
        route()

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_feed(self) -> None:
        if self.headers.get("If-None-Match") == '"v1"':
            self._send(304, ETag='"v1"')
        else:
            self._send(
                200,
                FEED,
                ETag='"v1"',
                Last_Modified="Thu, 27 Nov 2025 18:40:00 GMT",
                Content_Type="application/rss+xml",
            )

    def route_slow(self) -> None:
        time.sleep(1.5)
        self._send(200, FEED)

    def route_drip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(FEED)))
        self.end_headers()
        for start in range(0, len(FEED), 200):
            self.wfile.write(FEED[start : start + 200])
            self.wfile.flush()
            time.sleep(0.1)

    def route_declared_big(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(50 * MB))
        self.end_headers()

    def route_big(self) -> None:
        # 50 MB without a Content-Length: the cap must stop the read, not a header.
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"<item>" + b"x" * (MB - 6)
        try:
            for _ in range(50):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up at the cap, as it should

    def route_loop(self) -> None:
        self._send(302, Location="/loop-again")

    def route_loop_again(self) -> None:
        self._send(302, Location="/loop")

    def route_moved(self) -> None:
        self._send(301, Location="/feed")

    def route_error(self) -> None:
        self._send(503, b"maintenance")

    def route_gzip(self) -> None:
        self._send(200, gzip.compress(FEED), Content_Encoding="gzip")

    def route_deflate(self) -> None:
        self._send(200, zlib.compress(FEED), Content_Encoding="deflate")

    def route_stacked(self) -> None:
        # 6 KB on the wire, gigabytes once both layers are undone.
        self._send(200, _STACKED_BOMB, Content_Encoding="gzip, gzip")

    def route_bomb(self) -> None:
        self._send(200, _BOMB, Content_Encoding="gzip")

    def route_slow_headers(self) -> None:
        # One header byte every 0.2 s, each read well inside the read timeout: only the deadline stops it.
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 200:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass


_BOMB = gzip.compress(b"\0" * (64 * MB), compresslevel=9)
_STACKED_BOMB = gzip.compress(_BOMB, compresslevel=9)


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[tuple[str, dict[str, str]]]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A real HTTP server on a free loopback port, for one test."""
    httpd = FeedServer(("127.0.0.1", 0), Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def url(server: FeedServer, path: str) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}{path}"


def test_fetch_sends_a_clear_user_agent(server: FeedServer) -> None:
    with Fetcher() as fetcher:
        fetched = fetcher.fetch(url(server, "/feed"))
    assert fetched.content == FEED
    assert fetched.content_type == "application/rss+xml"
    assert server.requests[0][1]["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("digest/")


def test_read_timeout(server: FeedServer) -> None:
    started = time.monotonic()
    with Fetcher(timeout=0.3) as fetcher, pytest.raises(SourceError) as caught:
        fetcher.fetch(url(server, "/slow"))
    assert time.monotonic() - started < 1.4
    assert caught.value.reason == "timed out waiting for data"
    assert caught.value.source.endswith("/slow")


def test_a_trickling_server_hits_the_deadline(server: FeedServer) -> None:
    with Fetcher(timeout=1, deadline=0.3) as fetcher, pytest.raises(SourceError) as caught:
        fetcher.fetch(url(server, "/drip"))
    assert "still reading after 0.3 s" in caught.value.reason


def test_conditional_get_remembers_the_etag_in_the_database(server: FeedServer, engine: Engine) -> None:
    feed_url = url(server, "/feed")
    with Session(engine) as session, Fetcher(state=DatabaseFetchState(session)) as fetcher:
        first = fetcher.fetch(feed_url)
    with Session(engine) as session:
        row = session.exec(select(SourceState).where(SourceState.url == feed_url)).one()
        assert row.etag == '"v1"'
        assert row.last_modified == "Thu, 27 Nov 2025 18:40:00 GMT"
    # A new run (new session, new fetcher) asks with the validators and gets 304: the body comes from the DB.
    with Session(engine) as session, Fetcher(state=DatabaseFetchState(session)) as fetcher:
        second = fetcher.fetch(feed_url)
    assert not first.not_modified and second.not_modified
    assert second.content == first.content == FEED
    assert second.content_type == "application/rss+xml"
    sent = server.requests[1][1]
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Thu, 27 Nov 2025 18:40:00 GMT"
    assert "If-None-Match" not in server.requests[0][1]


def test_oversize_body_is_refused(server: FeedServer) -> None:
    with Fetcher() as fetcher:
        with pytest.raises(SourceError) as declared:
            fetcher.fetch(url(server, "/declared-big"))
        started = time.monotonic()
        with pytest.raises(SourceError) as streamed:
            fetcher.fetch(url(server, "/big"))
    assert declared.value.reason == f"body of {50 * MB} bytes is over the {10 * MB}-byte cap"
    assert streamed.value.reason == f"body over the {10 * MB}-byte cap"
    assert time.monotonic() - started < 5


def test_redirect_loop_is_cut(server: FeedServer) -> None:
    with Fetcher(max_redirects=4) as fetcher, pytest.raises(SourceError) as caught:
        fetcher.fetch(url(server, "/loop"))
    assert caught.value.reason == "too many redirects (more than 4)"
    assert len(server.requests) == 5


def test_a_redirect_is_followed_and_the_final_url_kept(server: FeedServer) -> None:
    with Fetcher() as fetcher:
        fetched = fetcher.fetch(url(server, "/moved"))
    assert fetched.url == url(server, "/feed")
    assert fetched.content == FEED


def test_http_errors_and_unreachable_hosts_name_the_cause(server: FeedServer) -> None:
    with Fetcher(connect_timeout=1) as fetcher:
        with pytest.raises(SourceError) as missing:
            fetcher.fetch(url(server, "/nothing-here"))
        with pytest.raises(SourceError) as down:
            fetcher.fetch(url(server, "/error"))
        port = server.server_address[1]
        server.shutdown()
        server.server_close()
        with pytest.raises(SourceError) as refused:
            fetcher.fetch(f"http://127.0.0.1:{port}/feed")
    assert missing.value.reason == "HTTP 404 Not Found"
    assert down.value.reason == "HTTP 503 Service Unavailable"
    assert refused.value.reason.startswith("cannot fetch:")


def test_files_are_read_with_the_same_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 2000)
    with Fetcher(max_bytes=1000) as fetcher:
        with pytest.raises(SourceError) as over:
            fetcher.fetch(str(big))
        with pytest.raises(SourceError) as missing:
            fetcher.fetch(str(tmp_path / "nope.xml"))
        with pytest.raises(SourceError) as folder:
            fetcher.fetch(str(tmp_path))
    assert over.value.reason == "file is 2000 bytes, over the 1000-byte cap"
    assert missing.value.reason == "cannot read file: No such file or directory"
    assert folder.value.reason == "is a folder, not a feed or page file"
    with Fetcher() as fetcher, pytest.raises(SourceError) as ftp:
        fetcher.fetch("ftp://files.example/feed.xml")
    assert ftp.value.reason == "unsupported URL scheme 'ftp': use an http(s) URL or a file path"


def test_a_build_twice_reads_the_unchanged_feed_from_the_database(
    server: FeedServer, engine: Engine, settings: Settings
) -> None:
    feed_url = url(server, "/feed")
    runs = []
    for _ in range(2):
        with Session(engine) as session:
            loaded = load_sources(session=session, settings=settings, day=date(2025, 11, 27), sources=[feed_url])
        runs.append(loaded.articles)
    assert runs[0] == runs[1] and len(runs[0]) > 5
    assert [headers.get("If-None-Match") for _, headers in server.requests] == [None, '"v1"']


def test_compressed_bodies_are_decoded(server: FeedServer) -> None:
    with Fetcher() as fetcher:
        assert fetcher.fetch(url(server, "/gzip")).content == FEED
        assert fetcher.fetch(url(server, "/deflate")).content == FEED


def test_stacked_content_encodings_are_refused(server: FeedServer) -> None:
    with Fetcher() as fetcher, pytest.raises(SourceError) as caught:
        fetcher.fetch(url(server, "/stacked"))
    assert "stacked content encodings" in caught.value.reason


def test_a_gzip_bomb_stops_at_the_cap_while_decompressing(server: FeedServer) -> None:
    with Fetcher(max_bytes=MB) as fetcher, pytest.raises(SourceError) as caught:
        fetcher.fetch(url(server, "/bomb"))
    assert f"over the {MB}-byte cap" in caught.value.reason


def test_the_deadline_covers_slowly_sent_headers(server: FeedServer) -> None:
    with Fetcher(timeout=1, deadline=0.6) as fetcher, pytest.raises(SourceError) as caught:
        fetcher.fetch(url(server, "/slow-headers"))
    assert "still reading after 0.6 s" in caught.value.reason, "the headers alone would take 40 s"
