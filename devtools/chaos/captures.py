"""Manual-capture card intents in the chaos run: each is captured the moment it is
authorized (every other one partly) while the simulator resends its notifications,
whose re-fetches may still show the authorization. A capture answered 200 must end
captured with the amount asked, and no intent may move backwards."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx

from app.domain.events import EventType
from devtools.demo.driver import SIM_ADMIN_TIMEOUT_SECONDS, TEST_CARD_TOKEN, call_api

CARD_AMOUNT = 4000  # centavos; each intent adds its number so amounts differ
AUTHORIZE_TIMEOUT_SECONDS = 120.0
# A merchant waiting at a checkout polls a few times a second; the chaos process also
# serves the webhook receiver, so its pollers must not starve it.
POLL_SECONDS = 0.25
# A capture refused with 409 (a concurrent update, or the key in flight) stored nothing:
# the merchant sends it again, under the same Idempotency-Key.
CAPTURE_TRIES = 20
CAPTURE_RETRY_SECONDS = 0.25
RESENDS_PER_CAPTURE = 2
_E = EventType
# How far along an intent is; its events never go to a lower stage.
EVENT_STAGE: dict[str, int] = {
    _E.PAYMENT_INTENT_CREATED.value: 0,
    _E.PAYMENT_INTENT_PROCESSING.value: 1,
    _E.PAYMENT_INTENT_REQUIRES_ACTION.value: 2,
    _E.PAYMENT_INTENT_AMOUNT_CAPTURABLE_UPDATED.value: 2,
    _E.PAYMENT_INTENT_CAPTURE_REQUESTED.value: 3,
    _E.PAYMENT_INTENT_SUCCEEDED.value: 4,
    _E.PAYMENT_INTENT_PAYMENT_FAILED.value: 4,
    _E.PAYMENT_INTENT_CANCELED.value: 4,
}
ENDED_STAGE = 4


@dataclass(slots=True)
class CaptureRun:
    id: str
    requested: int
    captured: bool = False  # the capture was answered 200


async def capture_intents(
    api: httpx.AsyncClient, sim_url: str, count: int, within_seconds: float
) -> list[CaptureRun]:
    """Create ``count`` manual-capture card intents spread over ``within_seconds`` and
    capture each as soon as it is authorized."""
    begin = time.monotonic()
    spacing = within_seconds / count

    async def one(number: int) -> CaptureRun:
        await asyncio.sleep(max(0.0, begin + number * spacing - time.monotonic()))
        return await _authorize_and_capture(api, sim_url, number)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def _authorize_and_capture(api: httpx.AsyncClient, sim_url: str, number: int) -> CaptureRun:
    amount = CARD_AMOUNT + number
    body = {
        "amount": amount,
        "currency": "BRL",
        "capture_method": "manual",
        "payment_method": {"type": "card", "card": {"token": TEST_CARD_TOKEN}},
    }
    key = {"Idempotency-Key": f"chaos-card-{uuid.uuid4()}"}
    intent = await call_api(api, "POST", "/v1/payment_intents", json=body, headers=key)
    run = CaptureRun(intent["id"], requested=amount // 2 if number % 2 == 0 else amount)
    reference = await _authorized_reference(api, run.id)
    if reference is not None:
        capture = asyncio.create_task(_capture(api, run))
        await asyncio.gather(*(_resend(sim_url, reference) for _ in range(RESENDS_PER_CAPTURE)))
        run.captured = await capture
    return run


async def _authorized_reference(api: httpx.AsyncClient, intent_id: str) -> str | None:
    """The charge's reference once the intent is in requires_capture; None if it ended
    instead (a card fails while the only card gateway is down)."""
    deadline = time.monotonic() + AUTHORIZE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        intent = await call_api(api, "GET", f"/v1/payment_intents/{intent_id}")
        if intent["status"] == "requires_capture":
            attempts = await call_api(api, "GET", f"/v1/payment_intents/{intent_id}/attempts")
            return str(attempts["data"][-1]["gateway_reference"])
        if intent["status"] in ("failed", "canceled"):
            return None
        await asyncio.sleep(POLL_SECONDS)
    return None


async def _capture(api: httpx.AsyncClient, run: CaptureRun) -> bool:
    path = f"/v1/payment_intents/{run.id}/capture"
    headers = {"Idempotency-Key": f"chaos-capture-{run.id}"}
    for _ in range(CAPTURE_TRIES):
        try:
            response = await api.post(
                path, json={"amount_to_capture": run.requested}, headers=headers
            )
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code != HTTPStatus.CONFLICT:
            return response.status_code == HTTPStatus.OK
        await asyncio.sleep(CAPTURE_RETRY_SECONDS)
    return False


async def _resend(sim_url: str, reference: str) -> None:
    """The simulator sends the charge's last notification again, byte for byte (a 404
    means it has sent none yet: nothing to resend). A nudge, not a step: if the
    simulator does not answer in time it may or may not have resent, and the run goes
    on either way."""
    async with httpx.AsyncClient(timeout=SIM_ADMIN_TIMEOUT_SECONDS) as sim:
        with suppress(httpx.TransportError):
            await sim.post(f"{sim_url}/_sim/callbacks/mercadopago/{reference}/resend")


def capture_violations(
    runs: list[CaptureRun],
    intents: dict[str, tuple[str, int]],
    approved: dict[str, list[int]],
) -> list[str]:
    """Every capture answered 200 ended succeeded with the amount asked, and the gateway
    took exactly that. ``intents``: id → (status, amount_received); ``approved``: id →
    the amounts of its approved charges at the gateway."""
    problems = []
    for run in (r for r in runs if r.captured):
        status, received = intents[run.id]
        if (status, received) != ("succeeded", run.requested):
            problems.append(
                f"{run.id}: capture of {run.requested} answered 200, but it is {status} "
                f"with {received} received"
            )
        if approved.get(run.id, []) != [run.requested]:
            problems.append(
                f"{run.id}: capture of {run.requested} answered 200, but the gateway "
                f"took {approved.get(run.id, [])}"
            )
    return problems


def moved_backwards(events: list[tuple[str, str]]) -> list[str]:
    """Intents whose events (id, type, in order) went back a stage or ended twice."""
    stage: dict[str, int] = {}
    ended: Counter[str] = Counter()
    problems = []
    for intent_id, event_type in events:
        now = EVENT_STAGE.get(event_type)
        if now is None:
            continue
        if now < stage.get(intent_id, 0):
            problems.append(f"{intent_id} went back to {event_type}")
        stage[intent_id] = max(now, stage.get(intent_id, 0))
        ended[intent_id] += now == ENDED_STAGE
    problems += [f"{i} ended {n} times" for i, n in ended.items() if n > 1]
    return problems


def event_order(db: Any, ids: list[str]) -> list[tuple[str, str]]:
    rows = db.execute(
        "SELECT aggregate_id, event_type FROM outbox WHERE aggregate_id = ANY(%s) "
        "ORDER BY aggregate_id, aggregate_sequence, position",
        (ids,),
    ).fetchall()
    return [(str(intent_id), str(event_type)) for intent_id, event_type in rows]
