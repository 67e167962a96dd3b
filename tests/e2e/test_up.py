"""`pixwave up` on the embedded default, as a newcomer runs it: no service configured."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from app.embedded import free_port
from devtools.demo.receiver import new_receiver, serving
from tests.support import card_intent, pix_intent, wait_for

STARTUP_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 30.0
CHARGE_TIMEOUT_SECONDS = 60.0
API_KEY = re.compile(r"API key\s+(sk_test_\S+)")
GATEWAYS = re.compile(r"Gateways\s+(http://\S+)")


class Up:
    """`pixwave up` in a fresh directory, its output collected as it comes."""

    def __init__(self, workdir: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIXWAVE_")}
        env["PIXWAVE_API_PORT"] = str(port)
        self.url = f"http://127.0.0.1:{port}"
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "up"],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def api_key(self) -> str:
        wait_for(
            lambda: any(API_KEY.search(line) for line in self.output),
            timeout=STARTUP_TIMEOUT_SECONDS,
        )
        return next(m.group(1) for line in self.output if (m := API_KEY.search(line)))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def _postgres_running(workdir: Path) -> bool:
    return (workdir / ".pixwave" / "postgres" / "postmaster.pid").exists()


def _assert_gateways_are_simulated(up: Up) -> None:
    """The simulator runs, and the API knows both gateways (callbacks verify, not 404)."""
    sim_url = next(m.group(1) for line in up.output if (m := GATEWAYS.search(line)))
    assert httpx.get(f"{sim_url}/_sim/faults").status_code == 200
    for path in ("/v1/callbacks/efi?hmac=guess", "/v1/callbacks/mercadopago"):
        forged = httpx.post(f"{up.url}{path}", json={"pix": []})
        assert forged.status_code == 401, forged.text


def _assert_a_card_intent_is_charged_and_announced(up: Up, headers: dict[str, str]) -> None:
    """API → outbox → relay → SNS → SQS → charge worker → simulator, then the webhook
    worker → the merchant's receiver on this machine, all under `up`."""
    with serving(new_receiver()) as receiver:
        endpoint = {"url": receiver.url, "enabled_events": ["payment_intent.succeeded"]}
        registered = httpx.post(f"{up.url}/v1/webhook_endpoints", json=endpoint, headers=headers)
        assert registered.status_code == 201, registered.text
        created = httpx.post(f"{up.url}/v1/payment_intents", json=card_intent(), headers=headers)
        url = f"{up.url}/v1/payment_intents/{created.json()['id']}"
        wait_for(
            lambda: httpx.get(url, headers=headers).json()["status"] == "succeeded",
            timeout=CHARGE_TIMEOUT_SECONDS,
            interval=0.2,
        )
        wait_for(lambda: receiver.received, timeout=CHARGE_TIMEOUT_SECONDS)
    assert receiver.received[0].event["data"]["object"]["id"] == created.json()["id"]


def _pixwave_beside_up(workdir: Path, *args: str) -> str:
    """A command run in up's directory, as a newcomer would: it finds the services
    through .pixwave/runtime.env and up's URLs through .pixwave/up.json."""
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=workdir,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PIXWAVE_", "AWS_"))},
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _assert_operator_tools_reach_its_queues(workdir: Path) -> None:
    stats = json.loads(_pixwave_beside_up(workdir, "queues", "stats", "--json"))
    assert "pixwave-charge-dlq" in json.dumps(stats)


def _assert_the_demo_drives_it(workdir: Path) -> None:
    summary = json.loads(
        _pixwave_beside_up(workdir, "demo", "--count", "5", "--method", "pix", "--json")
    )
    assert summary["by_status"] == {"succeeded": 5}
    # created, processing, requires_action, succeeded: each signed, each checked.
    assert summary["webhooks_received"] >= 4 * 5
    assert summary["webhooks_with_bad_signature"] == 0


def test_up_serves_the_api_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    port = free_port()
    first = Up(tmp_path, port)
    try:
        key = first.api_key()
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(f"{first.url}/v1/payment_intents", json=pix_intent(), headers=headers)
        assert created.status_code == 201, created.text
        assert f"curl -s {first.url}/v1/payment_intents" in "".join(first.output)
        _assert_gateways_are_simulated(first)
        _assert_a_card_intent_is_charged_and_announced(first, headers)
        _assert_the_demo_drives_it(tmp_path)
        _assert_operator_tools_reach_its_queues(tmp_path)
    finally:
        assert first.stop() == 0
    assert not _postgres_running(tmp_path)

    second = Up(tmp_path, port)
    try:
        assert second.api_key() == key
        fetched = httpx.get(
            f"{second.url}/v1/payment_intents/{created.json()['id']}", headers=headers
        )
        # The charge worker moves it on meanwhile; what was created is kept.
        kept = ("id", "amount", "currency", "payment_method", "created")
        assert {k: fetched.json()[k] for k in kept} == {k: created.json()[k] for k in kept}
    finally:
        assert second.stop() == 0
    assert not _postgres_running(tmp_path)
