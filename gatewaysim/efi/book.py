"""Every simulated Efí cob, the pix paying them and their devoluções, findable by txid and
by end-to-end id."""

from __future__ import annotations

import itertools
from datetime import datetime
from http import HTTPStatus

from gatewaysim.efi.cobs import Cob, Devolucao, Pix
from gatewaysim.efi.wire import (
    cob_not_found,
    devolucao_id_taken,
    devolucao_not_found,
    error,
    pix_not_found,
)
from gatewaysim.gateways import Gateway
from gatewaysim.ledger import ChargeRow, RefundRow

FIRST_LOC_ID = 1


class CobBook:
    """Location ids keep counting across ``clear()``: a test never sees one reused."""

    def __init__(self) -> None:
        self._loc_ids = itertools.count(FIRST_LOC_ID)
        self._cobs: dict[str, Cob] = {}
        self._pix: dict[str, Pix] = {}

    def next_loc_id(self) -> int:
        return next(self._loc_ids)

    def refuse_duplicate(self, txid: str) -> None:
        """A txid names one cob for good: a second PUT is refused (and counted)."""
        cob = self._cobs.get(txid)
        if cob is not None:
            cob.create_requests += 1
            raise error(
                HTTPStatus.CONFLICT,
                "txid_duplicado",
                "Campo txid informado já foi utilizado em outra cobrança",
            )

    def add(self, cob: Cob) -> None:
        self._cobs[cob.txid] = cob

    def get(self, txid: str) -> Cob:
        cob = self._cobs.get(txid)
        if cob is None:
            raise cob_not_found()
        return cob

    def pay(self, cob: Cob, pix: Pix) -> None:
        cob.pay(pix)
        self._pix[pix.end_to_end_id] = pix

    def pix(self, end_to_end_id: str) -> Pix:
        pix = self._pix.get(end_to_end_id)
        if pix is None:
            raise pix_not_found()
        return pix

    def received(self, start: datetime, end: datetime) -> list[Pix]:
        """Pix received from ``start`` to ``end`` (both included), oldest first."""
        found = [p for p in self._pix.values() if start <= p.paid_at <= end]
        return sorted(found, key=lambda p: (p.paid_at, p.end_to_end_id))

    def refuse_duplicate_devolucao(self, pix: Pix, devolucao_id: str) -> None:
        """An id names one devolução of a pix for good: a repeat PUT is a 409 (counted)."""
        earlier = pix.devolucoes.get(devolucao_id)
        if earlier is not None:
            earlier.requests += 1
            raise devolucao_id_taken()

    def devolucao(self, pix: Pix, devolucao_id: str) -> Devolucao:
        devolucao = pix.devolucoes.get(devolucao_id)
        if devolucao is None:
            raise devolucao_not_found()
        return devolucao

    def find_devolucao(self, devolucao_id: str) -> tuple[Pix, Devolucao]:
        """A devolução by its id alone, for the simulator's own `/_sim` API."""
        for pix in self._pix.values():
            if devolucao_id in pix.devolucoes:
                return pix, pix.devolucoes[devolucao_id]
        raise devolucao_not_found()

    def charges(self) -> list[ChargeRow]:
        return [
            ChargeRow(Gateway.EFI, c.txid, c.txid, c.amount_cents, c.status, c.create_requests)
            for c in self._cobs.values()
        ]

    def refunds(self) -> list[RefundRow]:
        return [
            RefundRow(Gateway.EFI, pix.txid, d.id, d.amount_cents, d.requests, d.status)
            for pix in self._pix.values()
            for d in pix.devolucoes.values()
        ]

    def clear(self) -> None:
        self._cobs.clear()
        self._pix.clear()
