"""SendGrid's event webhook: signed events update deliveries and suppress readers."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
