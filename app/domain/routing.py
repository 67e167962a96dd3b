"""Choosing the gateway for the next try (no I/O): priority, method support,
health, and at most MAX_TRIES_PER_GATEWAY tries at each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

MAX_TRIES_PER_GATEWAY = 3
FIRST_CHOICE = "first in priority order"
FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    gateway: str | None  # None: nobody to try now
    exhausted: bool  # True: nobody will ever be left; the intent fails
    reason: str
    skipped: dict[str, str] = field(default_factory=dict)  # gateway → why not
    # What the choice saw: the merchant's order, closed circuits, tries so far.
    candidates: tuple[str, ...] = ()
    healthy: tuple[str, ...] = ()
    tries: dict[str, int] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        return {
            "candidates": list(self.candidates),
            "healthy": list(self.healthy),
            "tries": self.tries,
            "chosen": self.gateway,
            "reason": self.reason,
            "skipped": self.skipped,
        }


def choose_gateway(
    priority: Sequence[str],
    *,
    supports: Set[str],
    available: Set[str],
    tries: Mapping[str, int],
) -> RoutingDecision:
    """The first gateway in priority order that takes the method, has tries left and
    whose circuit is not open."""
    skipped: dict[str, str] = {}
    waiting = False

    def decide(gateway: str | None, exhausted: bool, reason: str) -> RoutingDecision:
        return RoutingDecision(
            gateway,
            exhausted,
            reason,
            skipped,
            candidates=tuple(priority),
            healthy=tuple(g for g in priority if g in available),
            tries={g: tries[g] for g in priority if tries.get(g)},
        )

    for gateway in priority:
        if gateway not in supports:
            skipped[gateway] = "does not take this payment method"
        elif tries.get(gateway, 0) >= MAX_TRIES_PER_GATEWAY:
            skipped[gateway] = f"{MAX_TRIES_PER_GATEWAY} tries used"
        elif gateway not in available:
            skipped[gateway] = "circuit open"
            waiting = True
        else:
            reason = FIRST_CHOICE if not skipped else FALLBACK
            return decide(gateway, False, reason)
    if waiting:
        return decide(None, False, "every remaining gateway is unhealthy")
    return decide(None, True, "every gateway is exhausted")
