"""Which consumers `pixwave worker NAME` can run."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from app.settings import Settings
from outbox.topology import resource_name
from workers.runtime.consumer import Consumer

ConsumerFactory = Callable[[Settings], Consumer]
BUILTIN_MODULE = "workers.consumers"


def known_consumers(settings: Settings) -> dict[str, ConsumerFactory]:
    modules = [BUILTIN_MODULE, *filter(None, map(str.strip, settings.worker_modules.split(",")))]
    found: dict[str, ConsumerFactory] = {}
    for name in modules:
        found |= getattr(importlib.import_module(name), "CONSUMERS", {})
    return found


def queue_name(settings: Settings, consumer: Consumer) -> str:
    return resource_name(settings.name_prefix, consumer.queue, fifo=settings.fifo)
