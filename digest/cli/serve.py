"""`digest serve`: the web pages."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import errors_to_exit, state_of
from digest.errors import ConfigError


@errors_to_exit
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the web pages: subscribe, preferences, unsubscribe, editor, archive.

    Behind a reverse proxy, list it in DIGEST_TRUSTED_PROXIES so rate limits see readers' addresses.

    Example: digest serve --port 8000
    """
    import uvicorn

    from digest.mail import get_backend
    from digest.web.app import create_app, uvicorn_log_config

    state = state_of(ctx)
    weak = state.settings.weak_keys()  # also refuses a missing key now, not on the first request
    if weak:
        raise ConfigError(f"DIGEST_SECRET_KEY is guessable ({'; '.join(weak)}): set a long random one")
    # A mail setting no confirmation could be sent with (smtp without its URL, an http base URL...) is named now,
    # not in the log after a visitor was told to check their inbox.
    get_backend(state.settings).close()
    app_ = create_app(state.settings, engine=state.ready_engine())
    # X-Forwarded-For is read by the app from DIGEST_TRUSTED_PROXIES only; uvicorn's own reading would believe
    # any local process (its default trusts 127.0.0.1).
    uvicorn.run(app_, host=host, port=port, log_level="info", log_config=uvicorn_log_config(), proxy_headers=False)
