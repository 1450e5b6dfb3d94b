"""The editor's pages: preview, adjust, send tests, approve (behind DIGEST_EDITOR_PASSWORD)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
