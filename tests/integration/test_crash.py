"""SIGKILL the API in the middle of a load of creates: nothing is half-written."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import httpx
import psycopg

from tests.support import Merchant, create_merchant, pix_intent, start_api, wait_for

CLIENTS = 16
KILL_AFTER_COMMITTED = 150


async def _hammer(url: str, merchant: Merchant, stop: asyncio.Event) -> int:
    created = 0
    async with httpx.AsyncClient(base_url=url, headers=merchant.headers, timeout=5) as client:
        while not stop.is_set():
            try:
                response = await client.post("/v1/payment_intents", json=pix_intent())
            except httpx.TransportError:
                return created
            created += response.status_code == 201
    return created


def _committed(db: psycopg.Connection[Any], merchant: Merchant) -> int:
    row = db.execute(
        "SELECT count(*) FROM payment_intents WHERE merchant_id = %s", (merchant.merchant_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


async def test_sigkill_under_load_leaves_every_intent_with_its_event(
    db: psycopg.Connection[Any], service_env: dict[str, str]
) -> None:

    merchant = create_merchant("Loja Crash")
    with start_api({"PIXWAVE_RATE_LIMIT_PER_SECOND": "100000"}) as api:
        stop = asyncio.Event()
        load = [asyncio.create_task(_hammer(api.url, merchant, stop)) for _ in range(CLIENTS)]
        await asyncio.to_thread(
            wait_for, lambda: _committed(db, merchant) >= KILL_AFTER_COMMITTED, timeout=60
        )
        api.process.send_signal(signal.SIGKILL)
        api.process.wait()
        stop.set()
        acknowledged = sum(await asyncio.gather(*load))

    committed = _committed(db, merchant)
    assert committed >= acknowledged >= KILL_AFTER_COMMITTED // 2
    orphans = db.execute(
        """
        SELECT
          (SELECT count(*) FROM payment_intents i WHERE i.merchant_id = %(m)s AND NOT EXISTS (
             SELECT 1 FROM outbox o
             WHERE o.aggregate_id = i.id AND o.event_type = 'payment_intent.created')),
          (SELECT count(*) FROM outbox o WHERE o.merchant_id = %(m)s AND NOT EXISTS (
             SELECT 1 FROM payment_intents i WHERE i.id = o.aggregate_id))
        """,
        {"m": merchant.merchant_id},
    ).fetchone()
    assert orphans == (0, 0)
