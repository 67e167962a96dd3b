"""The rule language and its evaluation, without I/O: each rule type, the decision and
score, what a Redis outage does per rule, and bad definitions named by field."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import InvalidRequest
from app.domain.intents import PaymentMethodType
from app.risk.evaluation import (
    Assessment,
    IntentFacts,
    first_payment_reasons,
    static_verdict,
    velocity_checks,
    velocity_reasons,
)
from app.risk.fingerprints import Fingerprints
from app.risk.rules import AllowList, Decision, default_rules
from app.risk.schemas import parse_rule

FINGERPRINTS = Fingerprints(b"k" * 32)
DOCUMENT = FINGERPRINTS.document("52998224725")
CARD = FINGERPRINTS.card("visa", "310", "4242")


def _facts(**overrides: Any) -> IntentFacts:
    values: dict[str, Any] = {
        "merchant_id": "mer_1",
        "amount": 10_000,
        "method": PaymentMethodType.PIX,
        "payer_fingerprint": DOCUMENT,
        "client_ip": "203.0.113.7",
        "email_domain": "example.com",
    }
    return IntentFacts(**(values | overrides))


def _decide(rules: list[dict[str, Any]], facts: IntentFacts) -> Assessment:
    verdict = static_verdict([parse_rule(r) for r in rules], facts)
    if verdict.allowed is not None:
        return Assessment(Decision.ALLOW, 0, (verdict.allowed,))
    return Assessment.of(verdict.reasons)


def test_an_amount_limit_applies_to_its_method_only() -> None:
    rule = {"type": "amount_limit", "id": "big_pix", "method": "pix", "max_amount": 5000}

    pix = _decide([rule], _facts())
    card = _decide([rule], _facts(method=PaymentMethodType.CARD, payer_fingerprint=None))

    assert (pix.decision, pix.score, [r.rule for r in pix.reasons]) == (
        Decision.REVIEW,
        60,
        ["big_pix"],
    )
    assert card.decision is Decision.ALLOW


@pytest.mark.parametrize(
    ("field", "value", "facts"),
    [
        ("payer_document", DOCUMENT, {}),
        ("card_fingerprint", CARD, {"method": PaymentMethodType.CARD, "card_fingerprint": CARD}),
        ("client_ip", "203.0.113.0/24", {}),
        ("email_domain", "@Example.COM", {}),
    ],
)
def test_a_block_list_blocks_each_field(field: str, value: str, facts: dict[str, Any]) -> None:
    rule = {"type": "block_list", "field": field, "values": [value]}

    assessment = _decide([rule], _facts(**facts))
    elsewhere = _decide(
        [rule],
        _facts(
            client_ip="198.51.100.1",
            email_domain="other.org",
            payer_fingerprint=FINGERPRINTS.document("11144477735"),
        ),
    )

    assert (assessment.decision, assessment.score) == (Decision.BLOCK, 100)
    assert elsewhere.decision is Decision.ALLOW


def test_an_allow_list_wins_over_every_other_rule() -> None:
    rules = [
        {"type": "block_list", "field": "client_ip", "values": ["203.0.113.7"]},
        {"type": "allow_list", "id": "vip", "field": "email_domain", "values": ["example.com"]},
    ]

    assessment = _decide(rules, _facts())

    assert (assessment.decision, assessment.score) == (Decision.ALLOW, 0)
    assert [(r.rule, r.action.value) for r in assessment.reasons] == [("vip", "allow")]


def test_a_first_payment_limit_waits_for_the_payment_history() -> None:
    rule = parse_rule({"type": "first_payment_limit", "max_amount": 5000, "action": "block"})

    verdict = static_verdict([rule], _facts())
    small = static_verdict([rule], _facts(amount=5000))

    assert (verdict.reasons, verdict.first_payment_rules) == ([], [rule])
    assert small.first_payment_rules == []
    [reason] = first_payment_reasons(verdict.first_payment_rules, 10_000)
    assert (reason.action.value, reason.score) == ("block", 90)


def test_velocity_counts_by_its_key_and_method() -> None:
    rules = [
        parse_rule(
            {
                "type": "velocity",
                "key": "payer_document",
                "method": "pix",
                "window_seconds": 600,
                "max_count": 3,
                "action": "block",
            }
        ),
        parse_rule(
            {"type": "velocity", "key": "card_fingerprint", "window_seconds": 60, "max_amount": 100}
        ),
        parse_rule({"type": "velocity", "key": "merchant", "window_seconds": 60, "max_count": 9}),
    ]

    checks = velocity_checks(rules, _facts())

    assert [(c.rule.key.value, c.value, c.blocking) for c in checks] == [
        ("payer_document", DOCUMENT, True),
        ("merchant", "mer_1", False),
    ]
    matched = Assessment.of(velocity_reasons(checks, [True, False]))
    assert (matched.decision, matched.score) == (Decision.BLOCK, 90)
    assert "more than 3 intents per payer_document in 600 s" in matched.reasons[0].message


def test_an_unavailable_store_fails_open_or_closed_per_rule() -> None:
    rules = [
        parse_rule(
            {
                "type": "velocity",
                "id": "open",
                "key": "merchant",
                "window_seconds": 60,
                "max_count": 1,
            }
        ),
        parse_rule(
            {
                "type": "velocity",
                "id": "closed",
                "key": "merchant",
                "window_seconds": 60,
                "max_count": 1,
                "action": "block",
                "on_unavailable": "block",
            }
        ),
    ]

    reasons = velocity_reasons(velocity_checks(rules, _facts()), None)

    assert [(r.rule, r.action.value) for r in reasons] == [("closed", "block")]


def test_the_score_is_the_highest_among_the_matches() -> None:
    rules = [
        {"type": "amount_limit", "max_amount": 1, "score": 30},
        {"type": "amount_limit", "max_amount": 2, "score": 75},
    ]
    assert _decide(rules, _facts()).score == 75


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (
            {"type": "velocity", "key": "payer_document", "window_seconds": 0, "max_count": 3},
            "window_seconds",
            "parameter_invalid",
        ),
        (
            {"type": "velocity", "key": "payer_document", "window_seconds": 60},
            None,
            "parameter_invalid",
        ),
        (
            {"type": "block_list", "field": "client_ip", "values": ["10.0.0.1", "nope"]},
            "values",
            "parameter_invalid",
        ),
        ({"type": "amount_limit"}, "max_amount", "parameter_missing"),
        ({"type": "amount_limit", "max_amount": 5, "colour": "red"}, "colour", "parameter_unknown"),
        ({"type": "teleport"}, "type", "parameter_invalid"),
        ({"max_amount": 5}, "type", "parameter_invalid"),
        ({"type": "amount_limit", "max_amount": "5"}, "max_amount", "parameter_invalid"),
        (
            {"type": "amount_limit", "max_amount": 5, "action": "maybe"},
            "action",
            "parameter_invalid",
        ),
    ],
)
def test_a_bad_definition_names_the_offending_field(
    body: dict[str, Any], param: str | None, code: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_rule(body)
    assert (refused.value.param, refused.value.code) == (param, code)


def test_the_default_set_reviews_and_never_blocks() -> None:
    rules = default_rules()
    assert {r.type for r in rules} == {"amount_limit", "first_payment_limit", "velocity"}
    assert all(r.action.value == "review" for r in rules if not isinstance(r, AllowList))
    assert len({r.id for r in rules}) == len(rules)


def test_fingerprints_are_keyed_and_a_card_needs_its_last_digits() -> None:
    assert DOCUMENT.startswith("pd_")
    assert "52998224725" not in DOCUMENT
    assert Fingerprints(b"j" * 32).document("52998224725") != DOCUMENT
    assert FINGERPRINTS.card("visa", "310", None) is None
    assert FINGERPRINTS.card("visa", "310", "4242") != FINGERPRINTS.card("master", "310", "4242")
