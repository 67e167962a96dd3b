"""Merchants and their API keys."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.models import ApiKey, Merchant
from app.db.uow import UnitOfWork
from app.domain.caller import Caller
from app.domain.errors import AuthenticationFailed, InvalidRequest, NotFound
from app.domain.ids import new_id
from app.gateways.port import GatewayName
from app.merchants.repository import ApiKeyRepository, MerchantRepository
from app.security import display_prefix, hash_api_key, new_api_key_secret


@dataclass(frozen=True, slots=True)
class IssuedKey:
    merchant_id: str
    key_id: str
    secret: str  # shown once, never stored


async def create_merchant(uow: UnitOfWork, name: str, *, livemode: bool = False) -> IssuedKey:
    merchant = Merchant(id=new_id("mer"), name=name, livemode=livemode)
    uow.repository(MerchantRepository).add(merchant)
    await uow.flush()
    return issue_api_key(uow, merchant.id, livemode=livemode)


def issue_api_key(uow: UnitOfWork, merchant_id: str, *, livemode: bool) -> IssuedKey:
    secret = new_api_key_secret(livemode=livemode)
    key = ApiKey(
        id=new_id("key"),
        merchant_id=merchant_id,
        secret_hash=hash_api_key(secret),
        display_prefix=display_prefix(secret),
    )
    uow.repository(ApiKeyRepository).add(key)
    return IssuedKey(merchant_id=merchant_id, key_id=key.id, secret=secret)


async def authenticate(uow: UnitOfWork, secret: str) -> Caller:
    caller = await uow.repository(ApiKeyRepository).find_caller(hash_api_key(secret))
    if caller is None:
        raise AuthenticationFailed("Invalid or revoked API key.")
    return caller


def check_gateway_priority(names: list[str]) -> list[str]:
    """A priority list names known gateways, each once."""
    known = [gateway.value for gateway in GatewayName]
    unknown = [name for name in names if name not in known]
    if unknown or not names or len(set(names)) != len(names):
        raise InvalidRequest(
            f"priority must list known gateways, each once: unknown gateways {unknown} "
            f"in {names}; known: {known}.",
            param="priority",
        )
    return names


async def set_gateway_priority(
    uow: UnitOfWork, merchant_id: str, names: list[str] | None
) -> Merchant:
    """Override the default gateway order for this merchant's new tries (None: default)."""
    merchant = await uow.repository(MerchantRepository).get(merchant_id)
    if merchant is None:
        raise NotFound(f"No merchant {merchant_id}.", param="merchant")
    merchant.gateway_priority = None if names is None else check_gateway_priority(names)
    await uow.flush()
    return merchant
