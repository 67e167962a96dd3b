"""Inbox rows must outlive every copy of their message, or a late delivery runs twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from app.scheduler.service import check_inbox_retention
from app.settings import INBOX_MIN_RETENTION_DAYS, Settings
from outbox.topology import declare


@pytest.mark.parametrize("fifo", [False, True])
def test_the_shortest_inbox_retention_allowed_outlives_queue_and_dlq(fifo: bool) -> None:
    topology = declare(fifo=fifo)
    check_inbox_retention(timedelta(days=INBOX_MIN_RETENTION_DAYS), topology)
    assert Settings(inbox_retention_days=INBOX_MIN_RETENTION_DAYS).inbox_retention_days == 19
    with pytest.raises(ValidationError):
        Settings(inbox_retention_days=INBOX_MIN_RETENTION_DAYS - 1)


def test_a_retention_within_a_messages_life_is_refused() -> None:
    queue_and_dlq = timedelta(seconds=declare().longest_message_life_seconds)
    assert queue_and_dlq == timedelta(days=18)
    with pytest.raises(ValueError, match="must exceed 18 days"):
        check_inbox_retention(queue_and_dlq, declare())
