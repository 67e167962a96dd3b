"""Paying new PIX charges on their own after a delay (the `pix_auto_pay_seconds` fault)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from loguru import logger

from gatewaysim.errors import SimulatorError
from gatewaysim.faults import FaultBoard
from gatewaysim.gateways import Gateway
from gatewaysim.tasks import Spawner


class AutoPayer:
    def __init__(self, faults: FaultBoard, spawner: Spawner) -> None:
        self._faults = faults
        self._spawner = spawner

    def schedule(self, gateway: Gateway, reference: str, pay: Callable[[str], object]) -> None:
        """Call ``pay(reference)`` later, if this gateway's faults ask for automatic payment."""
        delay = self._faults.of(gateway).pix_auto_pay_seconds
        if delay is not None:
            self._spawner.spawn(_pay_later(delay, gateway, reference, pay))


async def _pay_later(
    delay: float, gateway: Gateway, reference: str, pay: Callable[[str], object]
) -> None:
    await asyncio.sleep(delay)
    try:
        pay(reference)
    except SimulatorError as exc:  # cancelled or removed meanwhile: nothing to pay
        logger.info("sim.auto_pay_skipped", gateway=gateway, reference=reference, reason=exc.body)
