"""Use cases on payouts: creating one (its amount reserved from available funds),
canceling it before it is sent, sending it through the gateway, and reading the send
until the gateway says it is final.

A send is made under its attempt's idEnvio, stored (and committed) before the gateway is
called. While its outcome is unknown the send is read by that idEnvio, then the same
request is repeated under the same id: Efí refuses a second send under one idEnvio, so
money leaves once (docs/gateways/payouts-and-reconciliation.md §1). Only the gateway's
"not made" (NAO_REALIZADO, or a refusal with no send under the id) fails a payout and
gives its amount back; a lost answer never does. One send at a time per gateway account:
a PostgreSQL advisory lock is held around each PUT (``PayoutRepository.sending``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from loguru import logger

from app.db.money_models import Payout, PayoutAttempt
from app.db.uow import UnitOfWork, UnitOfWorkFactory
from app.domain import rules
from app.domain.caller import Caller
from app.domain.card_numbers import refuse_card_number
from app.domain.documents import PayerDocument, parse_document
from app.domain.errors import (
    GatewayError,
    GatewayRejected,
    InvalidRequest,
    NotFound,
    PixWaveError,
    RetryLater,
)
from app.domain.events import EventType
from app.domain.ids import looks_like_id, new_id
from app.domain.money import normalize_currency
from app.domain.payouts import PayoutStatus, SendStatus, attempt_key, next_payout_status
from app.domain.pix_keys import PixKey, PixKeyType, parse_pix_key
from app.gateways.identifiers import id_envio_for
from app.gateways.port import (
    GatewayName,
    PixSend,
    PixSendCallback,
    PixSender,
    PixSendRequest,
    PixSendStatus,
)
from app.gateways.registry import Gateways
from app.ledger.payouts import payout_paid, payout_returned, reserve_payout
from app.payments.charging import ChargeContext
from app.payouts.events import record_payout_event
from app.payouts.repository import PayoutRepository
from app.payouts.schemas import CreatePayout
from app.security import DocumentCipher

# Pix sends go through Efí, the one gateway with a PixSender.
PAYOUT_GATEWAY = GatewayName.EFI
# The merchant's available balance is the real limit; this keeps the number sane.
MAX_PAYOUT_AMOUNT = 100_000_000_00
# What the gateway said of a send: the send as it reads it, or its reason for refusing
# one (then no send exists under the idEnvio).
SendOutcome = PixSend | str
_DOCUMENT_KEYS = frozenset({PixKeyType.EMAIL, PixKeyType.PHONE, PixKeyType.EVP})
_SENDABLE = frozenset({PayoutStatus.PENDING, PayoutStatus.IN_TRANSIT})
_FINAL_SEND = {PixSendStatus.PAID: SendStatus.PAID, PixSendStatus.FAILED: SendStatus.FAILED}


async def create_payout(
    uow: UnitOfWork, caller: Caller, command: CreatePayout, cipher: DocumentCipher
) -> Payout:
    rules.check_metadata(command.metadata)
    amount = rules.check_amount(command.amount, maximum=MAX_PAYOUT_AMOUNT)
    currency = normalize_currency(command.currency)
    if currency != "BRL":
        raise InvalidRequest(
            "Pix payouts are in BRL.", param="currency", code="currency_not_supported_for_method"
        )
    if command.description is not None:
        refuse_card_number(command.description, param="description")
    destination = command.destination
    key = parse_pix_key(destination.type, destination.key, param="destination.key")
    document = _payee_document(key, destination.document)
    now = datetime.now(UTC)
    payout = Payout(
        id=new_id("po"),
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        amount=amount,
        currency=currency,
        status=PayoutStatus.PENDING,
        destination_type=key.type.value,
        destination_key=key.value,
        description=command.description,
        metadata_=command.metadata,
        gateway=PAYOUT_GATEWAY.value,
        sequence=0,
        created_at=now,
        updated_at=now,
    )
    if document is not None:
        payout.destination_document_type = document.type
        payout.destination_document_masked = document.masked
        payout.destination_document_encrypted = cipher.encrypt(
            document.number, merchant_id=caller.merchant_id
        )
    # Under the balance lock: the available funds cover it, or nothing is written.
    await reserve_payout(uow, payout)
    await uow.repository(PayoutRepository).add(payout)
    await record_payout_event(uow, payout, EventType.PAYOUT_CREATED)
    return payout


def _payee_document(key: PixKey, raw: str | None) -> PayerDocument | None:
    """The payee's CPF or CNPJ, for a key that does not name its owner by itself."""
    if raw is None:
        return None
    if key.type not in _DOCUMENT_KEYS:
        raise InvalidRequest(
            "A CPF or CNPJ key names its owner: send a document with an e-mail, phone or "
            "random key only.",
            param="destination.document",
        )
    try:
        return parse_document(raw)
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message, param="destination.document", code=exc.code) from exc


async def get_payout(uow: UnitOfWork, caller: Caller, payout_id: str) -> Payout:
    payout = None
    if looks_like_id("po", payout_id):
        payout = await uow.repository(PayoutRepository).get(caller.merchant_id, payout_id)
    if payout is None or payout.livemode != caller.livemode:
        raise NotFound(f"No such payout: {payout_id!r}", param="id")
    return payout


async def cancel_payout(uow: UnitOfWork, caller: Caller, payout_id: str) -> Payout:
    """Only a payout not sent yet (``pending``) can be canceled; its amount goes back."""
    found = await get_payout(uow, caller, payout_id)
    payout = await uow.repository(PayoutRepository).get_for_update(found.id)
    assert payout is not None
    payout.status = next_payout_status(payout.status, PayoutStatus.CANCELED)
    await payout_returned(uow, payout, canceled=True)
    await record_payout_event(uow, payout, EventType.PAYOUT_CANCELED)
    return payout


def _sender(gateways: Gateways, name: str) -> PixSender | None:
    gateway = gateways.get(GatewayName(name))
    return gateway if isinstance(gateway, PixSender) else None


def _note_unconfigured(payout: Payout) -> None:
    """A payout in transit through a gateway this process no longer has: it stays in
    transit, read again once the gateway is configured (docs/operations.md, Payouts)."""
    logger.error("payout.gateway_unconfigured", payout=payout.id, gateway=payout.gateway)


def send_request(cipher: DocumentCipher, payout: Payout, attempt: PayoutAttempt) -> PixSendRequest:
    """The attempt's request, the same every time it is rebuilt (a repeat PUT carries
    the same body under the same idEnvio)."""
    document = None
    if payout.destination_document_encrypted is not None:
        assert payout.destination_document_type is not None
        number = cipher.decrypt(
            payout.destination_document_encrypted, merchant_id=payout.merchant_id
        )
        document = PayerDocument(payout.destination_document_type, number)
    return PixSendRequest(
        id_envio=attempt.id_envio,
        amount=payout.amount,
        payee_key=PixKey(PixKeyType(payout.destination_type), payout.destination_key),
        payee_document=document,
        payer_info=payout.description,
    )


async def exchange(
    uow: UnitOfWork, sender: PixSender, request: PixSendRequest, known: SendStatus | None
) -> SendOutcome | None:
    """Read the send first unless the attempt is new (``known`` None), then make (or
    repeat) the PUT, under the account's send lock, unless the gateway already took it.
    None: the gateway took it but cannot show it yet; read again later."""
    try:
        if known is not None:
            found = await sender.get_pix_send(request.id_envio)
            if found is not None:
                return found
            if known is not SendStatus.UNKNOWN:
                return None  # it answered before: a read that lags proves nothing
        async with uow.repository(PayoutRepository).sending(sender.name.value):
            return await sender.send_pix(request)
    except GatewayRejected as exc:
        return exc.message
    except GatewayError as exc:
        # The same idEnvio and body next time: never a second send.
        raise RetryLater(f"send {request.id_envio}: {exc.message}", keep_progress=True) from exc


async def send_payout(uow: UnitOfWork, context: ChargeContext, payout_id: str) -> None:
    """The charge worker's action on ``payout.created`` (and its redeliveries): record
    the attempt and ``in_transit``, commit, call the gateway with no transaction open,
    then record its answer. One still pending at the gateway stays ``in_transit``: the
    scheduler's ``follow_up_payouts`` and the gateway's callbacks read it again."""
    repository = uow.repository(PayoutRepository)
    payout = await repository.get_for_update(payout_id)
    if payout is None or payout.status not in _SENDABLE:
        return
    sender = _sender(context.gateways, payout.gateway)
    if sender is None:
        if payout.status is PayoutStatus.PENDING:
            await _fail(uow, payout, "gateway_unavailable", f"{payout.gateway} sends no Pix here")
        else:
            _note_unconfigured(payout)
        return
    attempt, known = await _attempt_to_send(repository, payout)
    request = send_request(context.cipher, payout, attempt)
    await uow.commit()  # the idEnvio is stored before the PUT, and no row lock waits on it
    outcome = await exchange(uow, sender, request, known)
    if outcome is not None:
        await record_outcome(uow, payout_id, outcome)


async def _attempt_to_send(
    repository: PayoutRepository, payout: Payout
) -> tuple[PayoutAttempt, SendStatus | None]:
    """A pending payout's first attempt (new: nothing to read), or an in-transit one's
    last attempt and what is known of it."""
    if payout.status is PayoutStatus.IN_TRANSIT:
        attempt = await repository.last_attempt(payout.id)
        assert attempt is not None
        return attempt, attempt.status
    attempt = PayoutAttempt(
        payout_id=payout.id,
        number=1,
        id_envio=id_envio_for(attempt_key(payout.id, 1)),
        status=SendStatus.UNKNOWN,
    )
    repository.add_attempt(attempt)
    payout.status = next_payout_status(payout.status, PayoutStatus.IN_TRANSIT)
    return attempt, None


async def record_outcome(uow: UnitOfWork, payout_id: str, outcome: SendOutcome) -> bool:
    """Apply what the gateway said to the payout if it is still in transit; True once
    it is final."""
    repository = uow.repository(PayoutRepository)
    payout = await repository.get_for_update(payout_id)
    if payout is None or payout.status is not PayoutStatus.IN_TRANSIT:
        return False
    attempt = await repository.last_attempt(payout_id)
    assert attempt is not None
    if isinstance(outcome, str):
        attempt.status = SendStatus.FAILED
        await _fail(uow, payout, "send_refused", outcome)
        return True
    attempt.gateway_status = outcome.gateway_status
    attempt.end_to_end_id = outcome.end_to_end_id or attempt.end_to_end_id
    if outcome.status not in _FINAL_SEND:
        attempt.status = SendStatus.PENDING
        logger.info("payout.pending_at_gateway", payout=payout.id, id_envio=attempt.id_envio)
        return False
    attempt.status = _FINAL_SEND[outcome.status]
    if attempt.status is SendStatus.FAILED:
        await _fail(uow, payout, "send_failed", outcome.failure_reason or outcome.gateway_status)
        return True
    payout.status = next_payout_status(payout.status, PayoutStatus.PAID)
    await payout_paid(uow, payout)
    await record_payout_event(uow, payout, EventType.PAYOUT_PAID)
    return True


async def _fail(uow: UnitOfWork, payout: Payout, code: str, message: str) -> None:
    payout.status = next_payout_status(payout.status, PayoutStatus.FAILED)
    payout.failure_code = code
    payout.failure_message = message[:500]
    await payout_returned(uow, payout, canceled=False)
    await record_payout_event(uow, payout, EventType.PAYOUT_FAILED)


async def follow_up_payout(
    new_uow: UnitOfWorkFactory, gateways: Gateways, cipher: DocumentCipher, payout_id: str
) -> bool:
    """Read an in-transit payout's send by its idEnvio (repeating the same PUT if the
    gateway has no record of a send whose answer was lost), with no transaction open
    meanwhile, then record the answer; True when the payout became final."""
    async with new_uow() as uow:
        repository = uow.repository(PayoutRepository)
        payout = await repository.find(payout_id)
        attempt = await repository.last_attempt(payout_id)
        if payout is None or payout.status is not PayoutStatus.IN_TRANSIT or attempt is None:
            return False
        sender = _sender(gateways, payout.gateway)
        if sender is None:
            _note_unconfigured(payout)
            return False
        request = send_request(cipher, payout, attempt)
        await uow.commit()
        outcome = await exchange(uow, sender, request, attempt.status)
        if outcome is None:
            return False
        final = await record_outcome(uow, payout_id, outcome)
        await uow.commit()
    return final


async def read_noticed_sends(
    new_uow: UnitOfWorkFactory,
    gateways: Gateways,
    cipher: DocumentCipher,
    notices: Sequence[PixSendCallback],
) -> None:
    """A gateway's callback about sends only says "read again": each send named is read
    by its idEnvio, as the scheduler does; one that cannot be read now waits for it."""
    for notice in notices:
        async with new_uow() as uow:
            payout_id = await uow.repository(PayoutRepository).payout_of_send(notice.id_envio)
        if payout_id is None:
            logger.warning("payout.callback_unknown_send", id_envio=notice.id_envio)
            continue
        try:
            await follow_up_payout(new_uow, gateways, cipher, payout_id)
        except PixWaveError as exc:
            logger.warning("payout.callback_read_deferred", payout=payout_id, error=exc.message)
