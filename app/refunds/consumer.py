"""What the charge worker does for refunds: return the money of ``refund.created``."""

from __future__ import annotations

from collections.abc import Mapping

from app.domain.events import EventType
from app.payments.consumer import Action
from app.refunds.service import refund_charge

REFUND_ACTIONS: Mapping[EventType, Action] = {EventType.REFUND_CREATED: refund_charge}
