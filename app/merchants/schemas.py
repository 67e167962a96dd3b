"""The gateway priority's shapes: the command and the answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.domain.shapes import Strict, Text


class SetGatewayPriority(Strict):
    priority: list[Text] | None = Field(
        max_length=8, description="Gateways to try, first to last; null for the default order"
    )


class GatewayPriorityOut(BaseModel):
    object: Literal["gateway_priority"]
    priority: list[str] | None
    default: list[str]
