"""`pixwave up` on the embedded default, as a newcomer runs it: no service configured."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from app.embedded import free_port
from app.up_environment import port_is_free
from app.up_roles import WEBHOOKS_METRICS_PORT_OFFSET
from devtools.demo.receiver import new_receiver, serving
from tests.support import card_intent, pix_intent, wait_for

STARTUP_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 30.0
CHARGE_TIMEOUT_SECONDS = 60.0
API_KEY = re.compile(r"API key\s+(sk_test_\S+)")
GATEWAYS = re.compile(r"Gateways\s+(http://\S+)")


def free_ports() -> dict[str, str]:
    """Every port `up` serves on, free now (they are honoured: a taken one stops it)."""
    names = ("GATEWAY_SIM_PORT", "RELAY_METRICS_PORT", "SCHEDULER_METRICS_PORT")
    ports = {f"PIXWAVE_{name}": str(free_port()) for name in names}
    worker = free_port()
    while not port_is_free(worker + WEBHOOKS_METRICS_PORT_OFFSET):
        worker = free_port()
    return ports | {"PIXWAVE_WORKER_METRICS_PORT": str(worker)}


class Up:
    """`pixwave up` in a fresh directory, its output collected as it comes."""

    def __init__(
        self, workdir: Path, port: int, *, args: tuple[str, ...] = (), **settings: str
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIXWAVE_")}
        env |= {"PIXWAVE_API_PORT": str(port), **free_ports(), **settings}
        self.env = env
        self.url = f"http://127.0.0.1:{port}"
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "up", *args],
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
        try:
            wait_for(
                lambda: any(API_KEY.search(line) or self.process.poll() for line in self.output),
                timeout=STARTUP_TIMEOUT_SECONDS,
            )
        except AssertionError:
            raise AssertionError("".join(self.output[-80:])) from None
        assert self.process.poll() is None, "".join(self.output[-80:])
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
    # The simulator's callback secrets are this data dir's own, not constants of the code.
    constants = ("guess", "simulator-hmac", "sim-hmac")
    for path in (*(f"/v1/callbacks/efi?hmac={c}" for c in constants), "/v1/callbacks/mercadopago"):
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


def _run_beside_up(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A command run in up's directory, as a newcomer would: it finds the services
    through .pixwave/runtime.env and up's URLs through .pixwave/up.json."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIXWAVE_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=workdir,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT_SECONDS,
    )


def _pixwave_beside_up(workdir: Path, *args: str, **env: str) -> str:
    result = _run_beside_up(workdir, *args, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _assert_metrics_are_served_where_configured(up: Up, data_dir: Path) -> None:
    worker = int(up.env["PIXWAVE_WORKER_METRICS_PORT"])
    configured = {
        "relay": int(up.env["PIXWAVE_RELAY_METRICS_PORT"]),
        "charge": worker,
        "webhooks": worker + WEBHOOKS_METRICS_PORT_OFFSET,
        "scheduler": int(up.env["PIXWAVE_SCHEDULER_METRICS_PORT"]),
    }
    expected = {name: f"http://127.0.0.1:{port}/metrics" for name, port in configured.items()}
    assert json.loads((data_dir / "up.json").read_text())["metrics"] == expected
    metrics_line = next(line for line in up.output if line.strip().startswith("Metrics"))
    for name, url in expected.items():
        assert f"{name} {url}" in metrics_line
        assert httpx.get(url).status_code == 200, url


def _assert_operator_tools_reach_its_queues(workdir: Path) -> None:
    stats = json.loads(_pixwave_beside_up(workdir, "queues", "stats", "--json"))
    assert "pixwave-charge-dlq" in json.dumps(stats)
    # The reconciliation reads up's simulated gateways (exit 2 would be "none readable").
    today = datetime.now(ZoneInfo("America/Sao_Paulo")).date().isoformat()
    reconciled = _run_beside_up(workdir, "reconcile", "--date", today, "--json")
    assert reconciled.returncode in (0, 1), reconciled.stderr
    assert {run["gateway"] for run in json.loads(reconciled.stdout)} == {
        "mercadopago",
        "efi",
    }


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
        _assert_metrics_are_served_where_configured(first, tmp_path / ".pixwave")
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


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_commands_beside_up_see_its_topology_and_its_secrets_stay_private(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    given = {"PIXWAVE_DATA_DIR": str(state)}
    up = Up(tmp_path, free_port(), PIXWAVE_FIFO="true", PIXWAVE_NAME_PREFIX="upfifo", **given)
    try:
        up.api_key()
        # Secrets in the data directory, readable by the owner only.
        assert not (tmp_path / ".pixwave").exists()
        for name in ("runtime.env", "document.key", "simulator-secrets.json", "up.json"):
            assert _mode(state / name) == 0o600, name
        assert "PIXWAVE_DOCUMENT_KEY=" in (state / "runtime.env").read_text()

        # Another shell, told only the data directory, sees up's FIFO queues.
        beside = _run_beside_up(tmp_path, "queues", "stats", "--json", **given)
        assert beside.returncode == 0, beside.stderr
        assert "upfifo-charge.fifo" in {s["queue"] for s in json.loads(beside.stdout)}
        assert "warning" not in beside.stderr
        # One that overrides the topology is told, in one line.
        apart = _run_beside_up(tmp_path, "dlq", "ls", PIXWAVE_FIFO="false", **given)
        warnings = [line for line in apart.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1, apart.stderr
        assert f"(pid {up.process.pid}) uses FIFO queues upfifo-*" in warnings[0]
        assert "this command uses standard queues upfifo-*" in warnings[0]

        # A second `up` on the same data directory refuses, naming the first.
        second = _run_beside_up(tmp_path, "up", **{**up.env, **given})
        assert second.returncode != 0
        assert f"already running on {state} (pid {up.process.pid})" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    finally:
        assert up.stop() == 0
    assert not (state / "runtime.env").exists()


def _processes_of(state: Path) -> dict[int, str]:
    """pid → command line of every process started for this data directory: those
    still showing the PIXWAVE_DATA_DIR they inherited, and those `up` recorded
    (PostgreSQL and Redis write their titles over their environment)."""
    marker = f"PIXWAVE_DATA_DIR={state}".encode()
    recorded = state / "children.json"
    pids = (
        {child["pid"] for child in json.loads(recorded.read_text())} if recorded.exists() else set()
    )
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (
                int(proc.name) in pids or marker in (proc / "environ").read_bytes().split(b"\0")
            ):
                found[int(proc.name)] = (
                    (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except OSError:  # gone meanwhile
            continue
    return found


def _alive(pids: dict[int, str]) -> dict[int, str]:
    return {pid: command for pid, command in pids.items() if Path(f"/proc/{pid}").exists()}


def _up_started(tmp_path: Path, state: Path) -> Up:
    up = Up(tmp_path, free_port(), PIXWAVE_DATA_DIR=str(state))
    up.api_key()
    return up


def _killed(up: Up) -> None:
    up.process.send_signal(signal.SIGKILL)
    up.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def test_up_leaves_nothing_running_however_it_ends(tmp_path: Path) -> None:
    state = tmp_path / "state"

    # SIGTERM while it starts (its services up, its roles not yet): they are stopped.
    starting = Up(tmp_path, free_port(), PIXWAVE_DATA_DIR=str(state))
    wait_for(
        lambda: any("embedded.aws_started" in line for line in starting.output),
        timeout=STARTUP_TIMEOUT_SECONDS,
    )
    started = _processes_of(state)
    starting.process.send_signal(signal.SIGTERM)
    starting.process.wait(timeout=STOP_TIMEOUT_SECONDS)
    wait_for(lambda: not _alive(started), timeout=STOP_TIMEOUT_SECONDS)

    # SIGKILL once up: its children die with it, PostgreSQL and Redis too.
    first = _up_started(tmp_path, state)
    started = _processes_of(state)
    assert len(started) >= 10  # up, watchdog, moto, postgres, redis, 6 roles
    _killed(first)
    wait_for(lambda: not _alive(started), timeout=STOP_TIMEOUT_SECONDS)

    # Its watchdog killed as well: the roles still die with it, and the next `up` stops
    # the PostgreSQL and Redis left behind, saying so.
    second = _up_started(tmp_path, state)
    started = _processes_of(state)
    for pid, command in started.items():
        if "app.lifecycle" in command:
            os.kill(pid, signal.SIGKILL)
    _killed(second)
    recorded = {c["pid"]: c["name"] for c in json.loads((state / "children.json").read_text())}
    services = {pid for pid, name in recorded.items() if name in ("postgres", "redis")}
    wait_for(lambda: set(_alive(started)) <= services, timeout=STOP_TIMEOUT_SECONDS)
    assert set(_alive(started)) == services  # only a next `up` stops these
    third = _up_started(tmp_path, state)
    try:
        stopped = next(line for line in third.output if "left:" in line)
        assert "postgres (pid" in stopped, stopped
        assert "redis (pid" in stopped, stopped
        assert not _alive({pid: "" for pid in services})
    finally:
        assert third.stop() == 0
    wait_for(lambda: not _processes_of(state), timeout=STOP_TIMEOUT_SECONDS)


def test_up_runs_as_many_workers_as_asked_and_supervises_each(tmp_path: Path) -> None:
    state = tmp_path / "state"
    flags = ("--charge-workers", "2", "--webhook-workers", "2")
    up = Up(tmp_path, free_port(), args=flags, PIXWAVE_DATA_DIR=str(state))
    try:
        headers = {"Authorization": f"Bearer {up.api_key()}"}
        workers = sorted(
            command.split("app.cli worker ")[1].strip()
            for command in _processes_of(state).values()
            if "app.cli worker " in command
        )
        assert workers == ["charge", "charge", "webhooks", "webhooks"]
        metrics = json.loads((state / "up.json").read_text())["metrics"]
        assert {"charge", "charge-2", "webhooks", "webhooks-2"} <= set(metrics)
        assert len(set(metrics.values())) == len(metrics)  # each on a port of its own
        for url in metrics.values():
            assert httpx.get(url).status_code == 200, url
        _assert_a_card_intent_is_charged_and_announced(up, headers)

        # Supervised like every role: one of them dying stops the whole system.
        pids = {c["name"]: c["pid"] for c in json.loads((state / "children.json").read_text())}
        os.kill(pids["webhooks-2"], signal.SIGKILL)
        up.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        assert any("role webhooks-2 exited" in line for line in up.output)
    finally:
        if up.process.poll() is None:
            up.stop()
    wait_for(lambda: not _processes_of(state), timeout=STOP_TIMEOUT_SECONDS)
