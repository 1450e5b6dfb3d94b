"""The editor's pages under ``/editor`` (behind DIGEST_EDITOR_PASSWORD): the dashboard, the readers, the desk.

`digest serve` mounts them; `digest preview` serves them on the editor's own machine without a password.
"""

from __future__ import annotations

from fastapi import APIRouter

from digest.web.editor import dashboard, desk, readers
from digest.web.editor.auth import csrf_token, require_editor
from digest.web.editor.desk import serve_preview, write_static

__all__ = ["csrf_token", "require_editor", "router", "serve_preview", "write_static"]

router = APIRouter()
# The dashboard's and readers' fixed paths come before the desk's /editor/<list>/<date>.
for _module in (dashboard, readers, desk):
    router.include_router(_module.router)
