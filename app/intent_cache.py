"""A read-through cache of GET /v1/payment_intents/{id} answers in Redis, off unless
PIXWAVE_INTENT_CACHE_SECONDS > 0 (docs/decisions.md, "Lookup cache").

An entry is ``<version>|<body>``; every commit that changed an intent leaves a
tombstone ``<version>|`` (its new version) in its place. A reader fills the cache only
if what is there is older than what it read: a reader that took its snapshot before a
writer's commit holds an older version than the writer's tombstone and is refused, in
whichever order the fill and the tombstone reach Redis. Tombstones outlive any fill a
reader may still make (a reader gives up filling FILL_WITHIN_SECONDS after its read).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

FILL_WITHIN_SECONDS = 5.0
TOMBSTONE_SECONDS = 60  # > FILL_WITHIN_SECONDS: no fill from before a commit outlives it

# KEYS[1]; ARGV: version, body ('' for a tombstone), seconds. Newer versions win; a
# value replaces a tombstone of the same version (the commit it read), never the reverse.
_WRITE = """
local current = redis.call('GET', KEYS[1])
local version = tonumber(ARGV[1])
if current then
  local held = tonumber(string.match(current, '^(%d+)|'))
  local tombstone = string.sub(current, -1) == '|'
  if held and (held > version or (held == version and (ARGV[2] == '' or not tombstone))) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
return 1
"""


class IntentCache:
    def __init__(self, redis: Redis, *, prefix: str, seconds: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._seconds = seconds
        self._write = redis.register_script(_WRITE)

    def _key(self, merchant_id: str, intent_id: str) -> str:
        return f"{self._prefix}:intent:{merchant_id}:{intent_id}"

    async def get(self, merchant_id: str, intent_id: str) -> bytes | None:
        try:
            value = await self._redis.get(self._key(merchant_id, intent_id))
        except RedisError:
            return None
        if not isinstance(value, bytes):
            return None
        _, _, body = value.partition(b"|")
        return body or None

    async def fill(
        self, merchant_id: str, intent_id: str, version: int, body: bytes, read_at: float
    ) -> None:
        """``read_at``: time.monotonic() before the SELECT that gave ``version``."""
        if time.monotonic() - read_at > FILL_WITHIN_SECONDS:
            return
        try:
            key = self._key(merchant_id, intent_id)
            await self._write(keys=[key], args=[version, body, self._seconds])
        except RedisError:
            return

    async def forget(self, written: Iterable[tuple[str, str, int]]) -> None:
        """After a commit: a tombstone per (merchant, intent, committed version)."""
        try:
            for merchant_id, intent_id, version in written:
                key = self._key(merchant_id, intent_id)
                await self._write(keys=[key], args=[version, "", TOMBSTONE_SECONDS])
        except RedisError:
            return  # the entry's own expiry bounds how long it may be served
