"""PixWave's own consumers, by the name `pixwave worker NAME` takes.

The charge and webhook consumers register here as they land (issues "Charging"
and "Merchant webhooks"); other modules can add consumers through
PIXWAVE_WORKER_MODULES.
"""

from __future__ import annotations

from workers.registry import ConsumerFactory

CONSUMERS: dict[str, ConsumerFactory] = {}
