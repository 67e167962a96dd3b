"""What each operator alert says: a Subject SNS accepts, a one-line summary, the facts."""

from __future__ import annotations

import pytest

from app.domain.alerts import MAX_SUBJECT_CHARS, alert, subject_line
from app.domain.events import EventType, Topic, topic_for

# Every fact any alert names, so each type can be built.
FACTS = {
    "gateway": "efi",
    "error": "ConnectError: refused",
    "open_seconds": 30,
    "payment_intent": "pi_01",
    "amount": 1990,
    "currency": "BRL",
    "reason": "the gateway said no\nat all",
    "event_id": "evt_01",
    "event_type": "payment_intent.created",
    "status": "processing",
    "checks": 5,
    "refund_reference": "D123",
    "webhook_endpoint": "we_01",
    "url": "https://shop.example/hooks",
    "merchant": "mer_01",
    "day": "2026-12-01",
    "run": "rec_01",
    "unmatched": 2,
    "missing_ours": 1,
    "missing_theirs": 1,
    "amount_mismatch": 0,
    "duplicates": 0,
    "difference": 500,
}
ALERTS = [t for t in EventType if topic_for(t) is Topic.ALERTS]


@pytest.mark.parametrize("event_type", ALERTS, ids=str)
def test_every_alert_has_a_subject_a_summary_and_its_facts(event_type: EventType) -> None:
    built = alert(event_type, "pi_01", FACTS)
    assert built.aggregate_id == "alr_pi_01"
    assert built.subject.startswith("PixWave: ")
    assert len(built.subject) <= MAX_SUBJECT_CHARS
    summary = built.data_object["summary"]
    assert "\n" not in summary
    assert summary[0].isupper()
    assert built.data_object.items() >= FACTS.items()


def test_the_circuit_alert_says_what_failed_and_what_it_cost() -> None:
    summary = alert(EventType.ALERT_GATEWAY_CIRCUIT_OPENED, "gateway_efi", FACTS).summary
    assert "ConnectError: refused" in summary
    assert "19.90 BRL" in summary
    assert "pi_01" in summary


def test_the_reconciliation_alert_names_the_day_and_says_failed_or_what_disagrees() -> None:
    unmatched = alert(EventType.ALERT_RECONCILIATION_UNMATCHED, "reconciliation_efi", FACTS)
    failed = alert(
        EventType.ALERT_RECONCILIATION_UNMATCHED, "reconciliation_efi", FACTS | {"status": "failed"}
    )
    assert unmatched.subject == "PixWave: reconciliation of efi 2026-12-01: 2 unmatched"
    assert "1 missing on our side" in unmatched.summary
    assert "pixwave reconcile show rec_01" in unmatched.summary
    assert failed.subject == "PixWave: reconciliation of efi 2026-12-01 FAILED"
    assert "ConnectError: refused" in failed.summary


def test_a_subject_is_one_printable_ascii_line_shorter_than_100() -> None:
    line = subject_line("pagamento não\nconfirmado " + "x" * 200)
    assert len(line) == MAX_SUBJECT_CHARS
    assert line.isascii()
    assert line.isprintable()
    assert line.endswith("~")
