"""Every simulated Mercado Pago payment and refund, findable by id, idempotency key and
external reference."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta
from http import HTTPStatus

from gatewaysim.gateways import Gateway
from gatewaysim.ledger import ChargeRow, RefundRow
from gatewaysim.mercadopago.payments import Payment, Refund, RefundStatus
from gatewaysim.mercadopago.wire import not_found, refund_not_found, retry_later

# Ids start from the clock (room for 1,000 ids per millisecond of uptime), so a restarted
# simulator never hands out an id a PixWave database already holds, as the real one.
IDS_PER_MILLISECOND = 1000


def _first_id() -> int:
    return time.time_ns() // 1_000_000 * IDS_PER_MILLISECOND


class PaymentBook:
    """Ids keep counting across ``clear()`` and restarts: an id is never reused."""

    def __init__(self) -> None:
        self._payment_ids = itertools.count(_first_id())
        self._refund_ids = itertools.count(_first_id())
        self._payments: dict[int, Payment] = {}
        self._by_key: dict[str, Payment] = {}
        self._refunds: dict[tuple[int, str], Refund] = {}

    def next_id(self) -> int:
        return next(self._payment_ids)

    def replay(self, idempotency_key: str, fingerprint: str) -> Payment | None:
        """The payment this key created before, counting the repeated request; another
        body under a used key is a 409 idempotency conflict."""
        payment = self._by_key.get(idempotency_key)
        if payment is None:
            return None
        if payment.request_fingerprint != fingerprint:
            raise retry_later(HTTPStatus.CONFLICT)
        payment.create_requests += 1
        return payment

    def add(self, payment: Payment) -> None:
        self._payments[payment.id] = payment
        self._by_key[payment.idempotency_key] = payment

    def get(self, reference: int | str) -> Payment:
        payment = self._payments.get(int(reference)) if str(reference).isdigit() else None
        if payment is None:
            raise not_found()
        return payment

    def search(
        self, external_reference: str | None, *, now: datetime, lag: timedelta
    ) -> list[Payment]:
        """Payments indexed ``lag`` ago or earlier: search is not read-your-write
        (sdk-nodejs issue 180), unlike a read by id."""
        return [
            p
            for p in self._payments.values()
            if p.created_at + lag <= now
            and (external_reference is None or p.external_reference == external_reference)
        ]

    def refund(
        self,
        payment: Payment,
        idempotency_key: str,
        amount_cents: int | None,
        now: datetime,
        status: RefundStatus,
    ) -> tuple[Refund, bool]:
        """The refund this key made before (counting the request), or a new one; and
        whether it is new."""
        earlier = self._refunds.get((payment.id, idempotency_key))
        if earlier is not None:
            earlier.requests += 1
            return earlier, False
        if amount_cents is None:  # a full refund: what is left
            amount_cents = payment.amount_cents - payment.refunded_cents
        refund = Refund(next(self._refund_ids), payment.id, amount_cents, now, status)
        payment.refund(refund)
        self._refunds[(payment.id, idempotency_key)] = refund
        return refund, True

    def refund_of(self, payment: Payment, refund_id: str) -> Refund:
        found = next((r for r in payment.refunds if str(r.id) == refund_id), None)
        if found is None:
            raise refund_not_found()
        return found

    def charges(self) -> list[ChargeRow]:
        return [
            ChargeRow(
                Gateway.MERCADOPAGO,
                str(p.id),
                p.idempotency_key,
                p.amount_cents,
                p.status,
                p.create_requests,
            )
            for p in self._payments.values()
        ]

    def refunds(self) -> list[RefundRow]:
        return [
            RefundRow(Gateway.MERCADOPAGO, str(r.payment_id), str(r.id), r.amount_cents, r.requests)
            for r in self._refunds.values()
        ]

    def clear(self) -> None:
        self._payments.clear()
        self._by_key.clear()
        self._refunds.clear()
