"""In-flight places per webhook endpoint, shared by every webhook worker through Redis.

A place is a lease in a sorted set scored by its expiry: taken before a POST, given
back right after it. A worker that dies holding one loses it when the lease expires.
While Redis is away each worker keeps its own leases in memory: an endpoint then has
up to the limit per worker in flight, and every delivery still goes out.
"""

from __future__ import annotations

import secrets
import time

from redis.asyncio import Redis

from app.redis_fallback import RedisOrMemory

# Drop expired leases; take a place when fewer than the limit are held.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
# A lease outlives the longest POST by this much, then frees itself.
LEASE_MARGIN_SECONDS = 5.0
_MEMORY_TOKEN_PREFIX = "memory-"  # noqa: S105 (a prefix, not a secret)


class EndpointPlaces:
    def __init__(self, redis: Redis, *, namespace: str, limit: int, hold_seconds: float) -> None:
        self._redis = redis
        self._namespace = namespace
        self._limit = limit
        self._lease_ms = int((hold_seconds + LEASE_MARGIN_SECONDS) * 1000)
        self._take = redis.register_script(_TAKE)
        self._shared = RedisOrMemory("webhook_places")
        # endpoint → {token: lease expiry in ms}, used only while Redis is away
        self._local: dict[str, dict[str, int]] = {}

    def _key(self, endpoint_id: str) -> str:
        return f"{self._namespace}:webhook:places:{endpoint_id}"

    async def take(self, endpoint_id: str) -> str | None:
        """A lease token, or None when the endpoint has every place taken."""
        now_ms = int(time.time() * 1000)

        async def on_redis() -> str | None:
            token = secrets.token_hex(8)
            args: list[int | str] = [now_ms, now_ms + self._lease_ms, self._limit, token]
            taken = await self._take(keys=[self._key(endpoint_id)], args=args)
            return token if taken else None

        async def in_memory() -> str | None:
            leases = self._local.setdefault(endpoint_id, {})
            for token in [t for t, expiry in leases.items() if expiry <= now_ms]:
                del leases[token]
            if len(leases) >= self._limit:
                return None
            token = _MEMORY_TOKEN_PREFIX + secrets.token_hex(8)
            leases[token] = now_ms + self._lease_ms
            return token

        return await self._shared.run(on_redis, in_memory)

    async def give_back(self, endpoint_id: str, token: str) -> None:
        if token.startswith(_MEMORY_TOKEN_PREFIX):
            self._local.get(endpoint_id, {}).pop(token, None)
            return

        async def on_redis() -> None:
            await self._redis.zrem(self._key(endpoint_id), token)

        async def in_memory() -> None:
            """Redis went away while the lease was held: it expires there by itself."""

        await self._shared.run(on_redis, in_memory)
