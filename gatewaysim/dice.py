"""The simulator's one source of randomness: fault draws and generated ids, seedable."""

from __future__ import annotations

import random
import string
import uuid

ALPHANUMERIC = string.ascii_letters + string.digits


class Dice:
    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - reproducible simulation, not secrets

    def chance(self, rate: float) -> bool:
        """True with probability ``rate``; a zero rate draws nothing."""
        return rate > 0 and self._rng.random() < rate

    def alphanumeric(self, length: int) -> str:
        return "".join(self._rng.choices(ALPHANUMERIC, k=length))

    def uuid_hex(self) -> str:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4).hex
