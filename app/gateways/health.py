"""Gateway health shared by every worker through Redis: a circuit breaker each, and a
sliding window of outcomes and latency.

Closed: calls go through. The circuit opens for OPEN_SECONDS after FAILURE_THRESHOLD
consecutive failures (refused, timed out, 5xx), or when at least WINDOW_MIN_CALLS
calls in the last WINDOW_SECONDS failed at FAILURE_RATE_TO_OPEN or more. Then it is
half-open: one worker at a time gets a probe call; its failure opens the circuit
again at once, its success closes it. Opening a closed circuit and closing a tripped
one are transitions, each reported to exactly one caller (the alerts).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

FAILURE_THRESHOLD = 5
OPEN_SECONDS = 30
# A failure streak older than this is forgotten.
STREAK_MEMORY_SECONDS = 300
WINDOW_SECONDS = 60
BUCKET_SECONDS = 10
WINDOW_MIN_CALLS = 20
FAILURE_RATE_TO_OPEN = 0.5
# A half-open probe that never reports back frees its place after this long.
PROBE_SECONDS = 15


@dataclass(frozen=True, slots=True)
class WindowStats:
    calls: int
    failures: int
    total_ms: int

    @property
    def failure_rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0

    def as_record(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "success_rate": round(1 - self.failure_rate, 3) if self.calls else None,
            "mean_ms": round(self.total_ms / self.calls) if self.calls else None,
        }


class GatewayHealth:
    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str = "pixwave",
        threshold: int = FAILURE_THRESHOLD,
        open_seconds: int = OPEN_SECONDS,
        window_min_calls: int = WINDOW_MIN_CALLS,
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self._threshold = threshold
        self._open_seconds = open_seconds
        self._window_min_calls = window_min_calls

    @property
    def open_seconds(self) -> int:
        return self._open_seconds

    def _key(self, gateway: str, part: str) -> str:
        return f"{self._namespace}:gateway:{gateway}:{part}"

    def _buckets(self, gateway: str, now: float) -> list[str]:
        newest = int(now) // BUCKET_SECONDS * BUCKET_SECONDS
        starts = range(newest, newest - WINDOW_SECONDS, -BUCKET_SECONDS)
        return [self._key(gateway, f"window:{start}") for start in starts]

    async def available(self, gateways: Iterable[str]) -> set[str]:
        """Closed circuits, and half-open ones whose probe this caller takes."""
        names = list(gateways)
        if not names:
            return set()
        opened = await self._redis.mget([self._key(g, "open") for g in names])
        tripped = await self._redis.mget([self._key(g, "tripped") for g in names])
        found = set()
        for name, is_open, was_tripped in zip(names, opened, tripped, strict=True):
            if is_open is None and (was_tripped is None or await self._take_probe(name)):
                found.add(name)
        return found

    async def _take_probe(self, gateway: str) -> bool:
        return bool(
            await self._redis.set(self._key(gateway, "probe"), 1, ex=PROBE_SECONDS, nx=True)
        )

    async def record_success(self, gateway: str, seconds: float = 0.0) -> bool:
        """Count a success; True for the one caller whose success closed the circuit."""
        await self._count(gateway, "ok", seconds)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(gateway, "tripped"))
            pipe.delete(self._key(gateway, "failures"), self._key(gateway, "probe"))
            was_tripped, _ = await pipe.execute()
        return bool(was_tripped)

    async def record_failure(self, gateway: str, seconds: float = 0.0) -> bool:
        """Count a failure; True for the one caller whose failure opened a closed circuit
        (a half-open probe that fails reopens it without another transition)."""
        await self._count(gateway, "fail", seconds)
        failures_key, tripped_key = self._key(gateway, "failures"), self._key(gateway, "tripped")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(failures_key)
            pipe.expire(failures_key, STREAK_MEMORY_SECONDS)
            pipe.exists(tripped_key)
            failures, _, half_open = await pipe.execute()
        if failures < self._threshold and not half_open and not await self._window_failing(gateway):
            return False
        await self._redis.set(self._key(gateway, "open"), 1, ex=self._open_seconds, nx=True)
        # SET NX: of a whole fleet, only the caller that tripped it sees the transition.
        opened = await self._redis.set(tripped_key, 1, nx=True)
        await self._redis.delete(failures_key, self._key(gateway, "probe"))
        return bool(opened)

    async def _count(self, gateway: str, outcome: str, seconds: float) -> None:
        bucket = self._buckets(gateway, time.time())[0]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(bucket, outcome, 1)
            pipe.hincrby(bucket, "ms", round(seconds * 1000))
            pipe.expire(bucket, WINDOW_SECONDS + BUCKET_SECONDS)
            await pipe.execute()

    async def window(self, gateway: str) -> WindowStats:
        async with self._redis.pipeline(transaction=False) as pipe:
            for bucket in self._buckets(gateway, time.time()):
                pipe.hgetall(bucket)
            buckets: list[dict[bytes, bytes]] = await pipe.execute()
        ok, failed, total_ms = (
            sum(int(b.get(field, 0)) for b in buckets) for field in (b"ok", b"fail", b"ms")
        )
        return WindowStats(calls=ok + failed, failures=failed, total_ms=total_ms)

    async def _window_failing(self, gateway: str) -> bool:
        stats = await self.window(gateway)
        return stats.calls >= self._window_min_calls and stats.failure_rate >= FAILURE_RATE_TO_OPEN

    async def seen(self, gateways: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Each gateway's last minute, for the routing record."""
        return {gateway: (await self.window(gateway)).as_record() for gateway in gateways}
