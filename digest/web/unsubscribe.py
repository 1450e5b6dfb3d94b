"""One-click unsubscribe (RFC 8058) and the unsubscribe page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
