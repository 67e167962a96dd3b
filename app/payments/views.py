"""Public representations: what the API returns and what events carry.

Payer documents appear only masked; card tokens only by their last four characters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.db.models import PaymentAttempt, PaymentIntent, Refund, WebhookDelivery, WebhookEndpoint

CARD_TOKEN_VISIBLE_CHARS = 4


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _payment_method_view(intent: PaymentIntent) -> dict[str, Any]:
    if intent.method_type == "pix":
        payer = {
            "name": intent.payer_name,
            "document": intent.payer_document_masked,
            "document_type": intent.payer_document_type,
        }
        return {"type": "pix", "pix": {"payer": payer}}
    token = intent.card_token or ""
    card: dict[str, Any] = {"token_last4": token[-CARD_TOKEN_VISIBLE_CHARS:]}
    if intent.card_payment_method_id is not None:
        card["payment_method_id"] = intent.card_payment_method_id
    if intent.card_issuer_id is not None:
        card["issuer_id"] = intent.card_issuer_id
    return {"type": "card", "card": card}


def intent_view(intent: PaymentIntent) -> dict[str, Any]:
    return {
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "currency": intent.currency,
        "status": intent.status,
        "capture_method": intent.capture_method,
        "payment_method": _payment_method_view(intent),
        "description": intent.description,
        "metadata": intent.metadata_,
        "amount_capturable": intent.amount_capturable,
        "amount_received": intent.amount_received,
        "amount_refunded": intent.amount_refunded,
        "next_action": intent.next_action,
        "last_payment_error": intent.last_payment_error,
        "cancellation_reason": intent.cancellation_reason,
        "expires_at": _epoch(intent.expires_at),
        "created": _epoch(intent.created_at),
        "livemode": intent.livemode,
    }


def attempt_view(attempt: PaymentAttempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "object": "payment_attempt",
        "payment_intent": attempt.payment_intent_id,
        "gateway": attempt.gateway,
        "number": attempt.number,
        "outcome": attempt.outcome,
        "charge_status": attempt.charge_status,
        "gateway_status": attempt.gateway_status,
        "gateway_reference": attempt.gateway_reference,
        "error": attempt.error,
        "routing": attempt.routing,
        "late_payment": attempt.late_payment,
        "late_refund_reference": attempt.late_refund_reference,
        "created": _epoch(attempt.created_at),
    }


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "payment_intent": refund.payment_intent_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
        "failure_reason": refund.failure_reason,
        "metadata": refund.metadata_,
        "created": _epoch(refund.created_at),
        "livemode": refund.livemode,
    }


def webhook_endpoint_view(
    endpoint: WebhookEndpoint, *, secret: str | None = None
) -> dict[str, Any]:
    """`secret` is given only when it was just made: it is never shown again."""
    view: dict[str, Any] = {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "description": endpoint.description,
        "enabled_events": endpoint.enabled_events,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "livemode": endpoint.livemode,
        "created": _epoch(endpoint.created_at),
    }
    if secret is not None:
        view["secret"] = secret
    return view


def webhook_delivery_view(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "object": "webhook_delivery",
        "event": delivery.event_id,
        "event_type": delivery.event_type,
        "webhook_endpoint": delivery.endpoint_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": _epoch(delivery.next_attempt_at),
        "delivered_at": _epoch(delivery.delivered_at),
        "created": _epoch(delivery.created_at),
    }
