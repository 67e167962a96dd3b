"""The use cases on the in-memory unit of work (tests/unit/fakes.py): what each one
stores, which events it writes in the same unit, and what it refuses without writing
anything. PostgreSQL-only behaviour (locks, versions, commits) is in tests/integration."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.db.models import PaymentIntent
from app.domain.caller import Caller
from app.domain.errors import IllegalTransition, InvalidRequest, NotFound
from app.domain.events import EventType
from app.domain.ids import new_id
from app.domain.intents import IntentStatus, RefundStatus
from app.ledger.service import post_charge
from app.payments.intents import IntentPolicy, cancel_intent, create_intent, request_capture
from app.payments.schemas import CancelPaymentIntent, CapturePaymentIntent, CreatePaymentIntent
from app.refunds.schemas import CreateRefund
from app.refunds.service import create_refund
from app.security import DocumentCipher
from app.webhooks.schemas import CreateWebhookEndpoint
from app.webhooks.service import EndpointPolicy, TooManyEndpoints, create_endpoint
from tests.services import TEST_DOCUMENT_KEY
from tests.unit.fakes import FakeUnitOfWork

CALLER = Caller(merchant_id="mer_a", livemode=False, api_key_id="key_a")
OTHER = Caller(merchant_id="mer_b", livemode=False, api_key_id="key_b")
CIPHER = DocumentCipher(base64.b64decode(TEST_DOCUMENT_KEY))
POLICY = IntentPolicy(max_amount=100_000, pix_default_expires_in_seconds=3600)
ENDPOINTS = EndpointPolicy(
    cipher=CIPHER,
    allow_private_urls_in_test=True,
    secret_overlap=timedelta(hours=24),
    max_endpoints_per_merchant=2,
)


def pix_command(**changes: Any) -> CreatePaymentIntent:
    body: dict[str, Any] = {
        "amount": 1990,
        "currency": "BRL",
        "payment_method": {
            "type": "pix",
            "pix": {"payer": {"name": "Maria Silva", "document": "529.982.247-25"}},
        },
    }
    return CreatePaymentIntent.model_validate(body | changes)


def stored_intent(uow: FakeUnitOfWork, status: IntentStatus, **values: Any) -> PaymentIntent:
    columns: dict[str, Any] = {
        "id": new_id("pi"),
        "merchant_id": CALLER.merchant_id,
        "livemode": False,
        "amount": 1990,
        "currency": "BRL",
        "status": status,
        "capture_method": "manual",
        "method_type": "card",
        "metadata_": {},
        "amount_capturable": 0,
        "amount_received": 0,
        "amount_refunded": 0,
        "sequence": 3,
        "created_at": datetime.now(UTC),
    }
    intent = PaymentIntent(**columns | values)
    uow.intents.add(intent)
    return intent


async def test_create_intent_stores_a_pending_pix_intent_and_its_created_event() -> None:
    uow = FakeUnitOfWork()
    intent = await create_intent(uow, CALLER, pix_command(), POLICY, CIPHER)
    assert uow.intents.rows == {intent.id: intent}
    assert intent.status == IntentStatus.PENDING
    assert intent.payer_document_masked == "***.982.247-**"
    sealed = intent.payer_document_encrypted
    assert sealed is not None
    assert CIPHER.decrypt(sealed, merchant_id=CALLER.merchant_id) == "52998224725"
    [event] = uow.outbox.events
    assert event.event_type is EventType.PAYMENT_INTENT_CREATED
    assert (event.aggregate.type, event.aggregate.id, event.aggregate.sequence) == (
        "payment_intent",
        intent.id,
        1,
    )
    assert event.data_object["payment_method"]["pix"]["payer"]["document"] == "***.982.247-**"
    assert uow.commits == 0  # the caller commits: the route, once the answer is stored


async def test_create_intent_refuses_an_amount_over_the_policy_and_writes_nothing() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(InvalidRequest) as refused:
        await create_intent(uow, CALLER, pix_command(amount=100_001), POLICY, CIPHER)
    assert refused.value.code == "amount_too_large"
    assert uow.intents.rows == {}
    assert uow.outbox.events == []


async def test_cancel_ends_a_pending_intent_with_its_event() -> None:
    uow = FakeUnitOfWork()
    intent = stored_intent(uow, IntentStatus.PENDING)
    await cancel_intent(uow, CALLER, intent.id, CancelPaymentIntent(cancellation_reason=None))
    assert intent.status == IntentStatus.CANCELED
    assert intent.cancellation_reason == "requested_by_customer"
    assert uow.outbox.types() == [EventType.PAYMENT_INTENT_CANCELED]
    assert uow.outbox.events[0].aggregate.sequence == 4


async def test_cancel_refuses_a_succeeded_intent_and_another_merchants() -> None:
    uow = FakeUnitOfWork()
    intent = stored_intent(uow, IntentStatus.SUCCEEDED)
    with pytest.raises(IllegalTransition):
        await cancel_intent(uow, CALLER, intent.id, CancelPaymentIntent())
    with pytest.raises(NotFound):
        await cancel_intent(uow, OTHER, intent.id, CancelPaymentIntent())
    assert intent.status == IntentStatus.SUCCEEDED
    assert uow.outbox.events == []


async def test_capture_request_asks_for_part_of_an_authorization() -> None:
    uow = FakeUnitOfWork()
    intent = stored_intent(uow, IntentStatus.REQUIRES_CAPTURE, amount_capturable=1990)
    await request_capture(uow, CALLER, intent.id, CapturePaymentIntent(amount_to_capture=600))
    assert intent.status == IntentStatus.PROCESSING
    assert (intent.amount_capturable, intent.amount_to_capture) == (600, 600)
    assert uow.outbox.types() == [EventType.PAYMENT_INTENT_CAPTURE_REQUESTED]


async def test_capture_request_refuses_more_than_was_authorized_or_a_pending_intent() -> None:
    uow = FakeUnitOfWork()
    intent = stored_intent(uow, IntentStatus.REQUIRES_CAPTURE, amount_capturable=1990)
    with pytest.raises(InvalidRequest) as refused:
        await request_capture(uow, CALLER, intent.id, CapturePaymentIntent(amount_to_capture=2000))
    assert refused.value.param == "amount_to_capture"
    pending = stored_intent(FakeUnitOfWork(), IntentStatus.PENDING)
    uow.intents.add(pending)
    with pytest.raises(IllegalTransition):
        await request_capture(uow, CALLER, pending.id, CapturePaymentIntent())
    assert uow.outbox.events == []


async def paid_intent(uow: FakeUnitOfWork, **values: Any) -> PaymentIntent:
    """A succeeded intent whose charge the ledger posted, as apply_charge does."""
    intent = stored_intent(uow, IntentStatus.SUCCEEDED, amount_received=1990, **values)
    await post_charge(uow, intent, "mercadopago", datetime.now(UTC))
    return intent


async def test_create_refund_reserves_the_amount_on_the_intent() -> None:
    uow = FakeUnitOfWork()
    intent = await paid_intent(uow)
    refund = await create_refund(uow, CALLER, CreateRefund(payment_intent=intent.id, amount=500))
    assert refund.status == RefundStatus.PENDING
    assert (refund.amount, refund.currency, refund.payment_intent_id) == (500, "BRL", intent.id)
    assert uow.refunds.rows == {refund.id: refund}
    assert intent.amount_refunded == 500
    assert uow.outbox.types() == [
        EventType.REFUND_CREATED,
        EventType.PAYMENT_INTENT_AMOUNT_REFUNDED_UPDATED,
    ]
    assert uow.outbox.events[0].data_object["amount"] == 500


async def test_create_refund_refuses_more_than_is_left_and_unpaid_intents() -> None:
    uow = FakeUnitOfWork()
    paid = await paid_intent(uow, amount_refunded=1500)
    with pytest.raises(InvalidRequest) as refused:
        await create_refund(uow, CALLER, CreateRefund(payment_intent=paid.id, amount=500))
    assert refused.value.code == "amount_too_large"
    with pytest.raises(NotFound) as missing:
        await create_refund(uow, OTHER, CreateRefund(payment_intent=paid.id))
    assert missing.value.param == "payment_intent"
    paid.status = IntentStatus.PROCESSING
    with pytest.raises(IllegalTransition):
        await create_refund(uow, CALLER, CreateRefund(payment_intent=paid.id))
    assert paid.amount_refunded == 1500
    assert uow.refunds.rows == {}
    assert uow.outbox.events == []


async def test_webhook_endpoint_create_gives_the_secret_once_and_stores_it_sealed() -> None:
    uow = FakeUnitOfWork()
    command = CreateWebhookEndpoint(
        url="http://127.0.0.1:9000/hooks",
        enabled_events=["refund.created", "payment_intent.succeeded", "refund.created"],
    )
    endpoint, secret = await create_endpoint(uow, CALLER, command, ENDPOINTS)
    assert secret.startswith("whsec_")
    assert uow.webhooks.endpoints == {endpoint.id: endpoint}
    assert endpoint.enabled_events == ["payment_intent.succeeded", "refund.created"]
    assert CIPHER.decrypt(endpoint.secret_sealed, merchant_id=CALLER.merchant_id) == secret
    assert uow.flushes == 1


async def test_webhook_endpoint_create_refuses_unknown_events_and_one_over_the_limit() -> None:
    uow = FakeUnitOfWork()
    url = "http://127.0.0.1:9000/hooks"
    with pytest.raises(InvalidRequest) as refused:
        await create_endpoint(
            uow, CALLER, CreateWebhookEndpoint(url=url, enabled_events=["nope"]), ENDPOINTS
        )
    assert refused.value.param == "enabled_events"
    for _ in range(ENDPOINTS.max_endpoints_per_merchant):
        await create_endpoint(
            uow, CALLER, CreateWebhookEndpoint(url=url, enabled_events=["*"]), ENDPOINTS
        )
    with pytest.raises(TooManyEndpoints):
        await create_endpoint(
            uow, CALLER, CreateWebhookEndpoint(url=url, enabled_events=["*"]), ENDPOINTS
        )
    assert len(uow.webhooks.endpoints) == ENDPOINTS.max_endpoints_per_merchant
