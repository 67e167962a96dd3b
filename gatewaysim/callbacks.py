"""Sending gateway callbacks in the background, retried, each outcome kept for the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

import httpx
from loguru import logger

from gatewaysim.errors import admin_error
from gatewaysim.gateways import Gateway
from gatewaysim.tasks import Spawner

CALLBACK_TIMEOUT_SECONDS = 5.0
# Callbacks in flight at once; the rest wait their turn outside the connection pool.
# httpcore hands a freed connection to its queued requests in a scan over all of them,
# so thousands queued there (a 2,000-intent chaos run, the API slow to answer) took the
# simulator's whole CPU, and each wait past the timeout was spent as a failed attempt.
CALLBACK_CONCURRENCY = 50


@dataclass(frozen=True)
class Callback:
    """One request exactly as sent, so a resend can replay it byte for byte."""

    gateway: Gateway
    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Delivery:
    gateway: Gateway
    url: str
    status_code: int | None = None
    attempts: int = 0


class CallbackSender:
    def __init__(self, spawner: Spawner, *, attempts: int, retry_seconds: float) -> None:
        self._spawner = spawner
        self._attempts = attempts
        self._retry_seconds = retry_seconds
        self._client = httpx.AsyncClient(
            timeout=CALLBACK_TIMEOUT_SECONDS,
            limits=httpx.Limits(max_connections=CALLBACK_CONCURRENCY),
        )
        self._room = asyncio.Semaphore(CALLBACK_CONCURRENCY)
        self._last: dict[tuple[Gateway, str], Callback] = {}
        self._history: dict[tuple[Gateway, str], list[Callback]] = {}
        self.deliveries: list[Delivery] = []

    def send(self, callback: Callback, references: Iterable[str]) -> None:
        """Deliver in the background; remember it as the last callback of each reference."""
        for reference in references:
            self._last[(callback.gateway, reference)] = callback
            self._history.setdefault((callback.gateway, reference), []).append(callback)
        delivery = Delivery(callback.gateway, callback.url)
        self.deliveries.append(delivery)
        self._spawner.spawn(self._deliver(callback, delivery))

    def last(self, gateway: Gateway, reference: str) -> Callback:
        """The last callback sent about ``reference``, for a resend."""
        callback = self._last.get((gateway, reference))
        if callback is None:
            raise admin_error(
                HTTPStatus.NOT_FOUND, f"no {gateway} callback was sent for {reference}"
            )
        return callback

    def nth(self, gateway: Gateway, reference: str, index: int) -> Callback:
        """The ``index``-th callback sent about ``reference`` (0: the first), for a resend
        out of order."""
        sent = self._history.get((gateway, reference), [])
        if not 0 <= index < len(sent):
            raise admin_error(
                HTTPStatus.NOT_FOUND, f"{gateway} sent {len(sent)} callbacks for {reference}"
            )
        return sent[index]

    async def call_once(self, callback: Callback) -> int | None:
        """POST now, without retries, and say what the receiver answered (None: it could
        not be reached): a gateway checking a URL before it takes it."""
        return await self._post(callback)

    def clear(self) -> None:
        self._last.clear()
        self._history.clear()
        self.deliveries.clear()

    async def close(self) -> None:
        await self._client.aclose()

    async def _deliver(self, callback: Callback, delivery: Delivery) -> None:
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                await asyncio.sleep(self._retry_seconds)
            delivery.status_code = await self._post(callback)
            delivery.attempts = attempt  # counted once answered (or failed), not before
            if delivery.status_code is not None and _succeeded(delivery.status_code):
                return

    async def _post(self, callback: Callback) -> int | None:
        """The status code the receiver answered, or None when it could not be reached."""
        try:
            async with self._room:
                response = await self._client.post(
                    callback.url, content=callback.body, headers=dict(callback.headers)
                )
        except httpx.HTTPError as exc:
            logger.warning(
                "sim.callback_failed", gateway=callback.gateway, url=callback.url, error=repr(exc)
            )
            return None
        logger.info(
            "sim.callback_sent",
            gateway=callback.gateway,
            url=callback.url,
            status_code=response.status_code,
        )
        return response.status_code


def _succeeded(status_code: int) -> bool:
    return HTTPStatus.OK <= status_code < HTTPStatus.MULTIPLE_CHOICES
