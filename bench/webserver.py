"""The web app on one uvicorn worker, for the bench's load generators: `python -m bench.webserver PORT`.

Settings come from the environment, as under `digest serve`; it prints "ready" once it accepts connections.
"""

from __future__ import annotations

import sys

import uvicorn

from digest.db import make_engine
from digest.settings import load_settings
from digest.web.app import create_app


def main() -> None:
    """Serve on 127.0.0.1:PORT until terminated."""
    settings = load_settings()
    app = create_app(settings, engine=make_engine(settings.database_url))
    config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    print("ready", flush=True)
    server.run()


if __name__ == "__main__":
    main()
