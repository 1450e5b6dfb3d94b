"""`digest serve`: the web pages."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import errors_to_exit, state_of


@errors_to_exit
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the web pages: subscribe, preferences, unsubscribe, editor, archive.

    Behind a reverse proxy, run uvicorn with --proxy-headers instead so rate limits see readers' addresses.

    Example: digest serve --port 8000
    """
    import uvicorn

    from digest.mail import get_backend
    from digest.web.app import create_app

    state = state_of(ctx)
    state.settings.signing_keys()  # no key with a real backend: refuse now, not on the first request
    # A mail setting no confirmation could be sent with (smtp without its URL, an http base URL...) is named now,
    # not in the log after a visitor was told to check their inbox.
    get_backend(state.settings).close()
    app_ = create_app(state.settings, engine=state.ready_engine())
    uvicorn.run(app_, host=host, port=port, log_level="info")
