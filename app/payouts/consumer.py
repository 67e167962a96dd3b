"""What the charge worker does for payouts: send the money of ``payout.created``."""

from __future__ import annotations

from collections.abc import Mapping

from app.domain.events import EventType
from app.payments.consumer import Action
from app.payouts.service import send_payout

PAYOUT_ACTIONS: Mapping[EventType, Action] = {EventType.PAYOUT_CREATED: send_payout}
