"""Risk rule evaluation per intent with the default set: the rules without I/O, and the
whole screening step the API takes once the rules are loaded (rules + the velocity
check-and-count, one Lua script call to Redis). Reports p50/p99 wall time and CPU ms
per evaluation; results go to bench/results/ as JSON. The rules' and the first-payment
reads from PostgreSQL are part of create-intent (bench/api.py) and not counted here.

    python -m tests.services python bench/risk.py            # embedded Redis
    PIXWAVE_REDIS_URL=redis://… python bench/risk.py --intents 20000

The target (issue 18) is a p99 of 2 ms or less per intent with the default set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# `python bench/risk.py` puts bench/, not the root, on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain.ids import new_id
from app.domain.intents import PaymentMethodType
from app.redis_fallback import RedisOrMemory, open_redis
from app.risk.evaluation import (
    Assessment,
    IntentFacts,
    static_verdict,
    velocity_checks,
    velocity_reasons,
)
from app.risk.fingerprints import Fingerprints
from app.risk.rules import default_rules
from app.risk.velocity import VelocityStore
from bench.common import ROOT, percentile_ms, write_result

DEFAULT_INTENTS = 5000
# Distinct payers the intents come from: each one's windows hold a few intents, as a
# busy merchant's would.
DEFAULT_PAYERS = 5000
FINGERPRINTS = Fingerprints(b"bench-risk-key-0123456789abcdef!")


def _facts(merchant_id: str, number: int, payers: int) -> IntentFacts:
    card = number % 2 == 1
    payer = number % payers
    return IntentFacts(
        merchant_id=merchant_id,
        amount=1000 + number % 5000,
        method=PaymentMethodType.CARD if card else PaymentMethodType.PIX,
        payer_fingerprint=None if card else FINGERPRINTS.document(f"{payer:011d}"),
        card_fingerprint=FINGERPRINTS.card("visa", "310", f"{payer % 10_000:04d}")
        if card
        else None,
        client_ip=f"203.0.113.{payer % 250}",
        email_domain="example.com",
    )


def _summary(wall: list[float], cpu_seconds: float) -> dict[str, Any]:
    return {
        "evaluations": len(wall),
        "p50_ms": percentile_ms(wall, 0.50),
        "p99_ms": percentile_ms(wall, 0.99),
        "max_ms": percentile_ms(wall, 1.0),
        "cpu_ms_per_evaluation": round(cpu_seconds * 1000 / len(wall), 4),
    }


def measure_rules_only(count: int, payers: int) -> dict[str, Any]:
    rules = default_rules()
    merchant_id = new_id("mer")
    wall = []
    cpu_started = time.process_time()
    for number in range(count):
        facts = _facts(merchant_id, number, payers)
        started = time.perf_counter()
        verdict = static_verdict(rules, facts)
        checks = velocity_checks(rules, facts)
        Assessment.of(verdict.reasons + velocity_reasons(checks, [False] * len(checks)))
        wall.append(time.perf_counter() - started)
    return _summary(wall, time.process_time() - cpu_started)


async def measure_with_velocity(redis_url: str, count: int, payers: int) -> dict[str, Any]:
    rules = default_rules()
    merchant_id = new_id("mer")
    client = open_redis(redis_url)
    store = VelocityStore(client, "bench", RedisOrMemory("risk_bench"))
    wall = []
    decisions: dict[str, int] = {}
    cpu_started = time.process_time()
    try:
        for number in range(count):
            facts = _facts(merchant_id, number, payers)
            started = time.perf_counter()
            verdict = static_verdict(rules, facts)
            checks = velocity_checks(rules, facts)
            matched = await store.check_and_count(merchant_id, new_id("pi"), facts.amount, checks)
            decision = Assessment.of(verdict.reasons + velocity_reasons(checks, matched)).decision
            wall.append(time.perf_counter() - started)
            decisions[decision.value] = decisions.get(decision.value, 0) + 1
        if store.degraded:
            raise SystemExit(f"Redis at {redis_url} did not answer")
    finally:
        await client.aclose()
    return {**_summary(wall, time.process_time() - cpu_started), "decisions": decisions}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intents", type=int, default=DEFAULT_INTENTS)
    parser.add_argument("--payers", type=int, default=DEFAULT_PAYERS)
    parser.add_argument("--redis-url", default=os.environ.get("PIXWAVE_REDIS_URL"))
    parser.add_argument("--output", type=Path, help="write the JSON here instead")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.redis_url is None:
        print("error: set PIXWAVE_REDIS_URL (or run under tests.services)", file=sys.stderr)
        return 2
    started_at = datetime.now(UTC)
    result = {
        "benchmark": "risk.evaluate",
        "started_at": started_at.isoformat(),
        "rules": [rule.id for rule in default_rules()],
        "payers": args.payers,
        "phases": {
            "rules_only": measure_rules_only(args.intents, args.payers),
            "rules_and_velocity": asyncio.run(
                measure_with_velocity(args.redis_url, args.intents, args.payers)
            ),
        },
    }
    if args.output is not None:
        args.output.write_text(json.dumps(result, indent=2))
        return 0
    path = write_result("risk", started_at, result)
    print(path.read_text())
    print(f"written to {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
