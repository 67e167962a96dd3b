"""Gateway health shared by every worker through Redis: a circuit breaker each, and a
sliding window of outcomes and latency. While Redis is away each worker keeps the same
state in its own memory (app/redis_fallback.py) and goes on charging.

Closed: calls go through. The circuit opens for OPEN_SECONDS after FAILURE_THRESHOLD
consecutive failures (refused, timed out, 5xx), or when at least WINDOW_MIN_CALLS
calls in the last WINDOW_SECONDS failed at FAILURE_RATE_TO_OPEN or more. Then it is
half-open: one worker at a time gets a probe call; its failure opens the circuit
again at once, its success closes it. Opening a closed circuit and closing a tripped
one are transitions, each reported to exactly one caller (the alerts).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis

from app.redis_fallback import RedisOrMemory

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

T = TypeVar("T")


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


def bucket_starts(now: float) -> list[int]:
    """The window's buckets, newest first."""
    newest = int(now) // BUCKET_SECONDS * BUCKET_SECONDS
    return list(range(newest, newest - WINDOW_SECONDS, -BUCKET_SECONDS))


class HealthStore(Protocol):
    """Where one gateway's breaker state lives: Redis, or this process's memory."""

    async def circuit(self, gateway: str) -> tuple[bool, bool]:
        """(open, tripped): open now, or tripped earlier and so half-open."""
        ...

    async def take_probe(self, gateway: str) -> bool: ...

    async def count(self, gateway: str, outcome: str, ms: int) -> None: ...

    async def close(self, gateway: str) -> bool:
        """Forget the failure streak, the trip and the probe; True if it was tripped."""
        ...

    async def add_failure(self, gateway: str) -> tuple[int, bool]:
        """The failure streak with this one, and whether the circuit was half-open."""
        ...

    async def open(self, gateway: str, seconds: int) -> bool:
        """Open for `seconds` and mark it tripped; True for the call that tripped it."""
        ...

    async def buckets(self, gateway: str) -> list[tuple[int, int, int]]:
        """(successes, failures, total ms) of each bucket in the window."""
        ...


class RedisHealthStore:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._namespace = namespace

    def _key(self, gateway: str, part: str) -> str:
        return f"{self._namespace}:gateway:{gateway}:{part}"

    def _buckets(self, gateway: str) -> list[str]:
        return [self._key(gateway, f"window:{start}") for start in bucket_starts(time.time())]

    async def circuit(self, gateway: str) -> tuple[bool, bool]:
        is_open, tripped = await self._redis.mget(
            [self._key(gateway, "open"), self._key(gateway, "tripped")]
        )
        return is_open is not None, tripped is not None

    async def take_probe(self, gateway: str) -> bool:
        return bool(
            await self._redis.set(self._key(gateway, "probe"), 1, ex=PROBE_SECONDS, nx=True)
        )

    async def count(self, gateway: str, outcome: str, ms: int) -> None:
        bucket = self._buckets(gateway)[0]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(bucket, outcome, 1)
            pipe.hincrby(bucket, "ms", ms)
            pipe.expire(bucket, WINDOW_SECONDS + BUCKET_SECONDS)
            await pipe.execute()

    async def close(self, gateway: str) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(gateway, "tripped"))
            pipe.delete(self._key(gateway, "failures"), self._key(gateway, "probe"))
            was_tripped, _ = await pipe.execute()
        return bool(was_tripped)

    async def add_failure(self, gateway: str) -> tuple[int, bool]:
        failures_key = self._key(gateway, "failures")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(failures_key)
            pipe.expire(failures_key, STREAK_MEMORY_SECONDS)
            pipe.exists(self._key(gateway, "tripped"))
            failures, _, half_open = await pipe.execute()
        return int(failures), bool(half_open)

    async def open(self, gateway: str, seconds: int) -> bool:
        await self._redis.set(self._key(gateway, "open"), 1, ex=seconds, nx=True)
        # SET NX: of a whole fleet, only the caller that tripped it sees the transition.
        tripped = await self._redis.set(self._key(gateway, "tripped"), 1, nx=True)
        await self._redis.delete(self._key(gateway, "failures"), self._key(gateway, "probe"))
        return bool(tripped)

    async def buckets(self, gateway: str) -> list[tuple[int, int, int]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for bucket in self._buckets(gateway):
                pipe.hgetall(bucket)
            found: list[dict[bytes, bytes]] = await pipe.execute()
        return [(int(b.get(b"ok", 0)), int(b.get(b"fail", 0)), int(b.get(b"ms", 0))) for b in found]


@dataclass(slots=True)
class _LocalCircuit:
    open_until: float = 0.0
    tripped: bool = False
    probe_until: float = 0.0
    failures: int = 0
    last_failure: float = 0.0
    # bucket start → [successes, failures, total ms]
    buckets: dict[int, list[int]] = field(default_factory=dict)


class MemoryHealthStore:
    """The same state in this process only, for while Redis is away."""

    def __init__(self) -> None:
        self._circuits: dict[str, _LocalCircuit] = {}

    def _of(self, gateway: str) -> _LocalCircuit:
        return self._circuits.setdefault(gateway, _LocalCircuit())

    async def circuit(self, gateway: str) -> tuple[bool, bool]:
        state = self._of(gateway)
        return state.open_until > time.monotonic(), state.tripped

    async def take_probe(self, gateway: str) -> bool:
        state, now = self._of(gateway), time.monotonic()
        if state.probe_until > now:
            return False
        state.probe_until = now + PROBE_SECONDS
        return True

    async def count(self, gateway: str, outcome: str, ms: int) -> None:
        state, starts = self._of(gateway), bucket_starts(time.time())
        state.buckets = {start: state.buckets.get(start, [0, 0, 0]) for start in starts}
        counts = state.buckets[starts[0]]
        counts[0 if outcome == "ok" else 1] += 1
        counts[2] += ms

    async def close(self, gateway: str) -> bool:
        state = self._of(gateway)
        was_tripped = state.tripped
        state.failures, state.tripped, state.probe_until = 0, False, 0.0
        return was_tripped

    async def add_failure(self, gateway: str) -> tuple[int, bool]:
        state, now = self._of(gateway), time.monotonic()
        if now - state.last_failure > STREAK_MEMORY_SECONDS:
            state.failures = 0
        state.failures, state.last_failure = state.failures + 1, now
        return state.failures, state.tripped

    async def open(self, gateway: str, seconds: int) -> bool:
        state, now = self._of(gateway), time.monotonic()
        if state.open_until <= now:
            state.open_until = now + seconds
        tripped = not state.tripped
        state.tripped, state.failures, state.probe_until = True, 0, 0.0
        return tripped

    async def buckets(self, gateway: str) -> list[tuple[int, int, int]]:
        state = self._of(gateway)
        return [
            (counts[0], counts[1], counts[2])
            for start, counts in state.buckets.items()
            if start in bucket_starts(time.time())
        ]


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
        self._redis_store = RedisHealthStore(redis, namespace)
        self._memory_store = MemoryHealthStore()
        self._shared = RedisOrMemory("gateway_health")
        self._threshold = threshold
        self._open_seconds = open_seconds
        self._window_min_calls = window_min_calls

    @property
    def open_seconds(self) -> int:
        return self._open_seconds

    @property
    def on_memory(self) -> bool:
        """True while Redis is away and this process keeps health in its own memory."""
        return self._shared.degraded

    async def _on_store(self, operation: Callable[[HealthStore], Awaitable[T]]) -> T:
        return await self._shared.run(
            lambda: operation(self._redis_store), lambda: operation(self._memory_store)
        )

    async def available(self, gateways: Iterable[str]) -> set[str]:
        """Closed circuits, and half-open ones whose probe this caller takes."""
        names = list(gateways)

        async def find(store: HealthStore) -> set[str]:
            found = set()
            for name in names:
                is_open, tripped = await store.circuit(name)
                if not is_open and (not tripped or await store.take_probe(name)):
                    found.add(name)
            return found

        return await self._on_store(find)

    async def record_success(self, gateway: str, seconds: float = 0.0) -> bool:
        """Count a success; True for the one caller whose success closed the circuit."""

        async def record(store: HealthStore) -> bool:
            await store.count(gateway, "ok", round(seconds * 1000))
            return await store.close(gateway)

        return await self._on_store(record)

    async def record_failure(self, gateway: str, seconds: float = 0.0) -> bool:
        """Count a failure; True for the one caller whose failure opened a closed circuit
        (a half-open probe that fails reopens it without another transition)."""

        async def record(store: HealthStore) -> bool:
            await store.count(gateway, "fail", round(seconds * 1000))
            failures, half_open = await store.add_failure(gateway)
            if failures < self._threshold and not half_open:
                stats = _stats(await store.buckets(gateway))
                if not self._failing(stats):
                    return False
            return await store.open(gateway, self._open_seconds)

        return await self._on_store(record)

    def _failing(self, stats: WindowStats) -> bool:
        return stats.calls >= self._window_min_calls and stats.failure_rate >= FAILURE_RATE_TO_OPEN

    async def window(self, gateway: str) -> WindowStats:
        async def read(store: HealthStore) -> WindowStats:
            return _stats(await store.buckets(gateway))

        return await self._on_store(read)

    async def circuit_state(self, gateway: str) -> str:
        """``open``, ``half-open`` (tripped, waiting for a probe to succeed) or ``closed``:
        what the next caller finds, changing nothing."""

        async def read(store: HealthStore) -> str:
            is_open, tripped = await store.circuit(gateway)
            return "open" if is_open else "half-open" if tripped else "closed"

        return await self._on_store(read)

    async def seen(self, gateways: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Each gateway's last minute, for the routing record."""
        return {gateway: (await self.window(gateway)).as_record() for gateway in gateways}


def _stats(buckets: list[tuple[int, int, int]]) -> WindowStats:
    ok, failed, total_ms = (sum(bucket[i] for bucket in buckets) for i in range(3))
    return WindowStats(calls=ok + failed, failures=failed, total_ms=total_ms)
