"""/v1/gateway_priority and `pixwave merchants priority`: a merchant's own gateway order.
That the charge worker follows it is in test_charging.py."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.support import ApiProcess, Merchant, create_merchant

PATH = "/v1/gateway_priority"


@pytest.fixture
def fresh_merchant(service_env: dict[str, str]) -> Merchant:
    return create_merchant("Loja Priorizada")


def set_priority(api: ApiProcess, merchant: Merchant, priority: Any) -> httpx.Response:
    return httpx.post(f"{api.url}{PATH}", json={"priority": priority}, headers=merchant.headers)


def test_a_merchant_sets_and_clears_its_order(api: ApiProcess, fresh_merchant: Merchant) -> None:
    shown = httpx.get(f"{api.url}{PATH}", headers=fresh_merchant.headers).json()
    assert shown == {
        "object": "gateway_priority",
        "priority": None,
        "default": ["mercadopago", "efi"],
    }
    assert set_priority(api, fresh_merchant, ["efi", "mercadopago"]).json()["priority"] == [
        "efi",
        "mercadopago",
    ]
    shown = httpx.get(f"{api.url}{PATH}", headers=fresh_merchant.headers).json()
    assert shown["priority"] == ["efi", "mercadopago"]
    assert set_priority(api, fresh_merchant, None).json()["priority"] is None


@pytest.mark.parametrize("priority", [["stripe"], ["efi", "efi"], [], "efi"])
def test_bad_orders_are_refused(api: ApiProcess, fresh_merchant: Merchant, priority: Any) -> None:
    response = set_priority(api, fresh_merchant, priority)
    assert response.status_code == 400, response.text
    assert response.json()["param"].startswith("priority")
    shown = httpx.get(f"{api.url}{PATH}", headers=fresh_merchant.headers).json()
    assert shown["priority"] is None  # nothing was written


def test_the_cli_shows_sets_and_refuses(fresh_merchant: Merchant) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "app.cli", "merchants", "priority", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    merchant_id = fresh_merchant.merchant_id
    assert "default" in cli(merchant_id).stdout
    assert cli(merchant_id, "--set", "efi").stdout.strip().endswith("gateway priority: efi")
    refused = cli(merchant_id, "--set", "efi,paypal")
    assert refused.returncode == 2
    assert "unknown gateways ['paypal']" in refused.stderr
    assert "default" in cli(merchant_id, "--clear").stdout
    assert cli("mer_nobody").returncode == 2
