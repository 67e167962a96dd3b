"""Parse a message body into the event envelope, or declare it poison."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.domain.errors import PoisonMessage

SNS_NOTIFICATION = "Notification"
TRACEPARENT_ATTRIBUTE = "traceparent"


class AggregateRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str = Field(min_length=1)
    id: str = Field(min_length=1)
    sequence: int = Field(ge=1)


class Event(BaseModel):
    """The envelope of ../shared/DESIGN.md, as a consumer sees it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=64)
    api_version: str
    created: int
    merchant_id: str
    livemode: bool
    aggregate: AggregateRef
    data: dict[str, Any]

    @property
    def object(self) -> dict[str, Any]:
        found: dict[str, Any] = self.data.get("object", {})
        return found


def parse_event(body: str) -> Event:
    """Accept the raw envelope (raw delivery) or an SNS notification wrapping it."""
    document = _json(body)
    if isinstance(document, dict) and document.get("Type") == SNS_NOTIFICATION:
        document = _json(str(document.get("Message", "")))
    try:
        return Event.model_validate(document)
    except ValidationError as exc:
        raise PoisonMessage(f"not an event envelope: {exc.errors()[0]['msg']}") from exc


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PoisonMessage(f"body is not JSON: {exc}") from exc


def message_traceparent(message: dict[str, Any]) -> str | None:
    """The ``traceparent`` the relay sent: an SQS message attribute under raw delivery,
    or inside the SNS notification otherwise."""
    attribute = message.get("MessageAttributes", {}).get(TRACEPARENT_ATTRIBUTE)
    if attribute is not None:
        return str(attribute.get("StringValue", "")) or None
    try:
        document = json.loads(message.get("Body", ""))
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("Type") != SNS_NOTIFICATION:
        return None
    wrapped = document.get("MessageAttributes", {}).get(TRACEPARENT_ATTRIBUTE, {})
    return str(wrapped.get("Value", "")) or None
