"""Use cases on payment intents. Each runs inside the caller's unit of work and
writes its outbox events there, so state and events commit together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db.models import PaymentIntent
from app.db.uow import UnitOfWork
from app.domain import rules
from app.domain.caller import Caller
from app.domain.card_numbers import check_card_token, refuse_card_number
from app.domain.documents import parse_document
from app.domain.errors import IllegalTransition, InvalidRequest, NotFound
from app.domain.events import EventType
from app.domain.ids import looks_like_id, new_id
from app.domain.intents import (
    MERCHANT_CANCELABLE,
    CancellationReason,
    CaptureMethod,
    IntentStatus,
    next_intent_status,
)
from app.domain.money import Money, normalize_currency
from app.payments.charging import fail_intent
from app.payments.events import record_event
from app.payments.repository import IntentRepository
from app.payments.schemas import (
    CancelPaymentIntent,
    CapturePaymentIntent,
    CardDetails,
    CreatePaymentIntent,
    PixDetails,
)
from app.risk.rules import Decision
from app.risk.service import CardSeen, RiskScreen, intent_facts, open_review, screen_intent
from app.security import DocumentCipher
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class IntentPolicy:
    max_amount: int
    pix_default_expires_in_seconds: int

    @classmethod
    def of(cls, settings: Settings) -> IntentPolicy:
        return cls(
            max_amount=settings.max_amount,
            pix_default_expires_in_seconds=settings.pix_default_expires_in_seconds,
        )


async def get_intent(uow: UnitOfWork, caller: Caller, intent_id: str) -> PaymentIntent:
    intent = None
    if looks_like_id("pi", intent_id):
        intent = await uow.repository(IntentRepository).get(caller.merchant_id, intent_id)
    if intent is None:
        raise NotFound(f"No such payment_intent: {intent_id!r}", param="id")
    return intent


async def create_intent(
    uow: UnitOfWork,
    caller: Caller,
    command: CreatePaymentIntent,
    policy: IntentPolicy,
    cipher: DocumentCipher,
    risk: RiskScreen | None = None,
) -> PaymentIntent:
    """A new intent, screened by the merchant's risk rules when ``risk`` is given (the
    API always gives it): blocked, it fails at once and no gateway is ever called."""
    money = Money(
        rules.check_amount(command.amount, maximum=policy.max_amount),
        normalize_currency(command.currency),
    )
    refuse_card_number(command.description, param="description")
    rules.check_metadata(command.metadata)
    now = datetime.now(UTC)
    intent = PaymentIntent(
        id=new_id("pi"),
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        amount=money.amount,
        currency=money.currency,
        status=IntentStatus.PENDING,
        capture_method=command.capture_method,
        method_type=command.payment_method.type,
        description=command.description,
        metadata_=command.metadata,
        amount_capturable=0,
        amount_received=0,
        amount_refunded=0,
        sequence=0,
        created_at=now,
    )
    method = command.payment_method
    document = card = None
    if method.pix is not None:
        document = _fill_pix(intent, method.pix, command, policy, cipher, now)
    elif method.card is not None:
        _fill_card(intent, method.card, command)
        card = CardSeen(method.card.payment_method_id, method.card.issuer_id, method.card.last4)
    decision = None
    if risk is not None:
        facts = intent_facts(risk, intent, document=document, card=card, email=command.payer_email)
        decision = (await screen_intent(uow, risk, intent, facts)).decision
    uow.repository(IntentRepository).add(intent)
    await record_event(uow, intent, EventType.PAYMENT_INTENT_CREATED)
    if decision is Decision.BLOCK:
        await fail_intent(uow, intent, "blocked_by_risk", "The merchant's risk rules blocked it.")
    elif decision is Decision.REVIEW:
        await open_review(uow, intent)
        await record_event(uow, intent, EventType.PAYMENT_INTENT_REVIEW_OPENED)
    return intent


def _fill_pix(
    intent: PaymentIntent,
    pix: PixDetails,
    command: CreatePaymentIntent,
    policy: IntentPolicy,
    cipher: DocumentCipher,
    now: datetime,
) -> str:
    """Fill in the PIX details; the bare payer document (for the risk rules)."""
    if intent.currency != "BRL":
        raise InvalidRequest(
            "PIX charges must be in BRL.",
            param="currency",
            code="currency_not_supported_for_method",
        )
    if command.capture_method is CaptureMethod.MANUAL:
        raise InvalidRequest(
            "PIX has no separate capture; use capture_method=automatic.", param="capture_method"
        )
    refuse_card_number(pix.payer.name, param="payment_method.pix.payer.name")
    document = parse_document(pix.payer.document)
    requested = command.expires_in
    expires_in = rules.check_pix_expiry(
        policy.pix_default_expires_in_seconds if requested is None else requested
    )
    intent.payer_name = pix.payer.name
    intent.payer_document_type = document.type
    intent.payer_document_masked = document.masked
    intent.payer_document_encrypted = cipher.encrypt(
        document.number, merchant_id=intent.merchant_id
    )
    intent.expires_at = now + timedelta(seconds=expires_in)
    return document.number


def _fill_card(intent: PaymentIntent, card: CardDetails, command: CreatePaymentIntent) -> None:
    if command.expires_in is not None:
        raise InvalidRequest("expires_in applies to PIX only.", param="expires_in")
    intent.card_token = check_card_token(card.token)
    intent.card_payment_method_id = card.payment_method_id
    intent.card_issuer_id = card.issuer_id


async def cancel_intent(
    uow: UnitOfWork, caller: Caller, intent_id: str, command: CancelPaymentIntent
) -> PaymentIntent:
    intent = await get_intent(uow, caller, intent_id)
    current = intent.status
    if current not in MERCHANT_CANCELABLE:
        raise IllegalTransition(
            f"A payment intent in status {current} cannot be canceled.",
            code="payment_intent_unexpected_state",
        )
    reason = command.cancellation_reason or CancellationReason.REQUESTED_BY_CUSTOMER
    await mark_canceled(uow, intent, reason)
    return intent


async def mark_canceled(uow: UnitOfWork, intent: PaymentIntent, reason: CancellationReason) -> None:
    """End the intent as canceled, with its event (the charge worker then cancels any
    charge still live at a gateway)."""
    intent.status = next_intent_status(intent.status, IntentStatus.CANCELED)
    intent.cancellation_reason = reason.value
    intent.amount_capturable = 0
    await record_event(uow, intent, EventType.PAYMENT_INTENT_CANCELED)


async def request_capture(
    uow: UnitOfWork, caller: Caller, intent_id: str, command: CapturePaymentIntent
) -> PaymentIntent:
    """Ask the charge worker to capture; the intent is ``processing`` until it answers."""
    intent = await get_intent(uow, caller, intent_id)
    current = intent.status
    if current is not IntentStatus.REQUIRES_CAPTURE:
        raise IllegalTransition(
            f"Only an intent in requires_capture can be captured, not one in {current}.",
            code="payment_intent_unexpected_state",
        )
    requested = command.amount_to_capture
    if requested is not None:
        intent.amount_capturable = rules.check_amount(
            requested, maximum=intent.amount_capturable, param="amount_to_capture"
        )
    # Recorded apart from amount_capturable, which a view of the authorization rewrites.
    intent.amount_to_capture = intent.amount_capturable
    intent.status = next_intent_status(current, IntentStatus.PROCESSING)
    await record_event(uow, intent, EventType.PAYMENT_INTENT_CAPTURE_REQUESTED)
    return intent
