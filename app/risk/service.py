"""Risk use cases: a merchant's rules (read, add, delete) and screening an intent at
creation, in the creating request's unit of work, before any gateway is called."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from loguru import logger
from redis.asyncio import Redis

from app.db.models import PaymentIntent
from app.db.risk_models import Review, RiskRule
from app.db.uow import UnitOfWork
from app.domain.alerts import alert
from app.domain.documents import parse_document
from app.domain.errors import InvalidRequest, NotFound
from app.domain.events import EventType
from app.domain.ids import new_id
from app.domain.intents import PaymentMethodType
from app.risk import metrics
from app.risk.evaluation import (
    Assessment,
    IntentFacts,
    Reason,
    VelocityCheck,
    first_payment_reasons,
    static_verdict,
    velocity_checks,
    velocity_reasons,
)
from app.risk.fingerprints import Fingerprints
from app.risk.repository import ReviewRepository, RiskRuleRepository
from app.risk.rules import Decision, ListField, Rule, default_rules
from app.risk.schemas import parse_rule, review_ref, risk_record, rule_record
from app.risk.velocity import VelocityStore
from app.settings import Settings

VELOCITY_ALERT_ABOUT = "risk_velocity"


@dataclass(frozen=True, slots=True)
class RiskScreen:
    """What screening needs of the running process, and who is creating the intent."""

    velocity: VelocityStore
    fingerprints: Fingerprints
    defaults_apply: bool
    client_ip: str | None = None

    @classmethod
    def of(cls, settings: Settings, redis: Redis, client_ip: str | None = None) -> RiskScreen:
        return cls(
            velocity=VelocityStore(redis, settings.name_prefix),
            fingerprints=Fingerprints(settings.document_key_bytes()),
            defaults_apply=settings.risk_default_rules,
            client_ip=client_ip,
        )


@dataclass(frozen=True, slots=True)
class CardSeen:
    brand: str | None
    issuer: str | None
    last4: str | None


async def merchant_rules(
    uow: UnitOfWork, merchant_id: str, *, defaults_apply: bool
) -> tuple[list[Rule], bool]:
    """The rules that screen the merchant's intents, and whether they are the defaults."""
    written = await uow.repository(RiskRuleRepository).written(merchant_id)
    if written is None:
        return (default_rules() if defaults_apply else []), True
    return [parse_rule(row.definition) for row in written], False


async def add_rule(uow: UnitOfWork, screen: RiskScreen, merchant_id: str, body: object) -> Rule:
    """Validate and add a rule; the merchant's first change copies the defaults in, so
    adding a rule never drops them silently (delete those not wanted)."""
    rule = parse_rule(_documents_as_fingerprints(body, screen.fingerprints))
    if rule.id is not None:
        raise InvalidRequest("A new rule's id is given by PixWave.", param="id")
    rule = rule.model_copy(update={"id": new_id("rr")})
    rules = uow.repository(RiskRuleRepository)
    await _start_writing(uow, screen, merchant_id)
    rules.add(RiskRule(merchant_id=merchant_id, id=rule.id, definition=rule_record(rule)))
    await uow.flush()
    return rule


async def delete_rule(uow: UnitOfWork, screen: RiskScreen, merchant_id: str, rule_id: str) -> None:
    await _start_writing(uow, screen, merchant_id)
    if not await uow.repository(RiskRuleRepository).delete(merchant_id, rule_id):
        raise NotFound(f"No such risk rule: {rule_id!r}", param="id")


async def _start_writing(uow: UnitOfWork, screen: RiskScreen, merchant_id: str) -> None:
    repository = uow.repository(RiskRuleRepository)
    if await repository.lock_rule_set(merchant_id) and screen.defaults_apply:
        for rule in default_rules():
            assert rule.id is not None
            repository.add(
                RiskRule(merchant_id=merchant_id, id=rule.id, definition=rule_record(rule))
            )
        await uow.flush()


def _documents_as_fingerprints(body: object, fingerprints: Fingerprints) -> object:
    """A list of payer documents is kept as their fingerprints: a CPF or CNPJ given is
    checked and replaced by its ``pd_…`` fingerprint (which intents' ``risk`` show)."""
    if not isinstance(body, dict) or body.get("field") != ListField.PAYER_DOCUMENT.value:
        return body
    values = body.get("values")
    if not isinstance(values, list):
        return body
    converted: list[Any] = []
    for index, value in enumerate(values):
        if isinstance(value, str) and not value.startswith("pd_"):
            try:
                value = fingerprints.document(parse_document(value).number)
            except InvalidRequest as exc:
                raise InvalidRequest(exc.message, param=f"values.{index}", code=exc.code) from exc
        converted.append(value)
    return {**body, "values": converted}


def intent_facts(
    screen: RiskScreen,
    intent: PaymentIntent,
    *,
    document: str | None,
    card: CardSeen | None,
    email: str | None,
) -> IntentFacts:
    card_fingerprint = None
    if card is not None:
        card_fingerprint = screen.fingerprints.card(card.brand, card.issuer, card.last4)
    return IntentFacts(
        merchant_id=intent.merchant_id,
        amount=intent.amount,
        method=PaymentMethodType(intent.method_type),
        payer_fingerprint=None if document is None else screen.fingerprints.document(document),
        card_fingerprint=card_fingerprint,
        client_ip=screen.client_ip,
        email_domain=None if email is None else email.rpartition("@")[2].lower(),
    )


async def screen_intent(
    uow: UnitOfWork, screen: RiskScreen, intent: PaymentIntent, facts: IntentFacts
) -> Assessment:
    """Evaluate the merchant's rules for a new intent and keep the assessment on it."""
    started = time.perf_counter()
    rules, _ = await merchant_rules(uow, intent.merchant_id, defaults_apply=screen.defaults_apply)
    assessment = await _assess(uow, screen, intent, facts, rules)
    intent.payer_fingerprint = facts.payer
    intent.risk = cast(
        dict[str, Any],
        risk_record(assessment, facts.payer_fingerprint, facts.card_fingerprint),
    )
    _observe(assessment, time.perf_counter() - started)
    return assessment


async def _assess(
    uow: UnitOfWork,
    screen: RiskScreen,
    intent: PaymentIntent,
    facts: IntentFacts,
    rules: Sequence[Rule],
) -> Assessment:
    verdict = static_verdict(rules, facts)
    if verdict.allowed is not None:
        return Assessment(Decision.ALLOW, 0, (verdict.allowed,))
    reasons: list[Reason] = list(verdict.reasons)
    payer = facts.payer
    if verdict.first_payment_rules and payer is not None:
        paid_before = await uow.repository(RiskRuleRepository).has_paid_before(
            facts.merchant_id, payer
        )
        if not paid_before:
            reasons += first_payment_reasons(verdict.first_payment_rules, facts.amount)
    if Assessment.of(reasons).decision is Decision.BLOCK:
        return Assessment.of(reasons)  # blocked already: count it in no window
    checks = velocity_checks(rules, facts)
    was_degraded = screen.velocity.degraded
    matched = await screen.velocity.check_and_count(
        facts.merchant_id, intent.id, facts.amount, checks
    )
    if matched is None:
        await _velocity_unavailable(uow, intent, checks, first=not was_degraded)
    return Assessment.of(reasons + velocity_reasons(checks, matched))


async def _velocity_unavailable(
    uow: UnitOfWork, intent: PaymentIntent, checks: Sequence[VelocityCheck], *, first: bool
) -> None:
    """Count what each rule did; the first intent of an outage in this process also
    writes an operator alert (fail open must not go unnoticed)."""
    for check in checks:
        metrics.VELOCITY_UNAVAILABLE.labels(check.rule.on_unavailable.value).inc()
    logger.warning("risk.velocity_unavailable", intent=intent.id, rules=len(checks))
    if first:
        facts = {"payment_intent": intent.id, "merchant": intent.merchant_id}
        await uow.outbox.add_alert(
            alert(EventType.ALERT_RISK_VELOCITY_UNAVAILABLE, VELOCITY_ALERT_ABOUT, facts),
            merchant_id=intent.merchant_id,
            livemode=intent.livemode,
        )


def _observe(assessment: Assessment, seconds: float) -> None:
    metrics.SCREEN_SECONDS.observe(seconds)
    metrics.DECISIONS.labels(assessment.decision.value).inc()
    for reason in assessment.reasons:
        # Defaults by their ids; a merchant's own rules as one series (ids are unbounded).
        rule = reason.rule if reason.rule.startswith("default_") else "merchant"
        metrics.RULE_MATCHES.labels(rule, reason.type, reason.action.value).inc()


async def open_review(uow: UnitOfWork, intent: PaymentIntent) -> Review:
    """A review of an intent the rules sent to review; the intent's ``risk`` shows it."""
    review = Review(
        id=new_id("prv"),
        merchant_id=intent.merchant_id,
        payment_intent_id=intent.id,
        livemode=intent.livemode,
        open=True,
        created_at=datetime.now(UTC),
    )
    uow.repository(ReviewRepository).add(review)
    show_review(intent, review)
    return review


def show_review(intent: PaymentIntent, review: Review) -> None:
    """Keep the intent's ``risk.review`` in step with the review (a new dict, so the
    change is written)."""
    intent.risk = {**(intent.risk or {}), "review": dict(review_ref(review))}
