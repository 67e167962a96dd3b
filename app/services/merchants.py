"""Merchants and their API keys."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.models import ApiKey, Merchant
from app.db.uow import UnitOfWork
from app.domain.caller import Caller
from app.domain.errors import AuthenticationFailed
from app.domain.ids import new_id
from app.security import display_prefix, hash_api_key, new_api_key_secret


@dataclass(frozen=True, slots=True)
class IssuedKey:
    merchant_id: str
    key_id: str
    secret: str  # shown once, never stored


async def create_merchant(uow: UnitOfWork, name: str, *, livemode: bool = False) -> IssuedKey:
    merchant = Merchant(id=new_id("mer"), name=name, livemode=livemode)
    uow.merchants.add(merchant)
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
    uow.api_keys.add(key)
    return IssuedKey(merchant_id=merchant_id, key_id=key.id, secret=secret)


async def authenticate(uow: UnitOfWork, secret: str) -> Caller:
    caller = await uow.api_keys.find_caller(hash_api_key(secret))
    if caller is None:
        raise AuthenticationFailed("Invalid or revoked API key.")
    return caller
