"""The one simulator instance a server runs: both gateways, faults, callbacks, randomness."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request

from gatewaysim.autopay import AutoPayer
from gatewaysim.callbacks import CallbackSender
from gatewaysim.config import SimulatorConfig
from gatewaysim.dice import Dice
from gatewaysim.efi.notifications import EfiNotifier, registered_url
from gatewaysim.efi.service import EfiSim
from gatewaysim.faults import FaultBoard
from gatewaysim.gateways import Gateway
from gatewaysim.ledger import ChargeRow, RefundRow
from gatewaysim.mercadopago.notifications import MercadoPagoNotifier
from gatewaysim.mercadopago.service import MercadoPagoSim
from gatewaysim.tasks import Spawner


class SimulatedGateway(Protocol):
    """What the `/_sim` API asks of either gateway."""

    def pay(self, references: list[str], amount_cents: int | None) -> list[dict[str, Any]]: ...

    def resend(self, reference: str, *, stale_seconds: int, bad_signature: bool) -> None: ...

    def charges(self) -> list[ChargeRow]: ...

    def refunds(self) -> list[RefundRow]: ...

    def clear(self) -> None: ...


class Simulator:
    """State lives in memory and changes only in code that never awaits midway, so the
    event loop of one process is all the locking it needs."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.spawner = Spawner()
        dice = Dice(config.seed)
        self.faults = FaultBoard(dice)
        self.callbacks = CallbackSender(
            self.spawner,
            attempts=config.callback_attempts,
            retry_seconds=config.callback_retry_seconds,
        )
        auto_payer = AutoPayer(self.faults, self.spawner)
        self.mercadopago = MercadoPagoSim(
            self.faults,
            MercadoPagoNotifier(self.callbacks, config.mercadopago_webhook_secret),
            auto_payer,
        )
        notifier = EfiNotifier(self.callbacks, self.faults, registered_url(config))
        self.efi = EfiSim(dice, self.faults, self.spawner, notifier, auto_payer)

    def gateway(self, gateway: Gateway) -> SimulatedGateway:
        return self.mercadopago if gateway is Gateway.MERCADOPAGO else self.efi

    def ledger(self) -> dict[str, Any]:
        gateways = [self.gateway(g) for g in Gateway]
        return {
            "charges": [asdict(row) for g in gateways for row in g.charges()],
            "refunds": [asdict(row) for g in gateways for row in g.refunds()],
            "pix_sends": [asdict(row) for row in self.efi.sends.rows()],
            "tokens_issued": {Gateway.EFI.value: self.efi.tokens.issued},
            "callbacks": [asdict(delivery) for delivery in self.callbacks.deliveries],
        }

    async def clear_ledger(self) -> None:
        """Forget every charge, refund and callback; stop callbacks and payments pending."""
        await self.spawner.cancel_all()
        for gateway in Gateway:
            self.gateway(gateway).clear()
        self.callbacks.clear()

    async def close(self) -> None:
        await self.spawner.cancel_all()
        await self.callbacks.close()


def current_simulator(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


SimulatorDep = Annotated[Simulator, Depends(current_simulator)]
