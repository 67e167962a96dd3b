"""Every status each gateway can send, mapped; anything else is unknown, never failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.charges import (
    INTENT_STATUS_FOR_CHARGE,
    AttemptOutcome,
    ChargeStatus,
    attempt_outcome,
)
from app.domain.intents import IntentStatus
from app.gateways.statuses import EFI_COB_STATUSES, MERCADOPAGO_STATUSES, efi_cob_status

C = ChargeStatus

MERCADOPAGO_EXPECTED = {
    "pending": C.AWAITING_PAYMENT,
    "approved": C.PAID,
    "authorized": C.AUTHORIZED,
    "in_process": C.PROCESSING,
    "in_mediation": C.DISPUTED,
    "rejected": C.DECLINED,
    "cancelled": C.CANCELED,
    "refunded": C.REFUNDED,
    "charged_back": C.CHARGED_BACK,
}
EFI_EXPECTED = {
    "ATIVA": C.AWAITING_PAYMENT,
    "CONCLUIDA": C.PAID,
    "REMOVIDA_PELO_USUARIO_RECEBEDOR": C.CANCELED,
    "REMOVIDA_PELO_PSP": C.CANCELED,
}


@pytest.mark.parametrize(("status", "expected"), MERCADOPAGO_EXPECTED.items())
def test_every_mercadopago_status_is_mapped(status: str, expected: ChargeStatus) -> None:
    assert MERCADOPAGO_STATUSES.status_of(status) is expected


@pytest.mark.parametrize(("status", "expected"), EFI_EXPECTED.items())
def test_every_efi_cob_status_is_mapped(status: str, expected: ChargeStatus) -> None:
    assert EFI_COB_STATUSES.status_of(status) is expected


def test_the_tables_hold_exactly_the_documented_statuses() -> None:
    assert set(MERCADOPAGO_STATUSES.by_status) == set(MERCADOPAGO_EXPECTED)
    assert set(EFI_COB_STATUSES.by_status) == set(EFI_EXPECTED)
    assert MERCADOPAGO_STATUSES.version
    assert EFI_COB_STATUSES.version


@pytest.mark.parametrize("table", [MERCADOPAGO_STATUSES, EFI_COB_STATUSES])
@pytest.mark.parametrize("status", ["", "APPROVED", "partially_refunded", "EM_PROCESSAMENTO"])
def test_an_unmapped_status_is_unknown_and_never_a_decline(table: object, status: str) -> None:
    mapped = table.status_of(status)  # type: ignore[attr-defined]
    assert mapped is C.UNKNOWN
    assert attempt_outcome(mapped) is AttemptOutcome.UNKNOWN
    assert mapped not in INTENT_STATUS_FOR_CHARGE


def test_status_details_refine_mercadopago_pending_and_cancelled() -> None:
    # developers/en/docs/checkout-api-payments/response-handling/query-results
    assert MERCADOPAGO_STATUSES.status_of("pending", "pending_waiting_transfer") is (
        C.AWAITING_PAYMENT
    )
    assert MERCADOPAGO_STATUSES.status_of("pending", "pending_challenge") is C.PROCESSING
    assert MERCADOPAGO_STATUSES.status_of("in_process", "pending_contingency") is C.PROCESSING
    assert MERCADOPAGO_STATUSES.status_of("approved", "partially_refunded") is C.PAID
    assert MERCADOPAGO_STATUSES.status_of("in_mediation") is C.DISPUTED
    assert MERCADOPAGO_STATUSES.status_of("charged_back", "settled") is C.CHARGED_BACK
    assert MERCADOPAGO_STATUSES.status_of("cancelled", "expired") is C.EXPIRED
    assert MERCADOPAGO_STATUSES.status_of("cancelled", "by_collector") is C.CANCELED


def test_an_active_cob_past_its_expiry_counts_as_expired() -> None:
    created = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    before = created + timedelta(seconds=3599)
    after = created + timedelta(seconds=3600)
    assert efi_cob_status("ATIVA", created_at=created, expires_in_seconds=3600, now=before) is (
        C.AWAITING_PAYMENT
    )
    assert efi_cob_status("ATIVA", created_at=created, expires_in_seconds=3600, now=after) is (
        C.EXPIRED
    )
    # A paid cob stays paid however late someone looks at it.
    assert efi_cob_status("CONCLUIDA", created_at=created, expires_in_seconds=1, now=after) is (
        C.PAID
    )


def test_every_charge_status_has_an_attempt_outcome() -> None:
    outcomes = {status: attempt_outcome(status) for status in ChargeStatus}
    assert outcomes[C.PAID] is AttemptOutcome.SUCCEEDED
    assert outcomes[C.DECLINED] is AttemptOutcome.DECLINED
    assert outcomes[C.PROCESSING] is AttemptOutcome.UNKNOWN


def test_charges_move_intents_only_to_known_places() -> None:
    assert INTENT_STATUS_FOR_CHARGE == {
        C.AWAITING_PAYMENT: IntentStatus.REQUIRES_ACTION,
        C.AUTHORIZED: IntentStatus.REQUIRES_CAPTURE,
        C.PAID: IntentStatus.SUCCEEDED,
        C.DECLINED: IntentStatus.FAILED,
    }
