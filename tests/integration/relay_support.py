"""What the relay tests share: an isolated database and topology per test, a relay
process, and writers that produce events through the real use cases."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from app.db.session import create_engine, session_factory
from app.db.uow import SqlUnitOfWork
from app.domain.caller import Caller
from app.embedded import free_port
from app.merchants.service import create_merchant
from app.payments.intents import IntentPolicy, cancel_intent, create_intent
from app.payments.schemas import CancelPaymentIntent, CreatePaymentIntent
from app.security import DocumentCipher
from app.settings import Settings
from outbox.topology import resource_name
from tests.integration.world import World, isolated
from tests.services import TEST_DOCUMENT_KEY
from tests.support import pix_intent, start_role

POLICY = IntentPolicy(max_amount=10**8, pix_default_expires_in_seconds=3600)
CIPHER = DocumentCipher(base64.b64decode(TEST_DOCUMENT_KEY))


@dataclass(frozen=True)
class RelayWorld(World):
    """One test's own database and topology on the shared AWS API server."""

    fifo: bool = False

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.base_env,
            "PIXWAVE_FIFO": "true" if self.fifo else "false",
            "PIXWAVE_RELAY_POLL_SECONDS": "0.2",
        }

    def queue(self, base: str) -> str:
        return resource_name(self.prefix, base, fifo=self.fifo)

    def pixwave(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env={**os.environ, **self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return result.stdout

    def lag(self) -> dict[str, Any]:
        """What `pixwave outbox status` reports, read directly (the CLI costs a process)."""
        [(unpublished, oldest, parked)] = self.rows(
            "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0), "
            "count(*) FILTER (WHERE parked_at IS NOT NULL) FROM outbox WHERE published_at IS NULL"
        )
        return {"unpublished": unpublished, "oldest_age_seconds": float(oldest), "parked": parked}


def new_world(service_env: dict[str, str], endpoint: str, *, fifo: bool = False) -> RelayWorld:
    database_url, prefix = isolated(service_env, "relay")
    world = RelayWorld(database_url=database_url, endpoint=endpoint, prefix=prefix, fifo=fifo)
    world.pixwave("topology", "apply")
    return world


@contextmanager
def running_relay(
    world: RelayWorld, *, endpoint: str | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {"PIXWAVE_RELAY_METRICS_PORT": str(port)}
    if endpoint is not None:
        env["PIXWAVE_AWS_ENDPOINT_URL"] = endpoint
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    with start_role(["relay"], {**world.env, **env}, metrics_url) as process:
        yield process, metrics_url


async def write_intents(world: RelayWorld, count: int, *, cancel: bool) -> list[str]:
    """Create ``count`` PIX intents (and cancel each, if asked) through the use cases."""
    engine = create_engine(Settings(database_url=world.database_url))
    sessions = session_factory(engine)
    try:
        async with SqlUnitOfWork(sessions) as uow:
            issued = await create_merchant(uow, "Loja Relay")
            await uow.commit()
        caller = Caller(issued.merchant_id, livemode=False, api_key_id=issued.key_id)
        ids = []
        for _ in range(count):
            async with SqlUnitOfWork(sessions) as uow:
                intent = await create_intent(
                    uow, caller, CreatePaymentIntent(**pix_intent()), POLICY, CIPHER
                )
                await uow.commit()
            if cancel:
                async with SqlUnitOfWork(sessions) as uow:
                    await cancel_intent(uow, caller, intent.id, CancelPaymentIntent())
                    await uow.commit()
            ids.append(intent.id)
        return ids
    finally:
        await engine.dispose()
