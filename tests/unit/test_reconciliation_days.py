"""What a reconciliation day is: a calendar day in Brasília time, and the daily job's
last closed day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.reconciliation.jobs import last_closed_day
from app.reconciliation.service import day_window


def test_a_day_runs_from_midnight_to_midnight_in_brasilia_read_with_the_tolerance() -> None:
    window = day_window(date(2026, 12, 1))
    assert window.start == datetime(2026, 12, 1, 3, tzinfo=UTC)
    assert window.end == datetime(2026, 12, 2, 3, tzinfo=UTC)
    assert window.read_start == datetime(2026, 12, 1, 1, tzinfo=UTC)
    assert window.read_end == datetime(2026, 12, 2, 5, tzinfo=UTC)
    assert day_window(date(2026, 12, 1), timedelta(0)).read_end == window.end


def test_the_job_takes_yesterday_once_its_window_has_closed_and_settled() -> None:
    # 02:59 in Brasília: yesterday's window (to 02:00) closed under an hour ago.
    assert last_closed_day(datetime(2026, 12, 2, 5, 59, tzinfo=UTC)) == date(2026, 11, 30)
    assert last_closed_day(datetime(2026, 12, 2, 6, 0, tzinfo=UTC)) == date(2026, 12, 1)
    assert last_closed_day(datetime(2026, 12, 3, 2, 59, tzinfo=UTC)) == date(2026, 12, 1)
