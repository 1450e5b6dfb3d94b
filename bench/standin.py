"""Run the SendGrid stand-in in its own process for the send benchmarks: prints its URL, serves until killed."""

from __future__ import annotations

import signal
import sys
import threading

from tests.servers.sendgrid import SendGridStandIn

API_KEY = "SG.bench-key"
# Schema validation of a 1000-reader request costs more than building it: check one request in 50 (the 50th,
# 100th, ...: the same number for our send and for the floor, which post the same number of requests).
VALIDATE_EVERY = 50


def main() -> None:
    """Serve until SIGTERM; a refused (invalid) request is reported on stderr at exit. An argument is the
    seconds each answer waits, like the network and SendGrid's own time from a server far away."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    with SendGridStandIn(api_key=API_KEY, delay=delay, validate_every=VALIDATE_EVERY, keep=False) as standin:
        print(standin.url, flush=True)
        stop.wait()
        print(f"delivered {standin.delivered} refused {len(standin.refused)}", file=sys.stderr, flush=True)
        for status, problems in standin.refused[:3]:
            print(f"refused {status}: {problems[:3]}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
