"""RedisOrMemory: whatever a dying Redis connection raises, the operation is done in
memory (recovery is tested with a real redis-server in tests/integration/test_redis_outage.py)."""

from __future__ import annotations

import pytest

from app.redis_fallback import RedisOrMemory

CLOSED_TRANSPORT = (
    "unable to perform operation on <TCPTransport closed=True reading=False>; the handler is closed"
)


async def in_memory() -> str:
    return "memory"


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("reset by peer"), RuntimeError(CLOSED_TRANSPORT)],
    ids=["os-error", "closed-transport"],
)
async def test_a_call_on_a_dead_connection_falls_back_to_memory(error: Exception) -> None:
    store = RedisOrMemory("test_component")

    async def on_redis() -> str:
        raise error

    assert await store.run(on_redis, in_memory) == "memory"
    assert store.degraded
