"""An answer a simulated gateway gives instead of doing the work, in that gateway's shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse


class SimulatorError(Exception):
    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status_code}: {body}")
        self.status_code = status_code
        self.body = body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status_code)


def admin_error(status_code: int, message: str) -> SimulatorError:
    """An error of the simulator's own `/_sim` API."""
    return SimulatorError(status_code, {"error": message})


def field_name(location: Sequence[str | int]) -> str:
    """The field a FastAPI validation error names: ("body", "payer", "email") → payer.email."""
    return ".".join(str(part) for part in location[1:]) or str(location[0])
