"""The form of each identifier a gateway gives us, checked before one goes into a URL.

A callback's body is not trusted: an identifier such as ``../../oauth/token`` would
make an adapter call another path of the gateway's API. So every identifier from a
callback is checked at entry, and adapters check again as they build a path.

- Efí txid: ``[a-zA-Z0-9]{26,35}`` (bacen/pix-api openapi.yaml, ``TxId``; Efí's
  documentacao-tecnica-efi markdown/pix/cob/Consultar_cobranca.md).
- Efí idEnvio: ``[a-zA-Z0-9]{1,35}`` (documentacao-tecnica-efi markdown/pix/pix/Enviar_pix.md;
  docs/gateways/payouts-and-reconciliation.md §1).
- Pix endToEndId: ``[a-zA-Z0-9]{32}`` (bacen/pix-api openapi.yaml, ``EndToEndId``).
- Mercado Pago payment id: a number (mercadopago/sdk-nodejs
  src/clients/payment/commonTypes.ts, ``PaymentResponse.id: number``), at most the
  19 digits of a signed 64-bit integer.
"""

from __future__ import annotations

import hashlib
import re

from app.domain.errors import InvalidRequest
from app.gateways.port import CallbackEvent, GatewayName

EFI_TXID = re.compile(r"[a-zA-Z0-9]{26,35}")
PIX_END_TO_END_ID = re.compile(r"[a-zA-Z0-9]{32}")
MERCADOPAGO_PAYMENT_ID = re.compile(r"[0-9]{1,19}")
EFI_ID_ENVIO = re.compile(r"[a-zA-Z0-9]{1,35}")
EFI_KEY_SEPARATOR = ";"
# As the cob's txid: 32 hex digits of SHA-256, within Efí's 1 to 35 alphanumerics.
ID_ENVIO_CHARS = 32


class InvalidGatewayIdentifier(InvalidRequest):
    code = "gateway_identifier_invalid"


def _checked(value: str, form: re.Pattern[str], what: str, param: str) -> str:
    if form.fullmatch(value) is None:
        raise InvalidGatewayIdentifier(f"{param} is not {what}.", param=param)
    return value


def efi_txid(value: str) -> str:
    return _checked(value, EFI_TXID, "an Efí txid (26 to 35 letters and digits)", "txid")


def efi_id_envio(value: str) -> str:
    return _checked(value, EFI_ID_ENVIO, "an Efí idEnvio (1 to 35 letters and digits)", "idEnvio")


def id_envio_for(attempt_key: str) -> str:
    """The idEnvio of a payout attempt, derived from its key: the same attempt, the same
    send; another attempt (another key), another idEnvio."""
    return hashlib.sha256(attempt_key.encode()).hexdigest()[:ID_ENVIO_CHARS]


def pix_end_to_end_id(value: str) -> str:
    return _checked(
        value, PIX_END_TO_END_ID, "a Pix endToEndId (32 letters and digits)", "endToEndId"
    )


def mercadopago_payment_id(value: str) -> str:
    return _checked(value, MERCADOPAGO_PAYMENT_ID, "a Mercado Pago payment id (digits)", "data.id")


def check_callback_event(gateway: GatewayName, event: CallbackEvent) -> None:
    """Refuse a callback naming a charge in a form its gateway never issues."""
    if gateway is GatewayName.EFI:
        efi_txid(event.reference)
        # The key is the pix's endToEndId, then its devoluções (app/gateways/efi.py).
        pix_end_to_end_id(event.key.split(EFI_KEY_SEPARATOR, 1)[0])
    else:
        mercadopago_payment_id(event.reference)
