"""The simulated Mercado Pago: what each API call and each payer action does."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from loguru import logger

from gatewaysim.autopay import AutoPayer
from gatewaysim.faults import FaultBoard
from gatewaysim.gateways import Gateway
from gatewaysim.ledger import ChargeRow, RefundRow
from gatewaysim.mercadopago.book import PaymentBook
from gatewaysim.mercadopago.issuing import GATEWAY_ERROR_TOKEN, USED_TOKEN, new_payment
from gatewaysim.mercadopago.notifications import Action, MercadoPagoNotifier
from gatewaysim.mercadopago.payments import Payment, Refund
from gatewaysim.mercadopago.schemas import PaymentIn, PaymentUpdateIn
from gatewaysim.mercadopago.wire import bad_request, payment_json, server_error

GATEWAY = Gateway.MERCADOPAGO


class MercadoPagoSim:
    """Every method runs without awaiting, so each is atomic on the event loop."""

    def __init__(
        self, faults: FaultBoard, notifier: MercadoPagoNotifier, auto_payer: AutoPayer
    ) -> None:
        self._faults = faults
        self._notifier = notifier
        self._auto_payer = auto_payer
        self._book = PaymentBook()

    def create(self, idempotency_key: str, request: PaymentIn, host: str) -> Payment:
        """A new payment, or the one this idempotency key created before."""
        earlier = self._book.replay(idempotency_key)
        if earlier is not None:
            return earlier
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
        )
        self._book.add(payment)
        logger.info(
            "sim.charge_created", gateway=GATEWAY, reference=payment.id, status=payment.status
        )
        self._notifier.notify(payment, Action.CREATED)
        if payment.is_pix:
            self._auto_payer.schedule(GATEWAY, str(payment.id), self._pay_one)
        return payment

    def get(self, reference: str) -> Payment:
        return self._book.get(reference)

    def search(self, external_reference: str | None) -> list[Payment]:
        return self._book.search(external_reference)

    def update(self, reference: str, change: PaymentUpdateIn) -> Payment:
        payment = self._book.get(reference)
        if change.capture:
            payment.capture(change.transaction_amount, _now())
        else:
            payment.cancel(_now())
        self._changed(payment)
        return payment

    def refund(self, reference: str, idempotency_key: str, amount_cents: int | None) -> Refund:
        payment = self._book.get(reference)
        refund, created = self._book.refund(payment, idempotency_key, amount_cents, _now())
        if created:
            self._changed(payment)
        return refund

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
        payment = self._book.get(reference)
        payment.pay(payment.amount_cents if amount_cents is None else amount_cents, _now())
        self._changed(payment)
        return payment

    def _changed(self, payment: Payment) -> None:
        logger.info(
            "sim.charge_updated", gateway=GATEWAY, reference=payment.id, status=payment.status
        )
        self._notifier.notify(payment, Action.UPDATED)


def _now() -> datetime:
    return datetime.now(UTC)
