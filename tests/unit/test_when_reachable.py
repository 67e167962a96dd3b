"""Start-up lookups wait out an unreachable AWS, but not an answer from it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from app.roles import when_reachable

QUICK = 0.001  # seconds before the first retry; it doubles from there
ARN = "arn:aws:sns:us-east-1:000000000000:pixwave-events"


class FlakyLookup:
    """Unreachable for the first `failures` calls, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")
        return ARN


def wait_for(
    lookup: Callable[[], Awaitable[str]], *, stop_after: float | None = None
) -> str | None:
    async def run() -> str | None:
        stop = asyncio.Event()
        if stop_after is not None:
            asyncio.get_running_loop().call_later(stop_after, stop.set)
        return await when_reachable(lookup, stop, role="relay", first_delay=QUICK)

    return asyncio.run(run())


def test_an_outage_at_start_is_waited_out() -> None:
    lookup = FlakyLookup(failures=3)
    assert wait_for(lookup) == ARN
    assert lookup.calls == 4


def test_stopping_ends_the_wait_with_nothing() -> None:
    assert wait_for(FlakyLookup(failures=10**6), stop_after=0.05) is None


def test_an_answer_from_aws_is_not_retried() -> None:
    async def no_such_queue() -> str:
        raise ClientError({"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue"}}, "Get")

    with pytest.raises(ClientError):
        wait_for(no_such_queue)
