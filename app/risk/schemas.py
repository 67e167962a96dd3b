"""Risk's shapes: a rule as the API reads and shows it, an intent's ``risk`` object, a
review."""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import BaseModel, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from app.db.risk_models import Review
from app.domain.errors import InvalidRequest
from app.encoding import epoch
from app.risk.evaluation import Assessment
from app.risk.rules import Rule

RULE = TypeAdapter[Rule](Rule)


def parse_rule(body: object) -> Rule:
    """A rule from an API body or the CLI, or a 400 naming the offending field (dotted,
    without pydantic's union tag: ``window_seconds``, ``values.2``)."""
    try:
        return RULE.validate_python(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = [str(part) for part in first["loc"]]
        tag = body.get("type") if isinstance(body, dict) else None
        if location and location[0] == tag:
            location = location[1:]
        if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            location = ["type"]
        param = ".".join(location) or None
        code = "parameter_missing" if first["type"] == "missing" else "parameter_invalid"
        code = "parameter_unknown" if first["type"] == "extra_forbidden" else code
        raise InvalidRequest(f"{param or 'rule'}: {first['msg']}", param=param, code=code) from exc


def rule_record(rule: Rule) -> dict[str, Any]:
    return rule.model_dump(mode="json", exclude_none=True)


def rule_view(rule: Rule) -> dict[str, Any]:
    return {"object": "risk_rule", **rule_record(rule)}


class RiskRuleList(BaseModel):
    object: Literal["list"]
    url: str
    defaults: bool  # True while the merchant has not written its own rules
    data: list[Rule]


class ReasonOut(TypedDict):
    rule: str
    type: str
    action: str
    score: int
    message: str


class ReviewRef(TypedDict):
    id: str
    open: bool
    closed_reason: str | None


class RiskOut(TypedDict):
    decision: str
    score: int
    reasons: list[ReasonOut]
    payer_fingerprint: str | None
    card_fingerprint: str | None
    review: ReviewRef | None


def risk_record(
    assessment: Assessment, payer_fingerprint: str | None, card_fingerprint: str | None
) -> RiskOut:
    """What an intent keeps of its screening, as stored and shown."""
    return {
        "decision": assessment.decision.value,
        "score": assessment.score,
        "reasons": [cast(ReasonOut, r.as_record()) for r in assessment.reasons],
        "payer_fingerprint": payer_fingerprint,
        "card_fingerprint": card_fingerprint,
        "review": None,
    }


def review_ref(review: Review) -> ReviewRef:
    return {"id": review.id, "open": review.open, "closed_reason": review.closed_reason}


class ReviewOut(TypedDict):
    id: str
    object: Literal["review"]
    payment_intent: str
    open: bool
    reason: Literal["rule"]
    closed_reason: str | None
    refund: str | None
    created: int
    closed: int | None
    livemode: bool


class ReviewList(BaseModel):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[ReviewOut]


def review_view(review: Review) -> ReviewOut:
    return {
        "id": review.id,
        "object": "review",
        "payment_intent": review.payment_intent_id,
        "open": review.open,
        "reason": "rule",
        "closed_reason": review.closed_reason,
        "refund": review.refund_id,
        "created": epoch(review.created_at),
        "closed": epoch(review.closed_at),
        "livemode": review.livemode,
    }
