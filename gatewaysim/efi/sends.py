"""Pix the simulated Efí account sends (`PUT /v3/gn/pix/:idEnvio`): queued
EM_PROCESSAMENTO, settled later REALIZADO or NAO_REALIZADO with the callback to the payer
key's webhook. docs/gateways/payouts-and-reconciliation.md §1 is the contract."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

from loguru import logger

from app.domain.documents import PayerDocument
from gatewaysim.dice import Dice
from gatewaysim.efi.notifications import EfiNotifier
from gatewaysim.efi.schemas import PixSendIn
from gatewaysim.efi.wire import (
    IN_PROGRESS,
    NOT_SENT,
    SENT,
    error,
    id_envio_taken,
    key_invalid,
    key_not_of_document,
    payment_denied,
    send_not_found,
)
from gatewaysim.errors import admin_error
from gatewaysim.faults import FaultBoard
from gatewaysim.gateways import Gateway
from gatewaysim.tasks import Spawner

GATEWAY = Gateway.EFI
ID_ENVIO = re.compile(r"^[a-zA-Z0-9]{1,35}$")
END_TO_END_PREFIX = "E"
GENERATED_ID_CHARS = 31
CPF_DIGITS = 11
# A send not made, in the shape of Efí's "Pix rejeitado" callback (an ISO 20022 reason).
NOT_SENT_ERROR = {
    "codigo": "AC03",
    "origem": "PSP do usuário recebedor",
    "motivo": "Conta do usuário recebedor inexistente ou inválida",
}


@dataclass
class SentPix:
    id_envio: str
    end_to_end_id: str
    amount_cents: int
    payer_key: str
    payer_info: str | None
    payee_key: str
    payee_document: PayerDocument | None
    requested_at: datetime
    requests: int = 1  # PUTs naming this idEnvio, the refused repeats included
    status: str = IN_PROGRESS
    settled_at: datetime | None = None
    error: dict[str, str] | None = None

    def settle(self, status: str, at: datetime) -> bool:
        """Move to REALIZADO or NAO_REALIZADO; False when it had a final status already."""
        if self.status != IN_PROGRESS:
            return False
        self.status, self.settled_at = status, at
        self.error = dict(NOT_SENT_ERROR) if status == NOT_SENT else None
        return True


@dataclass(frozen=True)
class DictEntry:
    """What the simulated DICT knows of a payee key set through `/_sim/efi/keys`."""

    registered: bool = True
    owner: str | None = None  # the CPF or CNPJ holding the key


@dataclass(frozen=True)
class SendRow:
    id_envio: str
    end_to_end_id: str
    amount_cents: int
    payee_key: str
    status: str
    requests: int


class EfiSends:
    """Every method runs without awaiting, so each is atomic on the event loop."""

    def __init__(
        self, dice: Dice, faults: FaultBoard, spawner: Spawner, notifier: EfiNotifier
    ) -> None:
        self._dice = dice
        self._faults = faults
        self._spawner = spawner
        self._notifier = notifier
        self._sends: dict[str, SentPix] = {}
        self._keys: dict[str, DictEntry] = {}

    def send(self, id_envio: str, request: PixSendIn) -> SentPix:
        """A new send, EM_PROCESSAMENTO; a used idEnvio is 409 id_envio_duplicado (and
        counted), never a second send nor the first answer again."""
        if not ID_ENVIO.fullmatch(id_envio):
            raise error(HTTPStatus.BAD_REQUEST, "json_invalido", f"idEnvio inválido: {id_envio!r}")
        earlier = self._sends.get(id_envio)
        if earlier is not None:
            earlier.requests += 1
            raise id_envio_taken()
        self._check_payee(request)
        if self._faults.chance(self._faults.of(GATEWAY).send_denied_rate):
            raise payment_denied()
        send = self._new_send(id_envio, request)
        self._sends[id_envio] = send
        logger.info("sim.pix_send_created", gateway=GATEWAY, id_envio=id_envio)
        self._schedule_settlement(send)
        return send

    def get(self, id_envio: str) -> SentPix:
        """404 PixEnviadoNaoEncontrado for an unknown idEnvio, and for a new one while the
        read lags behind the write (the send_read_lag_seconds fault)."""
        send = self._sends.get(id_envio)
        if send is None or not self._readable(send):
            raise send_not_found()
        return send

    def by_end_to_end_id(self, end_to_end_id: str) -> SentPix:
        for send in self._sends.values():
            if send.end_to_end_id == end_to_end_id and self._readable(send):
                return send
        raise send_not_found()

    def between(self, start: datetime, end: datetime, status: str | None) -> list[SentPix]:
        """Sends created in [start, end], oldest first, by status when given."""
        return sorted(
            (
                s
                for s in self._sends.values()
                if start <= s.requested_at <= end and status in (None, s.status)
            ),
            key=lambda s: s.requested_at,
        )

    def settle(self, id_envio: str, status: str) -> SentPix:
        """End a send EM_PROCESSAMENTO now (`/_sim`), as REALIZADO or NAO_REALIZADO."""
        send = self._sends.get(id_envio)
        if send is None:
            raise admin_error(HTTPStatus.NOT_FOUND, f"no send {id_envio}")
        if not self._settle(send, status):
            raise admin_error(HTTPStatus.CONFLICT, f"send {id_envio} is {send.status}")
        return send

    def set_key(self, chave: str, entry: DictEntry) -> None:
        self._keys[chave] = entry

    def rows(self) -> list[SendRow]:
        return [
            SendRow(s.id_envio, s.end_to_end_id, s.amount_cents, s.payee_key, s.status, s.requests)
            for s in self._sends.values()
        ]

    def clear(self) -> None:
        self._sends.clear()
        self._keys.clear()

    def _check_payee(self, request: PixSendIn) -> None:
        """Keys the simulated DICT was told about: absent ones are 400 chave_invalida; a
        document beside the key must be its owner's. Other keys are taken as they come."""
        entry = self._keys.get(request.favorecido.chave)
        if entry is None:
            return
        if not entry.registered:
            raise key_invalid()
        document = request.favorecido.document
        if document is not None and entry.owner is not None and document != entry.owner:
            raise key_not_of_document()

    def _new_send(self, id_envio: str, request: PixSendIn) -> SentPix:
        document = request.favorecido.document
        return SentPix(
            id_envio=id_envio,
            end_to_end_id=END_TO_END_PREFIX + self._dice.alphanumeric(GENERATED_ID_CHARS),
            amount_cents=request.valor,
            payer_key=request.pagador.chave,
            payer_info=request.pagador.info_pagador,
            payee_key=request.favorecido.chave,
            payee_document=_document(document) if document else None,
            requested_at=_now(),
        )

    def _schedule_settlement(self, send: SentPix) -> None:
        faults = self._faults.of(GATEWAY)
        if faults.send_settle_seconds is None:
            return  # until POST /_sim/efi/envios/{idEnvio}/settle
        status = NOT_SENT if self._faults.chance(faults.send_failure_rate) else SENT
        self._spawner.spawn(self._settle_later(faults.send_settle_seconds, send, status))

    async def _settle_later(self, delay: float, send: SentPix, status: str) -> None:
        await asyncio.sleep(delay)
        self._settle(send, status)

    def _settle(self, send: SentPix, status: str) -> bool:
        if not send.settle(status, _now()):
            return False
        logger.info("sim.pix_send_settled", gateway=GATEWAY, id_envio=send.id_envio, status=status)
        if self._faults.chance(self._faults.of(GATEWAY).callback_drop_rate):
            logger.info("sim.callback_dropped", gateway=GATEWAY, id_envio=send.id_envio)
        else:
            self._notifier.notify_sent(send)
        return True

    def _readable(self, send: SentPix) -> bool:
        lag = timedelta(seconds=self._faults.of(GATEWAY).send_read_lag_seconds)
        return _now() >= send.requested_at + lag


def _document(number: str) -> PayerDocument:
    return PayerDocument("cpf" if len(number) == CPF_DIGITS else "cnpj", number)


def _now() -> datetime:
    return datetime.now(UTC)
