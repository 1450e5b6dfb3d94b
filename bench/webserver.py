"""The web app on one uvicorn worker, for the bench's load generators: `python -m bench.webserver PORT [floor]`.

Settings come from the environment, as under `digest serve`, and uvicorn runs as `digest serve` runs it (no
proxy headers, the access log with readers' tokens scrubbed, written to stdout). With ``floor`` it serves
instead a bare Starlette app answering the same paths with a fixed page: what one worker and this load
generator can do at best, the floor the readers' pages are measured against.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from digest.db import make_engine
from digest.settings import load_settings
from digest.web.app import create_app, uvicorn_log_config

# About the size of a preference page.
FLOOR_PAGE = "<!doctype html><title>floor</title>" + "<p>" + "x" * 4000 + "</p>"


async def _floor_page(request: Request) -> HTMLResponse:
    await request.body()
    return HTMLResponse(FLOOR_PAGE)


def floor_app() -> Starlette:
    """The floor: the readers' paths answered with a fixed page, no middleware, no database."""
    return Starlette(routes=[Route("/{kind}/{token}", _floor_page, methods=["GET", "POST"])])


def main() -> None:
    """Serve on 127.0.0.1:PORT until terminated."""
    if sys.argv[2:] == ["floor"]:
        app = floor_app()
    else:
        settings = load_settings()
        app = create_app(settings, engine=make_engine(settings.database_url))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=int(sys.argv[1]), log_config=uvicorn_log_config(), proxy_headers=False
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
