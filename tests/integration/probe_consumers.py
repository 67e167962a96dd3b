"""A consumer for the runtime's tests, loaded through PIXWAVE_WORKER_MODULES.

Its handler records one row per run in probe_effects (no unique key, so a second
run of the same event would show), after sleeping if the event asks it to.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from app.db.uow import UnitOfWork
from app.settings import Settings
from workers.registry import ConsumerFactory
from workers.runtime.consumer import Consumer
from workers.runtime.envelope import Event

PROBE_EVENT = "probe.ran"
EFFECTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS probe_effects (event_id text, at timestamptz DEFAULT now())"
)


async def record_effect(event: Event, uow: UnitOfWork) -> None:
    await asyncio.sleep(float(event.object.get("sleep_seconds", 0)))
    await uow.session.execute(
        text("INSERT INTO probe_effects (event_id) VALUES (:id)"), {"id": event.id}
    )


def probe_consumer(_: Settings) -> Consumer:
    return Consumer(
        name="probe",
        queue="probe",
        handlers={PROBE_EVENT: record_effect},
        backoff_base_seconds=1,
        backoff_cap_seconds=1,
    )


CONSUMERS: dict[str, ConsumerFactory] = {"probe": probe_consumer}
