"""Velocity windows in Redis: the check and the count of one intent are one Lua script,
so concurrent intents are counted one after the other and a limit of 3 lets exactly 3
through however many arrive at once.

Each velocity rule keeps, per value it counts (a payer's fingerprint, a card's, the
merchant), a sorted set of the intents that passed, scored by the time they were
counted (ms); a member is ``<intent id>:<amount>``, so sums need no second structure.
The window slides: each check first drops members older than ``window_seconds``, then
asks whether this intent would take the count past ``max_count`` or the sum past
``max_amount``. The script counts the intent in every window only if no blocking rule
matched (an intent that is blocked is not counted; one sent to review goes on to be
charged, so it is). Keys share the merchant as a hash tag, so one script's keys are on
one Redis Cluster slot. A key expires with its window.

An intent counted here whose transaction then rolls back stays counted until its
window ends: the count errs towards strictness, never towards letting more through.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from redis.asyncio import Redis

from app.redis_fallback import RedisOrMemory
from app.risk.evaluation import VelocityCheck

# KEYS: one sorted set per check. ARGV: now (ms), member, amount, then per check
# window (ms), max count (-1: none), max amount (-1: none), blocking (1/0).
# Returns one flag per check: 1 if it matched.
_CHECK_AND_COUNT = """
local now = tonumber(ARGV[1])
local member = ARGV[2]
local amount = tonumber(ARGV[3])
local matched = {}
local blocked = false
for i, key in ipairs(KEYS) do
  local at = 3 + (i - 1) * 4
  local window = tonumber(ARGV[at + 1])
  local max_count = tonumber(ARGV[at + 2])
  local max_amount = tonumber(ARGV[at + 3])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local over = max_count >= 0 and redis.call('ZCARD', key) + 1 > max_count
  if not over and max_amount >= 0 then
    local sum = amount
    for _, counted in ipairs(redis.call('ZRANGE', key, 0, -1)) do
      sum = sum + tonumber(string.match(counted, ':(%d+)$'))
    end
    over = sum > max_amount
  end
  matched[i] = over and 1 or 0
  if over and ARGV[at + 4] == '1' then blocked = true end
end
if not blocked then
  for i, key in ipairs(KEYS) do
    local window = tonumber(ARGV[3 + (i - 1) * 4 + 1])
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, window)
  end
end
return matched
"""


# One per process: every request's store shares what it learned of Redis's health.
PROCESS_AVAILABILITY = RedisOrMemory("risk_velocity")


class VelocityStore:
    """Checks and counts intents in their windows; None when Redis does not answer
    (then it is not asked again for a second, so an outage costs no timeouts)."""

    def __init__(
        self, redis: Redis, namespace: str, availability: RedisOrMemory = PROCESS_AVAILABILITY
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self._availability = availability
        self._script = redis.register_script(_CHECK_AND_COUNT)

    @property
    def degraded(self) -> bool:
        return self._availability.degraded

    def _key(self, merchant_id: str, check: VelocityCheck) -> str:
        return f"{self._namespace}:risk:{{{merchant_id}}}:{check.rule.id}:{check.value}"

    async def check_and_count(
        self, merchant_id: str, intent_id: str, amount: int, checks: Sequence[VelocityCheck]
    ) -> list[bool] | None:
        if not checks:
            return []
        keys = [self._key(merchant_id, check) for check in checks]
        args: list[int | str] = [int(time.time() * 1000), f"{intent_id}:{amount}", amount]
        for check in checks:
            rule = check.rule
            args += [
                rule.window_seconds * 1000,
                -1 if rule.max_count is None else rule.max_count,
                -1 if rule.max_amount is None else rule.max_amount,
                1 if check.blocking else 0,
            ]

        async def on_redis() -> list[bool] | None:
            flags = await self._script(keys=keys, args=args)
            return [bool(flag) for flag in flags]

        async def unavailable() -> list[bool] | None:
            return None

        return await self._availability.run(on_redis, unavailable)
