"""Prefixed, time-sortable, random ids: ``pi_01JD…``.

48 bits of milliseconds then 80 random bits, in Crockford base32 (26 characters),
so ids sort by creation time and cursor pagination can compare them as strings.
"""

from __future__ import annotations

import secrets
import time
from typing import Literal

IdPrefix = Literal["pi", "re", "evt", "we", "whd", "mer", "att", "key", "le", "txn", "po"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ENCODED_LENGTH = 26
_RANDOM_BITS = 80
_TIMESTAMP_BITS = 48


def new_id(prefix: IdPrefix) -> str:
    millis = time.time_ns() // 1_000_000 & ((1 << _TIMESTAMP_BITS) - 1)
    value = (millis << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)
    chars = []
    for _ in range(_ENCODED_LENGTH):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return f"{prefix}_{''.join(reversed(chars))}"


def looks_like_id(prefix: IdPrefix, candidate: str) -> bool:
    head, _, body = candidate.partition("_")
    return head == prefix and len(body) == _ENCODED_LENGTH and all(c in _ALPHABET for c in body)
