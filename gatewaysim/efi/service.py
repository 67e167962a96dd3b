"""The simulated Efí Pix API: what each API call and each payer action does."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from loguru import logger

from gatewaysim.autopay import AutoPayer
from gatewaysim.dice import Dice
from gatewaysim.efi.book import CobBook
from gatewaysim.efi.cobs import Cob, Devolucao, Pix
from gatewaysim.efi.notifications import EfiNotifier
from gatewaysim.efi.schemas import CobIn
from gatewaysim.efi.sends import EfiSends, SentPix
from gatewaysim.efi.tokens import TokenIssuer
from gatewaysim.efi.wire import (
    NOT_RETURNED,
    RETURNED,
    SENT,
    Paging,
    cob_json,
    error,
    received_json,
    server_error,
)
from gatewaysim.errors import admin_error
from gatewaysim.faults import FaultBoard
from gatewaysim.gateways import Gateway
from gatewaysim.ledger import ChargeRow, RefundRow
from gatewaysim.pix import dynamic_code
from gatewaysim.tasks import Spawner

GATEWAY = Gateway.EFI
TXID = re.compile(r"^[a-zA-Z0-9]{26,35}$")
DEVOLUCAO_ID = re.compile(r"^[a-zA-Z0-9]{1,35}$")
# End-to-end ids ("E…") and return ids ("D…") are a letter and 31 alphanumerics.
END_TO_END_PREFIX = "E"
RETURN_ID_PREFIX = "D"
GENERATED_ID_CHARS = 31


class EfiSim:
    """Every method runs without awaiting, so each is atomic on the event loop."""

    def __init__(
        self,
        dice: Dice,
        faults: FaultBoard,
        spawner: Spawner,
        notifier: EfiNotifier,
        auto_payer: AutoPayer,
    ) -> None:
        self._dice = dice
        self._faults = faults
        self._spawner = spawner
        self.notifier = notifier
        self._auto_payer = auto_payer
        self._book = CobBook()
        self.tokens = TokenIssuer()
        self.sends = EfiSends(dice, faults, spawner, notifier)

    def create(self, txid: str, request: CobIn, host: str) -> Cob:
        """A new cob at ``txid``; its location points at ``host``."""
        _require_format(TXID, txid, "txid")
        self._book.refuse_duplicate(txid)
        cob = self._new_cob(txid, request, host)
        self._book.add(cob)
        logger.info("sim.charge_created", gateway=GATEWAY, reference=txid, status=cob.status)
        self._auto_payer.schedule(GATEWAY, txid, self._pay_one)
        return cob

    def get(self, txid: str) -> Cob:
        return self._book.get(txid)

    def remove(self, txid: str) -> Cob:
        cob = self._book.get(txid)
        cob.remove()
        logger.info("sim.charge_updated", gateway=GATEWAY, reference=txid, status=cob.status)
        return cob

    def give_back(self, end_to_end_id: str, devolucao_id: str, amount_cents: int) -> Devolucao:
        """A new devolução, EM_PROCESSAMENTO; it settles later (the refund faults say when
        and how). Repeating its id is a 409 devolucao_id_duplicado, never a second one."""
        _require_format(DEVOLUCAO_ID, devolucao_id, "id")
        pix = self._book.pix(end_to_end_id)
        self._book.refuse_duplicate_devolucao(pix, devolucao_id)
        rtr_id = RETURN_ID_PREFIX + self._dice.alphanumeric(GENERATED_ID_CHARS)
        devolucao = Devolucao(devolucao_id, rtr_id, amount_cents, _now())
        pix.give_back(devolucao)
        logger.info("sim.refund_created", gateway=GATEWAY, reference=pix.txid, refund=devolucao_id)
        outcome = NOT_RETURNED if self._faults.refund_fails(GATEWAY) else RETURNED
        delay = self._faults.of(GATEWAY).refund_settle_seconds
        if delay is not None:
            self._spawner.spawn(self._settle_later(delay, pix, devolucao, outcome))
        return devolucao

    def settle_devolucao(self, devolucao_id: str, status: str) -> Devolucao:
        """End a devolução EM_PROCESSAMENTO now, as DEVOLVIDO or NAO_REALIZADO."""
        pix, devolucao = self._book.find_devolucao(devolucao_id)
        if not self._settle_devolucao(pix, devolucao, status):
            raise admin_error(
                HTTPStatus.CONFLICT, f"devolução {devolucao_id} is {devolucao.status}"
            )
        return devolucao

    def devolucao(self, end_to_end_id: str, devolucao_id: str) -> Devolucao:
        return self._book.devolucao(self._book.pix(end_to_end_id), devolucao_id)

    def received(self, inicio: str, fim: str, page: int, page_size: int) -> dict[str, Any]:
        """One page of the Pix received between ``inicio`` and ``fim`` (their ``horario``),
        with their devoluções as they stand now (bacen/pix-api ``GET /pix``)."""
        start, end = _rfc3339(inicio, "inicio"), _rfc3339(fim, "fim")
        if end < start:
            raise error(
                HTTPStatus.BAD_REQUEST, "valor_invalido", "Campo fim anterior ao campo inicio"
            )
        if self._faults.fails_list_page(GATEWAY, page):
            raise server_error(HTTPStatus.INTERNAL_SERVER_ERROR)
        pix = self._book.received(start, end)
        listed = pix[page * page_size : (page + 1) * page_size]
        return received_json(start, end, Paging(page, page_size, len(pix)), listed)

    def send_pix_sent_callback(self, chave: str, amount_cents: int) -> None:
        """A "Pix enviado" callback about a send made outside the API (idEnvio "1", as
        in Efí's example): a payment out of the account, naming no cob."""
        end_to_end_id = END_TO_END_PREFIX + self._dice.alphanumeric(GENERATED_ID_CHARS)
        send = SentPix("1", end_to_end_id, amount_cents, chave, None, chave, None, _now())
        send.settle(SENT, _now())
        self.notifier.notify_sent(send)

    async def _settle_later(
        self, delay: float, pix: Pix, devolucao: Devolucao, status: str
    ) -> None:
        await asyncio.sleep(delay)
        self._settle_devolucao(pix, devolucao, status)

    def _settle_devolucao(self, pix: Pix, devolucao: Devolucao, status: str) -> bool:
        if not devolucao.settle(status, _now()):
            return False
        logger.info("sim.refund_settled", gateway=GATEWAY, refund=devolucao.id, status=status)
        if status == RETURNED:  # Efí documents the callback of a devolução made
            self.notifier.notify_returned(pix, devolucao)
        return True

    def pay(self, references: list[str], amount_cents: int | None) -> list[dict[str, Any]]:
        """The payer pays each cob now; one callback lists every pix that went through."""
        paid: list[Pix] = []
        try:
            for txid in references:
                paid.append(self._settle(txid, amount_cents))
        finally:
            if paid:
                self.notifier.notify(paid)
        return [cob_json(self._book.get(pix.txid)) for pix in paid]

    def resend(self, reference: str, *, stale_seconds: int, bad_signature: bool) -> None:
        if stale_seconds or bad_signature:
            raise admin_error(HTTPStatus.BAD_REQUEST, "Efí callbacks carry no signature")
        self.notifier.resend(reference)

    def resend_nth(self, reference: str, index: int) -> None:
        self.notifier.resend(reference, index)

    def charges(self) -> list[ChargeRow]:
        return self._book.charges()

    def refunds(self) -> list[RefundRow]:
        return self._book.refunds()

    def clear(self) -> None:
        self._book.clear()
        self.sends.clear()
        self.notifier.clear()
        self.tokens.reset_count()

    def _new_cob(self, txid: str, request: CobIn, host: str) -> Cob:
        location = f"{host}/qr/v2/{self._dice.uuid_hex()}"
        amount = request.valor.original
        return Cob(
            txid=txid,
            created_at=_now(),
            expires_in_seconds=request.calendario.expiracao,
            loc_id=self._book.next_loc_id(),
            location=location,
            amount_cents=amount,
            chave=request.chave,
            devedor=request.devedor.model_dump(exclude_none=True) if request.devedor else None,
            solicitacao_pagador=request.solicitacao_pagador,
            pix_copia_e_cola=dynamic_code(location, amount),
        )

    def _pay_one(self, txid: str) -> None:
        self.pay([txid], None)

    def _settle(self, txid: str, amount_cents: int | None) -> Pix:
        cob = self._book.get(txid)
        end_to_end_id = END_TO_END_PREFIX + self._dice.alphanumeric(GENERATED_ID_CHARS)
        amount = cob.amount_cents if amount_cents is None else amount_cents
        pix = Pix(end_to_end_id, txid, cob.chave, amount, _now())
        self._book.pay(cob, pix)
        logger.info("sim.charge_paid", gateway=GATEWAY, reference=txid, amount_cents=amount)
        return pix


def _rfc3339(value: str, name: str) -> datetime:
    """An RFC 3339 time with its offset; anything else is 400 valor_invalido."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise error(HTTPStatus.BAD_REQUEST, "valor_invalido", f"Campo {name} inválido: {value!r}")
    return moment


def _require_format(pattern: re.Pattern[str], value: str, name: str) -> None:
    if not pattern.fullmatch(value):
        raise error(HTTPStatus.BAD_REQUEST, "valor_invalido", f"Campo {name} inválido: {value!r}")


def _now() -> datetime:
    return datetime.now(UTC)
