"""The publisher's dashboard at ``/editor``: the last editions with their figures, rates and list growth."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from fastapi.responses import RedirectResponse

from digest.web.editor.auth import editor_router
from digest.web.editor.desk import desk_url
from digest.web.pages import settings_of

router = editor_router()


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def editor_home(request: Request) -> RedirectResponse:
    """Today's edition of the default list."""
    settings = settings_of(request)
    return RedirectResponse(desk_url(settings.list_slug, datetime.now(settings.tz).date()), status_code=303)
