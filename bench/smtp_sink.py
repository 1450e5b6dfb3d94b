"""An aiosmtpd sink for the SMTP benchmark, in its own process: accepts and counts, prints its port."""

from __future__ import annotations

import signal
import socket
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller


class Counter:
    """Accepts every message without parsing it."""

    def __init__(self) -> None:
        self.messages = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        return "250 OK"


def main() -> None:
    """Serve until SIGTERM, then report the count on stderr."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port, data_size_limit=0)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(port, flush=True)
    stop.wait()
    controller.stop()
    print(f"received {counter.messages}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
