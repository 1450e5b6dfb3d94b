"""The readers' page: find a reader, see their lists and history, unsubscribe, resubscribe, erase, import."""

from __future__ import annotations

from digest.web.editor.auth import editor_router

router = editor_router()
