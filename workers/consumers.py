"""PixWave's own consumers, by the name `pixwave worker NAME` takes: each area's
handlers on the queue they share (the charge queue carries intents', refunds' and payouts' work).

Other modules can add consumers through PIXWAVE_WORKER_MODULES.
"""

from __future__ import annotations

from app.payments.consumer import PAYMENT_ACTIONS, charge_consumer
from app.payouts.consumer import PAYOUT_ACTIONS
from app.refunds.consumer import REFUND_ACTIONS
from app.settings import Settings
from app.webhooks.consumer import webhooks_consumer
from workers.registry import ConsumerFactory
from workers.runtime.consumer import Consumer


def charge_worker(settings: Settings) -> Consumer:
    return charge_consumer(settings, {**PAYMENT_ACTIONS, **REFUND_ACTIONS, **PAYOUT_ACTIONS})


CONSUMERS: dict[str, ConsumerFactory] = {
    "charge": charge_worker,
    "webhooks": webhooks_consumer,
}
