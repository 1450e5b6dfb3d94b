"""Ten sources that each answer after 200 ms, fetched and parsed by `load_articles`: against a floor of one
source's pause (what a build waits for at best when every source is fetched at the same time)."""

from __future__ import annotations

import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

from bench.report import Figure, timed
from digest.settings import SAMPLE_FEED
from digest.sources import load_articles
from digest.sources.fetch import Fetcher

PAUSE = 0.2
FEED = SAMPLE_FEED.read_bytes()


class _Slow(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        time.sleep(PAUSE)
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(FEED)))
        self.end_headers()
        self.wfile.write(FEED)


def bench_sources(count: int = 10, repeat: int = 3) -> list[Figure]:
    """The median of ``repeat`` loads of ``count`` slow sources."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    sources = [f"{base}/feed-{n}" for n in range(count)]
    try:
        with Fetcher() as fetcher:
            runs = sorted(
                timed(lambda: load_articles(sources, fetcher, day=date(2025, 11, 27), tz=ZoneInfo("UTC")))
                for _ in range(repeat)
            )
    finally:
        httpd.shutdown()
        httpd.server_close()
    name = f"{count} sources answering in {PAUSE * 1000:.0f} ms each"
    return [Figure(name, count, "sources", runs[len(runs) // 2], PAUSE, note="floor: one source's pause")]
