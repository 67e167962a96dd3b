"""The simulated Mercado Pago: what each API call and each payer action does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, Literal

from loguru import logger

from gatewaysim.autopay import AutoPayer
from gatewaysim.faults import FaultBoard
from gatewaysim.gateways import Gateway
from gatewaysim.ledger import ChargeRow, RefundRow
from gatewaysim.mercadopago.book import PaymentBook
from gatewaysim.mercadopago.issuing import GATEWAY_ERROR_TOKEN, USED_TOKEN, new_payment
from gatewaysim.mercadopago.notifications import Action, MercadoPagoNotifier
from gatewaysim.mercadopago.payments import Payment, Refund, RefundStatus
from gatewaysim.mercadopago.schemas import PaymentIn, PaymentUpdateIn
from gatewaysim.mercadopago.search import SearchQuery
from gatewaysim.mercadopago.wire import bad_request, payment_json, retry_later, server_error

GATEWAY = Gateway.MERCADOPAGO
PayerEvent = Literal["dispute", "chargeback", "expire"]


class MercadoPagoSim:
    """Every method runs without awaiting, so each is atomic on the event loop."""

    def __init__(
        self, faults: FaultBoard, notifier: MercadoPagoNotifier, auto_payer: AutoPayer
    ) -> None:
        self._faults = faults
        self._notifier = notifier
        self._auto_payer = auto_payer
        self._book = PaymentBook()

    def create(
        self, idempotency_key: str, request: PaymentIn, host: str, fingerprint: str
    ) -> Payment:
        """A new payment, or the one this idempotency key created before; ``fingerprint``
        tells a repeat of that request from another body under the same key (409)."""
        faults = self._faults.of(GATEWAY)
        if self._faults.chance(faults.locked_rate):
            raise retry_later(HTTPStatus.LOCKED)
        earlier = self._book.replay(idempotency_key, fingerprint)
        if earlier is not None:
            return earlier
        if self._faults.chance(faults.conflict_rate):
            raise retry_later(HTTPStatus.CONFLICT)
        if request.token == GATEWAY_ERROR_TOKEN:
            raise server_error(HTTPStatus.INTERNAL_SERVER_ERROR)
        if request.token == USED_TOKEN:
            # A card token is single-use and expires; Mercado Pago refuses it with a 400
            # (mercadopago/code-examples issue #16).
            raise bad_request("3003", "Invalid card_token_id")
        high_risk = not request.is_pix and self._faults.declines(GATEWAY)
        payment = new_payment(
            self._book.next_id(),
            idempotency_key,
            request,
            now=_now(),
            host=host,
            high_risk=high_risk,
            fingerprint=fingerprint,
        )
        self._book.add(payment)
        logger.info(
            "sim.charge_created", gateway=GATEWAY, reference=payment.id, status=payment.status
        )
        self._notifier.notify(payment, Action.CREATED)
        if payment.is_pix:
            self._auto_payer.schedule(GATEWAY, str(payment.id), self._pay_one)
        if self._faults.chance(faults.dependency_failure_rate):  # made, but the answer fails
            raise retry_later(HTTPStatus.FAILED_DEPENDENCY)
        return payment

    def get(self, reference: str) -> Payment:
        payment = self._current(reference)
        payment.settle_refunds()
        return payment

    def search(
        self, external_reference: str | None, query: SearchQuery
    ) -> tuple[int, list[Payment]]:
        """How many payments the query finds, and the page of them it asks for."""
        if self._faults.fails_list_page(GATEWAY, query.offset // query.limit):
            raise server_error(HTTPStatus.INTERNAL_SERVER_ERROR)
        lag = timedelta(seconds=self._faults.of(GATEWAY).search_lag_seconds)
        indexed = self._book.search(external_reference, now=_now(), lag=lag)
        for payment in indexed:
            self._expire_if_due(payment)
        found = query.select(indexed)
        return len(found), found[query.offset : query.offset + query.limit]

    def update(self, reference: str, change: PaymentUpdateIn) -> Payment:
        payment = self._current(reference)
        if change.capture:
            payment.capture(change.transaction_amount, _now())
        else:
            payment.cancel(_now())
        self._changed(payment)
        return payment

    def refund(self, reference: str, idempotency_key: str, amount_cents: int | None) -> Refund:
        payment = self._current(reference)
        status = RefundStatus(self._faults.of(GATEWAY).refund_status)
        refund, created = self._book.refund(payment, idempotency_key, amount_cents, _now(), status)
        if created:
            self._changed(payment)
        return refund

    def refunds_of(self, reference: str) -> list[Refund]:
        return self.get(reference).refunds

    def get_refund(self, reference: str, refund_id: str) -> Refund:
        payment = self.get(reference)
        return self._book.refund_of(payment, refund_id)

    def payer_event(self, reference: str, event: PayerEvent) -> Payment:
        """What a payer or the clock does to a payment: open a claim, charge it back, or
        let an unpaid PIX reach its date_of_expiration now."""
        payment, now = self._current(reference), _now()
        if event == "dispute":
            payment.dispute(now)
        elif event == "chargeback":
            payment.charge_back(now)
        else:
            payment.expires_at = min(payment.expires_at or now, now)
            if not payment.expire_if_due(now):
                detail = f"a payment that is {payment.status} cannot expire"
                raise bad_request("invalid_status", detail)
        self._changed(payment)
        return payment

    def pay(self, references: list[str], amount_cents: int | None) -> list[dict[str, Any]]:
        """The payer pays each charge now (``amount_cents`` instead of what was asked)."""
        return [payment_json(self._pay_one(r, amount_cents)) for r in references]

    def resend(self, reference: str, *, stale_seconds: int, bad_signature: bool) -> None:
        self._notifier.resend(reference, stale_seconds=stale_seconds, bad_signature=bad_signature)

    def charges(self) -> list[ChargeRow]:
        return self._book.charges()

    def refunds(self) -> list[RefundRow]:
        return self._book.refunds()

    def clear(self) -> None:
        self._book.clear()

    def _pay_one(self, reference: str, amount_cents: int | None = None) -> Payment:
        payment = self._current(reference)
        payment.pay(payment.amount_cents if amount_cents is None else amount_cents, _now())
        self._changed(payment)
        return payment

    def _current(self, reference: str) -> Payment:
        payment = self._book.get(reference)
        self._expire_if_due(payment)
        return payment

    def _expire_if_due(self, payment: Payment) -> None:
        """Mercado Pago cancels an unpaid PIX at its date_of_expiration (status cancelled,
        status_detail expired) and notifies; here that happens when someone looks."""
        if payment.expire_if_due(_now()):
            self._changed(payment)

    def _changed(self, payment: Payment) -> None:
        logger.info(
            "sim.charge_updated", gateway=GATEWAY, reference=payment.id, status=payment.status
        )
        self._notifier.notify(payment, Action.UPDATED)


def _now() -> datetime:
    return datetime.now(UTC)
