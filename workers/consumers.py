"""PixWave's own consumers, by the name `pixwave worker NAME` takes.

Other modules can add consumers through PIXWAVE_WORKER_MODULES.
"""

from __future__ import annotations

from app.payments.consumer import charge_consumer
from app.webhooks.consumer import webhooks_consumer
from workers.registry import ConsumerFactory

CONSUMERS: dict[str, ConsumerFactory] = {
    "charge": charge_consumer,
    "webhooks": webhooks_consumer,
}
