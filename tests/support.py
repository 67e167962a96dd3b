"""Helpers the tests share: the API as a child process, sample requests."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from app.embedded import free_port

STARTUP_TIMEOUT_SECONDS = 30.0
VALID_CPF = "529.982.247-25"
VALID_CNPJ = "11.222.333/0001-81"
# Card tokens in the form Mercado Pago issues them; the first is its documentation's example
# (mercadopago/devsite-docs reference/api-json/payments.json).
CARD_TOKEN = "ff8080814c11e237014c1ff593b57b4d"
ANOTHER_CARD_TOKEN = "0123456789abcdef0123456789abcdef"


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    key_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def create_merchant(name: str, *, live: bool = False) -> Merchant:
    """Through the real CLI, as an operator would."""
    mode = ["--live"] if live else []
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "merchants", "create", "--name", name, *mode, "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Merchant(**json.loads(result.stdout))


def waive_fees(merchant: Merchant) -> Merchant:
    """No fee on the merchant's payments, through the real CLI: tests whose arithmetic is
    about balances, not fees, fund a merchant with exactly what they pay in."""
    for method in ("pix", "card"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli",
                "ledger",
                "fees",
                method,
                "--basis-points",
                "0",
                "--merchant",
                merchant.merchant_id,
            ],
            check=True,
            capture_output=True,
        )
    return merchant


@dataclass
class ApiProcess:
    url: str
    process: subprocess.Popen[bytes]


def wait_for(condition: Any, *, timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def _answers_http(
    url: str, process: subprocess.Popen[bytes], tls: ssl.SSLContext | None = None
) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"{process.args!r} exited with {process.returncode}")
    try:
        return httpx.get(url, timeout=1.0, verify=tls or True).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def start_role(
    args: list[str], env: dict[str, str], ready_url: str, *, tls: ssl.SSLContext | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``pixwave <args>`` as a child process, ready once ``ready_url`` answers 200
    (over ``tls`` when the role serves HTTPS)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
    )  # output goes to pytest's fd capture: a failing test shows the role's logs
    try:
        wait_for(lambda: _answers_http(ready_url, process, tls), timeout=STARTUP_TIMEOUT_SECONDS)
        yield process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def start_api(
    overrides: dict[str, str] | None = None, *, port: int | None = None
) -> Iterator[ApiProcess]:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"PIXWAVE_API_PORT": str(port), **(overrides or {})}
    with start_role(["api"], env, f"{url}/readyz") as process:
        yield ApiProcess(url=url, process=process)


def pix_intent(amount: int = 1990, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": amount,
        "currency": "BRL",
        "payment_method": {
            "type": "pix",
            "pix": {"payer": {"name": "Maria Silva", "document": VALID_CPF}},
        },
    }
    body.update(overrides)
    return body


def card_intent(amount: int = 5000, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": amount,
        "currency": "BRL",
        "payment_method": {"type": "card", "card": {"token": CARD_TOKEN}},
    }
    body.update(overrides)
    return body
