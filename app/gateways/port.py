"""The one interface every gateway adapter implements, and the values it speaks in.

Amounts are integer centavos (BRL): adapters convert to each wire form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from app.domain.charges import AttemptOutcome, ChargeStatus, attempt_outcome
from app.domain.documents import PayerDocument
from app.domain.intents import PaymentMethodType
from app.domain.pix_keys import PixKey
from app.domain.reconciliation import RecordKind


class GatewayName(StrEnum):
    MERCADOPAGO = "mercadopago"
    EFI = "efi"


@dataclass(frozen=True, slots=True)
class Payer:
    name: str
    email: str | None = None
    document_type: str | None = None  # "cpf" or "cnpj"
    document_number: str | None = None  # digits only


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    intent_id: str
    # Derived from (intent, gateway, attempt): the same attempt never charges twice.
    idempotency_key: str
    amount: int
    method: PaymentMethodType
    payer: Payer | None = None
    description: str | None = None
    card_token: str | None = None
    # The card's brand and issuer, as the payer's card form gave them (Mercado Pago).
    payment_method_id: str | None = None
    issuer_id: str | None = None
    capture: bool = True
    pix_expires_in_seconds: int = 3600
    # When the PIX charge stops being payable; fixed per try, so that repeating the try
    # sends the same request (else ``pix_expires_in_seconds`` from now).
    pix_expires_at: datetime | None = None
    notification_url: str | None = None


@dataclass(frozen=True, slots=True)
class Charge:
    gateway: GatewayName
    reference: str  # the gateway's own id: Mercado Pago payment id, Efí txid
    status: ChargeStatus
    gateway_status: str
    amount: int
    status_detail: str | None = None
    amount_refunded: int = 0
    amount_paid: int | None = None  # what the payer sent, when the gateway says
    pix_copy_paste: str | None = None
    expires_at: datetime | None = None
    paid_at: datetime | None = None
    end_to_end_id: str | None = None  # the PIX transaction, needed to refund it (Efí)

    @property
    def outcome(self) -> AttemptOutcome:
        return attempt_outcome(self.status)


@dataclass(frozen=True, slots=True)
class ChargeAttempt:
    """The answer to "create a charge": always an outcome, a charge when one exists."""

    outcome: AttemptOutcome
    charge: Charge | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    charge: Charge
    refund_id: str  # ours (re_…): the gateway's idempotency key for the refund
    amount: int


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund_id: str
    gateway_reference: str
    amount: int
    settled: bool  # False while the gateway is still returning the money
    rejected: bool = False  # the gateway said it will not return the money


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    key: str  # the gateway's identity of this notification: duplicates share it
    reference: str  # the charge to re-fetch: callbacks only say "look again"


@dataclass(frozen=True, slots=True)
class PixSendCallback:
    """A callback about a Pix we sent: only "read send ``id_envio`` again"."""

    key: str  # "idEnvio=status": a new status is a new notice, a resend is a duplicate
    id_envio: str
    reason: str | None = None  # the gateway's words on a send not made, for operators


@dataclass(frozen=True, slots=True)
class CallbackNotice:
    """A verified callback; Efí may batch several payments in one. ``events`` name
    charges; ``pix_sends`` name Pix we sent (payouts), which no charge handler reads."""

    gateway: GatewayName
    events: tuple[CallbackEvent, ...]
    pix_sends: tuple[PixSendCallback, ...] = ()


@dataclass(frozen=True, slots=True)
class IncomingCallback:
    body: bytes
    headers: dict[str, str]  # lower-case names
    query: dict[str, str]


class Gateway(Protocol):
    """Adapters raise GatewayNotAttempted / GatewayOutcomeUnknown / GatewayRejected
    (app.domain.errors) where a call gives no usable answer; ``create_charge`` instead
    folds every answer into a ChargeAttempt."""

    name: GatewayName

    def supports(self, method: PaymentMethodType) -> bool: ...

    async def create_charge(self, request: ChargeRequest) -> ChargeAttempt: ...

    async def get_charge(self, reference: str) -> Charge | None: ...

    async def find_charge(self, idempotency_key: str) -> Charge | None: ...

    async def cancel(self, reference: str) -> Charge: ...

    async def capture(self, reference: str, amount: int | None = None) -> Charge: ...

    async def refund(self, request: RefundRequest) -> RefundResult: ...

    def verify_callback(self, callback: IncomingCallback, now: datetime) -> CallbackNotice: ...


@runtime_checkable
class RefundReader(Protocol):
    """A gateway that can read a refund back by its reference (Mercado Pago), so one in
    progress is followed, not sent again."""

    name: GatewayName

    async def get_refund(self, reference: str, refund_reference: str) -> RefundResult: ...


# Reconciliation reads (docs/gateways/payouts-and-reconciliation.md §3).


@dataclass(frozen=True, slots=True)
class GatewayRecord:
    """One movement of money as the gateway's own books list it.

    ``reference`` is what our side stores for it: a charge's Mercado Pago payment id or
    Efí txid (a Pix with no txid, which names no cob of ours, is listed by its
    endToEndId); a refund's Mercado Pago refund id or Efí rtrId (what
    ``RefundResult.gateway_reference`` holds)."""

    gateway: GatewayName
    kind: RecordKind
    reference: str
    amount: int  # centavos
    # The gateway's own word (None where the item has none: every Efí pix listed is
    # settled, bacen/pix-api issue 81).
    status: str | None
    settled: bool  # money moved: a received pix, an approved payment or refund, DEVOLVIDO
    occurred_at: datetime  # aware, when the gateway says it happened
    our_id: str | None = None  # ours, when the gateway echoes it: external_reference, devolução id
    charge_reference: str | None = None  # a refund's charge
    end_to_end_id: str | None = None  # Efí: the pix (a charge's, or the one a refund returns)


@runtime_checkable
class GatewayRecords(Protocol):
    """A gateway whose books can be read back for a window, every page of it.

    ``list_records`` returns every record the window's reads reach, or raises
    GatewayNotAttempted / GatewayOutcomeUnknown / GatewayRejected: a page that cannot be
    read fails the whole read, never a shorter list. Records reached through the window
    may have happened outside it (a refund of a charge made in the window, later):
    ``occurred_at`` says when, and app.domain.reconciliation decides what belongs to a
    day. Read closed windows (``end`` some minutes past): an open one is still filling,
    and Mercado Pago's search lags (payouts-and-reconciliation.md §3)."""

    name: GatewayName

    async def list_records(self, start: datetime, end: datetime) -> list[GatewayRecord]: ...

    async def charge_records(self, references: Sequence[str]) -> list[GatewayRecord]:
        """These charges (by ``reference``) and all their refunds, read by id wherever
        their time falls: how a refund made in a window is reached when its charge was made
        before it (Efí lists Pix by payment time; a refund may not move a Mercado Pago
        payment into the search). Fails as ``list_records`` does, also for a charge the
        gateway does not know."""
        ...


class PixSendStatus(StrEnum):
    """A send's state as PixWave reads it: pending until the gateway says paid or failed;
    a word it does not know is unknown (read again), never a failure."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PixSendRequest:
    # Ours, derived from the payout attempt (identifiers.id_envio_for), stored before the
    # call and never reused for another attempt: the gateway refuses a second send under it.
    id_envio: str
    amount: int  # centavos, > 0
    payee_key: PixKey  # from app.domain.pix_keys.parse_pix_key
    # When given, the gateway refuses the send unless the key belongs to this document.
    payee_document: PayerDocument | None = None
    payer_info: str | None = None  # shown to the payee, < 140 characters


@dataclass(frozen=True, slots=True)
class PixSend:
    id_envio: str
    status: PixSendStatus
    gateway_status: str
    amount: int
    end_to_end_id: str | None = None
    failure_reason: str | None = None
    requested_at: datetime | None = None
    settled_at: datetime | None = None


@runtime_checkable
class PixSender(Protocol):
    """A gateway that sends Pix to a key (Efí). Both calls raise GatewayNotAttempted (nothing
    was done: send again under the same id), GatewayOutcomeUnknown (it may have been: read
    by id, then repeat the same request under the same id) or GatewayRejected (refused, and
    no send exists under the id: a new attempt may take a new id)."""

    name: GatewayName

    async def send_pix(self, request: PixSendRequest) -> PixSend: ...

    async def get_pix_send(self, id_envio: str) -> PixSend | None: ...
