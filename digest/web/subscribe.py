"""Subscribe form, double opt-in confirmation, and the preference centre."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
