"""Public web version of each sent edition, the archive page and its feed."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
