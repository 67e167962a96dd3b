"""Operator alerts without I/O: what each one says to a person.

Every alert is an event on the alerts topic whose ``data.object`` starts with a
one-line ``summary`` (what happened and what to do) followed by the facts; the relay
sends a short ``Subject`` with it (e-mail and chat subscribers show it first). Alerts
have aggregates of their own, ``alert`` / ``alr_<what it is about>``, whose sequence
counts up, so a subscriber can order one gateway's opened/closed alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.domain.events import EventType
from app.domain.money import Money

ALERT_AGGREGATE_TYPE = "alert"
ALERT_ID_PREFIX = "alr_"
# SNS: "Subjects must be UTF-8 text with no line breaks or control characters, and
# less than 100 characters long" (Publish / PublishBatchRequestEntry.Subject).
MAX_SUBJECT_CHARS = 99
SUBJECT_PREFIX = "PixWave: "
MAX_SUMMARY_CHARS = 500


@dataclass(frozen=True, slots=True)
class Alert:
    type: EventType
    about: str  # what the alert is about: an intent id, "gateway_mercadopago" …
    subject: str
    summary: str
    facts: dict[str, Any]

    @property
    def aggregate_id(self) -> str:
        return ALERT_ID_PREFIX + self.about

    @property
    def data_object(self) -> dict[str, Any]:
        return {"summary": self.summary, **self.facts}


def gateway_about(gateway: str) -> str:
    return f"gateway_{gateway}"


def subject_line(text: str) -> str:
    """A Subject SNS accepts: printable ASCII on one line, shorter than 100 characters."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in " ".join(text.split()))
    line = SUBJECT_PREFIX + printable
    if len(line) <= MAX_SUBJECT_CHARS:
        return line
    return line[: MAX_SUBJECT_CHARS - 1] + "~"


def money_text(amount: int | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return "an unknown amount"
    return f"{Money(amount, currency).to_decimal_string()} {currency}"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_SUMMARY_CHARS]


# Each alert type: its Subject and summary, from the facts it carries.
_Texts = Callable[[dict[str, Any]], tuple[str, str]]


def _circuit_opened(f: dict[str, Any]) -> tuple[str, str]:
    return (
        f"gateway {f['gateway']} circuit OPEN",
        f"Gateway {f['gateway']} is failing ({f['error']}); new charges skip it for "
        f"{f['open_seconds']} s and go to the next gateway. Check the gateway's status page; "
        f"if every gateway is down, payments fail. Tripped by {f['payment_intent']} "
        f"({money_text(f['amount'], f['currency'])}).",
    )


def _circuit_closed(f: dict[str, Any]) -> tuple[str, str]:
    return (
        f"gateway {f['gateway']} recovered, circuit closed",
        f"Gateway {f['gateway']} answers again: a probe call succeeded and charges use it "
        f"again. Nothing to do. Closed by {f['payment_intent']}.",
    )


def _payment_failed(f: dict[str, Any]) -> tuple[str, str]:
    return (
        f"payment {f['payment_intent']} failed on every gateway",
        f"Payment {f['payment_intent']} ({money_text(f['amount'], f['currency'])}) failed "
        f"after every gateway: {f['reason']}. Look at its attempts "
        f"(GET /v1/payment_intents/{f['payment_intent']}/attempts); many at once means the "
        "gateways are down.",
    )


def _reconciliation(f: dict[str, Any]) -> tuple[str, str]:
    return (
        f"money and intent {f['payment_intent']} disagree",
        f"Money at {f['gateway']} and payment {f['payment_intent']} disagree: {f['reason']}. "
        "Nothing was moved; reconcile by hand in the gateway's dashboard.",
    )


def _day_unmatched(f: dict[str, Any]) -> tuple[str, str]:
    where = f"{f['gateway']} {f['day']}"
    if f["status"] == "failed":
        return (
            f"reconciliation of {where} FAILED",
            f"The reconciliation of {where} could not read the gateway's books "
            f"({f['error']}); nothing was matched. It is retried by the next daily run; "
            f"`pixwave reconcile --date {f['day']} --gateway {f['gateway']}` retries now.",
        )
    return (
        f"reconciliation of {where}: {f['unmatched']} unmatched",
        f"The books of {where} and ours disagree: {f['missing_ours']} missing on our side, "
        f"{f['missing_theirs']} missing at the gateway, {f['amount_mismatch']} amounts "
        f"differ, {f['duplicates']} duplicated ({f['difference']} centavos theirs minus ours). "
        f"See `pixwave reconcile show {f['run']}` and docs/operations.md (Reconciliation).",
    )


def _parked(f: dict[str, Any]) -> tuple[str, str]:
    return (
        f"outbox event {f['event_id']} parked",
        f"Event {f['event_id']} ({f['event_type']}) can never be published as it is: "
        f"{f['reason']}. Fix it, then `pixwave outbox replay`.",
    )


def _stuck(f: dict[str, Any]) -> tuple[str, str]:
    return (
        f"payment {f['payment_intent']} stuck in {f['status']}",
        f"Payment {f['payment_intent']} ({money_text(f['amount'], f['currency'])}) has been "
        f"{f['status']} for too long and {f['checks']} checks with the gateway settled "
        f"nothing: {f['reason']}. Look it up at the gateway and settle it by hand.",
    )


def _late_refunded(f: dict[str, Any]) -> tuple[str, str]:
    return (
        f"late payment on {f['payment_intent']} refunded",
        f"A payment of {money_text(f['amount'], f['currency'])} reached an abandoned charge "
        f"of {f['payment_intent']} at {f['gateway']} and was refunded "
        f"({f['refund_reference']}). Nothing to do; tell the merchant if the payer asks.",
    )


def _endpoint_disabled(f: dict[str, Any]) -> tuple[str, str]:
    return (
        f"webhook endpoint {f['webhook_endpoint']} disabled",
        f"Webhook endpoint {f['webhook_endpoint']} ({f['url']}) of {f['merchant']} failed "
        f"for the whole retry horizon and was disabled: {f['reason']}. Tell the merchant; "
        "once fixed, re-enable it and redeliver.",
    )


def _velocity_unavailable(f: dict[str, Any]) -> tuple[str, str]:
    return (
        "risk velocity store unavailable",
        "Redis does not answer the risk velocity checks: velocity rules with "
        "on_unavailable=allow are skipped (intents pass them uncounted) and those with "
        f"on_unavailable=block match, until Redis is back. First seen screening "
        f"{f['payment_intent']} of {f['merchant']}. Restore Redis.",
    )


_TEXTS: dict[EventType, _Texts] = {
    EventType.ALERT_GATEWAY_CIRCUIT_OPENED: _circuit_opened,
    EventType.ALERT_GATEWAY_CIRCUIT_CLOSED: _circuit_closed,
    EventType.ALERT_PAYMENT_FAILED_ALL_GATEWAYS: _payment_failed,
    EventType.ALERT_RECONCILIATION_MISMATCH: _reconciliation,
    EventType.ALERT_OUTBOX_EVENT_PARKED: _parked,
    EventType.ALERT_PAYMENT_INTENT_STUCK: _stuck,
    EventType.ALERT_LATE_PAYMENT_REFUNDED: _late_refunded,
    EventType.ALERT_WEBHOOK_ENDPOINT_DISABLED: _endpoint_disabled,
    EventType.ALERT_RISK_VELOCITY_UNAVAILABLE: _velocity_unavailable,
    EventType.ALERT_RECONCILIATION_UNMATCHED: _day_unmatched,
}


def alert(event_type: EventType, about: str, facts: dict[str, Any]) -> Alert:
    """The alert of this type with these facts; each type names the facts it needs."""
    subject, summary = _TEXTS[event_type](facts)
    return Alert(event_type, about, subject_line(subject), _one_line(summary), facts)
