"""Screening an intent against rules, without I/O: the service gathers the facts (the
rules, whether the payer paid before, what the velocity store answered) and these
functions decide. The decision is ``block`` if a block rule matched, ``review`` if a
review rule did, else ``allow``; the score is the highest score among the matches."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.intents import PaymentMethodType
from app.risk.rules import (
    Action,
    AllowList,
    AmountLimit,
    BlockList,
    Decision,
    FirstPaymentLimit,
    ListField,
    OnUnavailable,
    Rule,
    Velocity,
    VelocityKey,
)


@dataclass(frozen=True, slots=True)
class IntentFacts:
    """What the rules look at: nothing here is a document or a card detail."""

    merchant_id: str
    amount: int
    method: PaymentMethodType
    payer_fingerprint: str | None = None  # pd_… for PIX
    card_fingerprint: str | None = None  # cf_… for a card with last4
    client_ip: str | None = None
    email_domain: str | None = None

    @property
    def payer(self) -> str | None:
        """Who pays, as far as PixWave can tell: the document's or the card's fingerprint."""
        return self.payer_fingerprint or self.card_fingerprint

    def listed(self, list_field: ListField) -> str | None:
        return {
            ListField.PAYER_DOCUMENT: self.payer_fingerprint,
            ListField.CARD_FINGERPRINT: self.card_fingerprint,
            ListField.CLIENT_IP: self.client_ip,
            ListField.EMAIL_DOMAIN: self.email_domain,
        }[list_field]

    def counted_by(self, key: VelocityKey) -> str | None:
        return {
            VelocityKey.PAYER_DOCUMENT: self.payer_fingerprint,
            VelocityKey.CARD_FINGERPRINT: self.card_fingerprint,
            VelocityKey.MERCHANT: self.merchant_id,
        }[key]


@dataclass(frozen=True, slots=True)
class Reason:
    """A rule that matched, and what it decides: its action, or allow for an allow list."""

    rule: str
    type: str
    action: Decision
    score: int
    message: str

    def as_record(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "type": self.type,
            "action": self.action.value,
            "score": self.score,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    decision: Decision
    score: int
    reasons: tuple[Reason, ...] = ()

    @classmethod
    def of(cls, reasons: Sequence[Reason]) -> Assessment:
        actions = {r.action for r in reasons}
        if Decision.BLOCK in actions:
            decision = Decision.BLOCK
        elif Decision.REVIEW in actions:
            decision = Decision.REVIEW
        else:
            decision = Decision.ALLOW
        return cls(decision, max((r.score for r in reasons), default=0), tuple(reasons))


@dataclass(frozen=True, slots=True)
class VelocityCheck:
    """One velocity rule over the value it counts for this intent (a fingerprint, or the
    merchant). ``blocking``: were it to match, the intent would be blocked."""

    rule: Velocity
    value: str

    @property
    def blocking(self) -> bool:
        return self.rule.action is Action.BLOCK


@dataclass(frozen=True, slots=True)
class StaticVerdict:
    """The rules that need no counting. ``allowed``: an allow list matched, so nothing
    else counts. ``first_payment_rules``: those that match if this is the payer's first
    payment (the service asks the database only when there are some)."""

    reasons: list[Reason] = field(default_factory=list)
    allowed: Reason | None = None
    first_payment_rules: list[FirstPaymentLimit] = field(default_factory=list)


def _matches_list(rule: AllowList | BlockList, facts: IntentFacts) -> bool:
    value = facts.listed(rule.field)
    if value is None:
        return False
    if rule.field is not ListField.CLIENT_IP:
        return value in rule.values
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in rule.values)


def _reason(rule: AmountLimit | FirstPaymentLimit | Velocity | BlockList, message: str) -> Reason:
    return Reason(
        rule.id or rule.type, rule.type, Decision(rule.action.value), rule.weight, message
    )


def static_verdict(rules: Sequence[Rule], facts: IntentFacts) -> StaticVerdict:
    verdict = StaticVerdict()
    for rule in rules:
        if isinstance(rule, AllowList):
            if _matches_list(rule, facts):
                message = f"{rule.field.value} is on allow list {rule.id}"
                allowed = Reason(rule.id or rule.type, rule.type, Decision.ALLOW, 0, message)
                return StaticVerdict(allowed=allowed)
        elif isinstance(rule, BlockList):
            if _matches_list(rule, facts):
                verdict.reasons.append(_reason(rule, f"{rule.field.value} is on a block list"))
        elif isinstance(rule, AmountLimit):
            if rule.applies_to(facts.method) and facts.amount > rule.max_amount:
                message = f"amount {facts.amount} is above {rule.max_amount}"
                verdict.reasons.append(_reason(rule, message))
        elif (
            isinstance(rule, FirstPaymentLimit)
            and rule.applies_to(facts.method)
            and facts.amount > rule.max_amount
            and facts.payer is not None
        ):
            verdict.first_payment_rules.append(rule)
    return verdict


def first_payment_reasons(rules: Sequence[FirstPaymentLimit], amount: int) -> list[Reason]:
    return [
        _reason(rule, f"a first payment of {amount} is above {rule.max_amount}") for rule in rules
    ]


def velocity_checks(rules: Sequence[Rule], facts: IntentFacts) -> list[VelocityCheck]:
    checks = []
    for rule in rules:
        if isinstance(rule, Velocity) and rule.applies_to(facts.method):
            value = facts.counted_by(rule.key)
            if value is not None:
                checks.append(VelocityCheck(rule, value))
    return checks


def velocity_reasons(
    checks: Sequence[VelocityCheck], matched: Sequence[bool] | None
) -> list[Reason]:
    """The velocity rules' reasons, given which checks matched, or None if the store did
    not answer: then each rule does what its ``on_unavailable`` says."""
    reasons = []
    for index, check in enumerate(checks):
        rule = check.rule
        if matched is None:
            if rule.on_unavailable is OnUnavailable.BLOCK:
                reasons.append(_reason(rule, "the velocity store is unavailable (fail closed)"))
        elif matched[index]:
            reasons.append(_reason(rule, _velocity_message(rule)))
    return reasons


def _velocity_message(rule: Velocity) -> str:
    limits = []
    if rule.max_count is not None:
        limits.append(f"{rule.max_count} intents")
    if rule.max_amount is not None:
        limits.append(f"an amount of {rule.max_amount}")
    return f"more than {' or '.join(limits)} per {rule.key.value} in {rule.window_seconds} s"
