"""/v1/risk_rules: the rules that screen the merchant's intents (docs/risk.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from starlette.responses import Response

from app.api import idempotency
from app.api.problems import json_response
from app.api.resources import UowDep, resources_of
from app.api.schemas import READ_ERRORS, WRITE_ERRORS, ok
from app.db.uow import UnitOfWork
from app.merchants.auth import CallerDep
from app.risk import service
from app.risk.schemas import RiskRuleList, rule_view
from app.risk.service import RiskScreen

router = APIRouter(prefix="/v1/risk_rules", tags=["risk"])
URL = "/v1/risk_rules"


def _screen(request: Request) -> RiskScreen:
    resources = resources_of(request)
    return RiskScreen.of(resources.settings, resources.redis)


@router.get("", responses={**ok(200, RiskRuleList), **READ_ERRORS})
async def list_risk_rules(request: Request, uow: UowDep, caller: CallerDep) -> Response:
    """Every rule screening the merchant's intents; ``defaults`` while it wrote none."""
    rules, defaults = await service.merchant_rules(
        uow, caller.merchant_id, defaults_apply=_screen(request).defaults_apply
    )
    body = {
        "object": "list",
        "url": URL,
        "defaults": defaults,
        "data": [rule_view(r) for r in rules],
    }
    return json_response(body)


@router.post("", status_code=201, responses={**ok(201, dict[str, Any]), **WRITE_ERRORS})
async def add_risk_rule(
    request: Request,
    uow: UowDep,
    caller: CallerDep,
    body: Annotated[
        dict[str, Any], Body(description="A rule: `type` and its fields (docs/risk.md)")
    ],
) -> Response:
    screen = _screen(request)

    async def action(uow: UnitOfWork) -> tuple[int, Mapping[str, object]]:
        rule = await service.add_rule(uow, screen, caller.merchant_id, body)
        return 201, rule_view(rule)

    fingerprint = json.dumps(body, sort_keys=True)
    return await idempotency.respond(request, uow, caller, fingerprint, action)


@router.delete("/{rule_id}", responses={**ok(200, dict[str, Any]), **WRITE_ERRORS})
async def delete_risk_rule(
    request: Request,
    uow: UowDep,
    caller: CallerDep,
    rule_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    await service.delete_rule(uow, _screen(request), caller.merchant_id, rule_id)
    await uow.commit()
    return json_response({"id": rule_id, "object": "risk_rule", "deleted": True})
