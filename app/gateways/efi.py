"""Efí (Gerencianet) adapter: the Pix API (`/v2/cob`, devoluções, webhook) behind OAuth2
and mTLS. docs/gateways/efi.md is the wire contract it follows, a source on every row."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from app.domain.errors import (
    CallbackRejected,
    GatewayNotAttempted,
    GatewayOutcomeUnknown,
    GatewayRejected,
)
from app.domain.intents import PaymentMethodType
from app.gateways.amounts import to_centavos, to_pix_value
from app.gateways.efi_callbacks import callback_entries, webhook_url
from app.gateways.efi_records import (
    MAX_PAGE_SIZE,
    cob_records,
    devolucao_reference,
    received_records,
    sent_records,
)
from app.gateways.efi_sends import (
    ID_ENVIO_TAKEN,
    SEND_NOT_FOUND,
    pix_send,
    read_path,
    send_body,
    send_path,
)
from app.gateways.identifiers import efi_txid, pix_end_to_end_id
from app.gateways.port import (
    CallbackNotice,
    Charge,
    ChargeAttempt,
    ChargeRequest,
    GatewayName,
    GatewayRecord,
    IncomingCallback,
    PixSend,
    PixSendRequest,
    RefundRequest,
    RefundResult,
)
from app.gateways.statuses import efi_cob_status
from app.gateways.transport import MAX_ERROR_CHARS, attempt, call, read_json

NAME = GatewayName.EFI
TXID_CHARS = 32  # Efí accepts 26 to 35 alphanumerics
DEVOLUCAO_ID_MAX_CHARS = 35
# Renew the access token this long before Efí says it expires.
TOKEN_RENEW_MARGIN_SECONDS = 60
HTTP_UNAUTHORIZED = 401
HTTP_NOT_FOUND = 404
REMOVED_BY_RECEIVER = "REMOVIDA_PELO_USUARIO_RECEBEDOR"
# Efí answers an unknown cob, pix or devolução with a 400 naming it (`nome`); the Banco
# Central's API, which Efí implements, with a 404 whose `type` ends in one of these.
COB_NOT_FOUND = frozenset({"cobranca_nao_encontrada", "CobNaoEncontrado", "NaoEncontrado"})
DEVOLUCAO_NOT_FOUND = frozenset(
    {"devolucao_nao_encontrada", "PixDevolucaoNaoEncontrada", "NaoEncontrado"}
)
PIX_NOT_FOUND = frozenset({"pix_nao_encontrado", "PixNaoEncontrado"})
IN_PROGRESS = "EM_PROCESSAMENTO"
RETURNED = "DEVOLVIDO"
NOT_RETURNED = "NAO_REALIZADO"
# Sent when registering the webhook: "true" only where the ingress cannot check Efí's
# client certificate (then the hmac token alone vouches for a callback).
SKIP_MTLS_HEADER = "x-skip-mtls-checking"
_NON_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


def txid_for(idempotency_key: str) -> str:
    """The cob's txid, derived from the attempt's key: the same attempt, the same cob."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:TXID_CHARS]


class Efi:
    name = NAME

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        pix_key: str,
        webhook_hmac: str,
    ) -> None:
        self._http = http
        self._credentials = (client_id, client_secret)
        self._pix_key = pix_key
        self._webhook_hmac = webhook_hmac
        self._token: tuple[str, float] | None = None  # (token, monotonic expiry)
        self._token_lock = asyncio.Lock()

    def supports(self, method: PaymentMethodType) -> bool:
        return method is PaymentMethodType.PIX

    async def create_charge(self, request: ChargeRequest) -> ChargeAttempt:
        async def create() -> ChargeAttempt:
            if not self.supports(request.method):
                raise GatewayRejected(NAME, f"Efí does not take {request.method} payments")
            txid = txid_for(request.idempotency_key)
            response = await self._call(
                "PUT", f"/v2/cob/{efi_txid(txid)}", json=self._cob_body(request)
            )
            if response.status_code == 409:  # this attempt's cob exists already: read it
                charge = await self.get_charge(txid)
                if charge is None:
                    raise GatewayOutcomeUnknown(NAME, f"txid {txid} is taken but not found")
            else:
                charge = self._read(response)
            return ChargeAttempt(charge.outcome, charge)

        return await attempt(create)

    async def get_charge(self, reference: str) -> Charge | None:
        response = await self._call("GET", f"/v2/cob/{efi_txid(reference)}")
        return None if _names(response, COB_NOT_FOUND) else self._read(response)

    async def find_charge(self, idempotency_key: str) -> Charge | None:
        return await self.get_charge(txid_for(idempotency_key))

    async def cancel(self, reference: str) -> Charge:
        body = {"status": REMOVED_BY_RECEIVER}
        return self._read(await self._call("PATCH", f"/v2/cob/{efi_txid(reference)}", json=body))

    async def capture(self, reference: str, amount: int | None = None) -> Charge:
        raise GatewayRejected(NAME, "a PIX charge has no separate capture")

    async def refund(self, request: RefundRequest) -> RefundResult:
        """Ask for the devolução under our id, or read it when it exists already.

        The id names one devolução for good: a repeat PUT is refused (409
        devolucao_id_duplicado), so a devolução that may exist is read, never sent again;
        it has failed only when Efí says NAO_REALIZADO."""
        e2e = request.charge.end_to_end_id
        if e2e is None:
            raise GatewayRejected(NAME, f"cob {request.charge.reference} was never paid")
        path = f"/v2/pix/{pix_end_to_end_id(e2e)}/devolucao/{devolucao_id(request.refund_id)}"
        devolucao = await self._devolucao(path)
        if devolucao is None:
            devolucao = await self._ask_devolucao(path, request.amount)
            if devolucao.get("status") == IN_PROGRESS:  # often settled a moment later
                devolucao = await self._devolucao(path) or devolucao
        return _refund_result(request.refund_id, devolucao)

    async def send_pix(self, request: PixSendRequest) -> PixSend:
        """``PUT /v3/gn/pix/:idEnvio``: 201 is the send queued (pending). The idEnvio is a
        uniqueness key, not a replay key: a 409 id_envio_duplicado means the send exists,
        so it is read; any other refusal is read too, and final only when Efí knows no
        send under the id. Timeouts and 5xx stay unknown (read, then repeat this PUT)."""
        body = send_body(request, self._pix_key)
        response = await self._call("PUT", send_path(request.id_envio), json=body)
        if response.status_code < 400:
            return pix_send(read_json(NAME, response))
        existing = await self.get_pix_send(request.id_envio)
        if existing is not None:
            return existing
        if _names(response, frozenset({ID_ENVIO_TAKEN})):
            raise GatewayOutcomeUnknown(NAME, f"idEnvio {request.id_envio} is taken but not found")
        raise _refused(response)

    async def get_pix_send(self, id_envio: str) -> PixSend | None:
        """``GET /v2/gn/pix/enviados/id-envio/:idEnvio``; None on 404 PixEnviadoNaoEncontrado,
        which right after an unknown outcome proves nothing (repeat the PUT to know)."""
        response = await self._call("GET", read_path(id_envio))
        if _names(response, SEND_NOT_FOUND):
            return None
        if response.status_code >= 400:
            raise GatewayOutcomeUnknown(NAME, f"cannot read send {id_envio}: {response.text}")
        return pix_send(read_json(NAME, response))

    async def register_webhook(self, url: str, *, skip_mtls: bool = False) -> str:
        """Point Efí's pix callbacks for our key at ``url`` (plus the hmac token and
        "ignorar="); Efí calls the URL before it answers. Returns the URL registered."""
        registered = webhook_url(url, self._webhook_hmac)
        headers = {SKIP_MTLS_HEADER: "true" if skip_mtls else "false"}
        response = await self._call(
            "PUT", f"/v2/webhook/{self._pix_key}", json={"webhookUrl": registered}, headers=headers
        )
        if response.status_code >= 400:
            raise _refused(response)
        return registered

    async def list_records(
        self, start: datetime, end: datetime, *, page_size: int = MAX_PAGE_SIZE
    ) -> list[GatewayRecord]:
        """The Pix received in the window and their devoluções, then the Pix sent (the
        payouts) in it (app/gateways/efi_records.py)."""
        received = await received_records(self._call, start, end, page_size=page_size)
        return received + await sent_records(self._call, start, end, page_size=page_size)

    async def charge_records(self, references: Sequence[str]) -> list[GatewayRecord]:
        """The Pix of these cobs and their devoluções (app/gateways/efi_records.py)."""
        return await cob_records(self._call, references)

    async def _devolucao(self, path: str) -> dict[str, Any] | None:
        """The devolução at ``path``, None when Efí knows none (nor the pix)."""
        response = await self._call("GET", path)
        if _names(response, DEVOLUCAO_NOT_FOUND | PIX_NOT_FOUND):
            return None
        if response.status_code >= 400:  # neither a devolução nor "none": ask again later
            raise GatewayOutcomeUnknown(NAME, f"cannot read devolução {path}: {response.text}")
        body: dict[str, Any] = read_json(NAME, response)
        return body

    async def _ask_devolucao(self, path: str, amount: int) -> dict[str, Any]:
        response = await self._call("PUT", path, json={"valor": to_pix_value(amount)})
        if response.status_code < 400:
            body: dict[str, Any] = read_json(NAME, response)
            return body
        # A duplicate id (409, or the Banco Central's 400 PixDevolucaoInvalida) means it
        # exists: whatever the refusal, read before believing it.
        existing = await self._devolucao(path)
        if existing is None:
            raise _refused(response)
        return existing

    def verify_callback(self, callback: IncomingCallback, now: datetime) -> CallbackNotice:
        """Efí authenticates by mTLS at the ingress plus the ``hmac`` token in the URL we
        registered. The body lists received pix and Pix we sent; one without a ``pix`` list
        is Efí's call when the URL is registered, answered 2xx and naming nothing."""
        given = callback.query.get("hmac", "")
        if not hmac.compare_digest(given.encode(), self._webhook_hmac.encode()):
            raise CallbackRejected("The hmac token does not match.")
        events, sends = callback_entries(callback.body)
        return CallbackNotice(NAME, events, sends)

    def _cob_body(self, request: ChargeRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "calendario": {"expiracao": request.pix_expires_in_seconds},
            "valor": {"original": to_pix_value(request.amount)},
            "chave": self._pix_key,
            "solicitacaoPagador": (request.description or f"PixWave {request.intent_id}")[:140],
        }
        payer = request.payer
        if payer and payer.document_type and payer.document_number:
            body["devedor"] = {payer.document_type: payer.document_number, "nome": payer.name}
        return body

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call with the cached token; a 401 means Efí dropped it early, so renew once."""
        try:
            return await self._call_with(
                await self._access_token(renew=False), method, path, **kwargs
            )
        except GatewayNotAttempted as exc:
            if exc.status != HTTP_UNAUTHORIZED:
                raise
        return await self._call_with(await self._access_token(renew=True), method, path, **kwargs)

    async def _call_with(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return await call(self._http, NAME, method, path, headers=headers, **kwargs)

    async def _access_token(self, *, renew: bool) -> str:
        async with self._token_lock:
            if renew or self._token is None or time.monotonic() >= self._token[1]:
                self._token = await self._fetch_token()
            return self._token[0]

    async def _fetch_token(self) -> tuple[str, float]:
        response = await call(
            self._http,
            NAME,
            "POST",
            "/oauth/token",
            auth=self._credentials,
            json={"grant_type": "client_credentials"},
        )
        body = read_json(NAME, response)
        lifetime = int(body["expires_in"]) - TOKEN_RENEW_MARGIN_SECONDS
        return str(body["access_token"]), time.monotonic() + lifetime

    def _read(self, response: httpx.Response) -> Charge:
        return cob_charge(read_json(NAME, response), now=datetime.now(UTC))


def _refund_result(refund_id: str, devolucao: dict[str, Any]) -> RefundResult:
    """EM_PROCESSAMENTO (or a status we do not know) is still pending, never a failure."""
    status = devolucao.get("status")
    if status == NOT_RETURNED:
        reason = devolucao.get("motivo") or "no reason given"
        raise GatewayRejected(NAME, f"devolução {devolucao.get('id')} NAO_REALIZADO: {reason}")
    try:
        return RefundResult(
            refund_id=refund_id,
            gateway_reference=devolucao_reference(devolucao),
            amount=to_centavos(devolucao["valor"]),
            settled=status == RETURNED,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayOutcomeUnknown(NAME, f"unreadable devolução: {exc!r}") from exc


def _refused(response: httpx.Response) -> GatewayRejected:
    text = response.text[:MAX_ERROR_CHARS]
    return GatewayRejected(
        NAME, f"HTTP {response.status_code}: {text}", status=response.status_code
    )


def _names(response: httpx.Response, names: frozenset[str]) -> bool:
    """Whether an error answer names one of ``names``: Efí's ``nome``, or the last part
    of the Banco Central's RFC 7807 ``type``; a bare 404 names whatever was asked for."""
    if response.status_code == HTTP_NOT_FOUND:
        return True
    if response.status_code < 400:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    name = body.get("nome") or str(body.get("type") or "").rsplit("/", 1)[-1]
    return name in names


def devolucao_id(refund_id: str) -> str:
    """Efí wants 1 to 35 alphanumerics: ``re_01HX…`` → ``re01HX…``."""
    return _NON_ALPHANUMERIC.sub("", refund_id)[:DEVOLUCAO_ID_MAX_CHARS]


def cob_charge(cob: dict[str, Any], *, now: datetime) -> Charge:
    """A cob as a Charge; a cob we cannot read is an unknown outcome."""
    try:
        calendar = cob["calendario"]
        created = datetime.fromisoformat(calendar["criacao"])
        expires_in = int(calendar["expiracao"])
        paid = (cob.get("pix") or [None])[0]
        return Charge(
            gateway=NAME,
            reference=str(cob["txid"]),
            status=efi_cob_status(
                str(cob["status"]), created_at=created, expires_in_seconds=expires_in, now=now
            ),
            gateway_status=str(cob["status"]),
            amount=to_centavos(cob["valor"]["original"]),
            amount_refunded=_returned(paid),
            amount_paid=to_centavos(paid["valor"]) if paid else None,
            pix_copy_paste=cob.get("pixCopiaECola"),
            expires_at=datetime.fromtimestamp(created.timestamp() + expires_in, UTC),
            paid_at=datetime.fromisoformat(paid["horario"]) if paid else None,
            end_to_end_id=str(paid["endToEndId"]) if paid else None,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise GatewayOutcomeUnknown(NAME, f"unreadable cob: {exc!r}") from exc


def _returned(paid: dict[str, Any] | None) -> int:
    refunds = (paid or {}).get("devolucoes") or []
    return sum(to_centavos(r["valor"]) for r in refunds if r.get("status") == RETURNED)
