"""Who a request acts for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated merchant a request acts for, and the key it used."""

    merchant_id: str
    livemode: bool
    api_key_id: str
