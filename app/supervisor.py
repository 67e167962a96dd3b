"""`pixwave up`: the whole system in one command on the embedded default.

Starts whatever services are not configured, migrates, makes sure a demo merchant
exists, then runs each role as a child process with its output prefixed by role.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import redis
from loguru import logger

from app.db import migrate
from app.db.session import open_uow
from app.domain.errors import AuthenticationFailed
from app.embedded import EmbeddedServices
from app.lifecycle import (
    Children,
    die_with_parent,
    start_watchdog,
    stop_stale,
    up_lock,
    write_private,
)
from app.merchants.service import authenticate, create_merchant
from app.settings import RUNTIME_ENV_FILE, Settings
from app.up_environment import (
    load_or_create_simulator_secrets,
    require_aws_credentials,
    runtime_environment,
    service_environment,
)
from app.up_roles import Role, configured_ports, metrics_ports, require_free_ports, up_roles
from outbox.service import apply_topology

READY_TIMEOUT_SECONDS = 60.0
READY_POLL_SECONDS = 0.2
STOP_GRACE_SECONDS = 10.0
REDIS_CHECK_SECONDS = 5.0
DEV_RECEIVE_WAIT_SECONDS = 2
DEMO_KEY_FILE = "demo-merchant.json"
# Where a running `up` says its URLs, for `pixwave demo`; removed when it stops.
UP_FILE = "up.json"


class RoleProcess:
    """A role as a child process that dies with this one, its metrics on ``metrics_port``
    (0: none)."""

    def __init__(self, role: Role, env: dict[str, str], metrics_port: int) -> None:
        self.role = role
        self.metrics_port: int | None = None
        if role.metrics_port_variable is not None:
            env = {**env, role.metrics_port_variable: str(metrics_port)}
            self.metrics_port = metrics_port or None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *role.args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            sys.stdout.write(f"{self.role.name:>8} | {line}")
            sys.stdout.flush()

    def ask_to_stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_or_kill(self) -> None:
        try:
            self.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# What `pixwave up` gives the adapters when it runs the simulator in their place: the
# simulator checks none of these, but the adapters need some.
SIMULATOR_CREDENTIALS = {
    "PIXWAVE_MERCADOPAGO_ACCESS_TOKEN": "TEST-simulator",
    "PIXWAVE_EFI_CLIENT_ID": "Client_Id_simulator",
    "PIXWAVE_EFI_CLIENT_SECRET": "Client_Secret_simulator",
    "PIXWAVE_EFI_PIX_KEY": "pix@pixwave.example",
}
DEMO_MERCHANT_NAME = "Demo merchant"


def gateways_configured(settings: Settings) -> bool:
    return settings.mercadopago_access_token is not None or settings.efi_client_id is not None


def simulated_gateways(settings: Settings, api_url: str) -> tuple[dict[str, str], Role]:
    """Point both adapters at a `pixwave gateway-sim` role, and its callbacks at the API."""
    sim_url = f"http://{settings.api_host}:{settings.gateway_sim_port}"
    env = {
        **SIMULATOR_CREDENTIALS,
        **load_or_create_simulator_secrets(settings.data_dir),
        "PIXWAVE_MERCADOPAGO_BASE_URL": f"{sim_url}/mercadopago",
        "PIXWAVE_EFI_BASE_URL": f"{sim_url}/efi",
    }
    efi_callbacks = f"{api_url}/v1/callbacks/efi"
    return env, Role("gateways", ("gateway-sim", "--efi-webhook-url", efi_callbacks))


def wait_until_ready(url: str, processes: list[RoleProcess]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if any(p.process.poll() is not None for p in processes):
            raise SystemExit("a role exited during startup; see its output above")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(READY_POLL_SECONDS)
    raise SystemExit(f"{url} did not become ready in {READY_TIMEOUT_SECONDS:.0f} s")


def stop_on_signals() -> None:
    """From `up`'s first line: SIGTERM, like Ctrl-C, interrupts start-up, so whatever
    has started is stopped on the way out."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def _ignore_signals() -> None:
    """While stopping: a second Ctrl-C must not cut the clean-up short."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def wait_for_stop(processes: list[RoleProcess]) -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        exited = [p for p in processes if p.process.poll() is not None]
        if exited:
            print(f"role {exited[0].role.name} exited; stopping everything", file=sys.stderr)
            return


async def ensure_demo_merchant(settings: Settings, data_dir: Path) -> str:
    """Reuse the demo key across restarts while the database still knows it."""
    path = data_dir / DEMO_KEY_FILE
    async with open_uow(settings) as uow:
        if path.exists():
            secret = str(json.loads(path.read_text())["secret"])
            try:
                await authenticate(uow, secret)
            except AuthenticationFailed:
                pass
            else:
                return secret
        issued = await create_merchant(uow, DEMO_MERCHANT_NAME)
        await uow.commit()
    write_private(path, json.dumps({"merchant_id": issued.merchant_id, "secret": issued.secret}))
    return issued.secret


def run(settings: Settings, *, json_logs: bool) -> None:
    """One `up` per data directory; what a killed one left running is stopped first."""
    data_dir = settings.data_dir
    with up_lock(data_dir):
        stale = stop_stale(data_dir)
        if stale:
            print(f"stopped what a killed `pixwave up` left: {', '.join(stale)}", file=sys.stderr)
        simulated = not gateways_configured(settings)
        if settings.aws_endpoint_url:
            require_aws_credentials(settings)
        if settings.redis_url:  # else its roles would start and never be ready
            redis.Redis.from_url(
                settings.redis_url, socket_connect_timeout=REDIS_CHECK_SECONDS
            ).ping()
        require_free_ports(settings, simulated)
        watchdog = start_watchdog(data_dir, leftovers=(RUNTIME_ENV_FILE, UP_FILE))
        try:
            _run(settings, json_logs=json_logs, simulated=simulated)
        finally:
            watchdog.close()


def _run(settings: Settings, *, json_logs: bool, simulated: bool) -> None:
    data_dir = settings.data_dir
    children = Children(data_dir)
    embedded = EmbeddedServices(data_dir, children)
    processes: list[RoleProcess] = []
    try:
        service_env = service_environment(settings, embedded)
        os.environ.update(service_env)
        resolved = Settings()
        migrate.upgrade(service_env["PIXWAVE_DATABASE_URL"])
        # moto keeps nothing across restarts, so the topology is applied at every start.
        for change in apply_topology(resolved):
            logger.info("up.topology", action=change.action, kind=change.kind, name=change.name)
        secret = asyncio.run(ensure_demo_merchant(resolved, data_dir))
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        env = {
            **os.environ,
            "PIXWAVE_PUBLIC_BASE_URL": settings.public_base_url or api_url,
            # On a dev stack the merchant's webhook receiver runs on this machine too.
            "PIXWAVE_WEBHOOK_ALLOW_PRIVATE_URLS": os.environ.get(
                "PIXWAVE_WEBHOOK_ALLOW_PRIVATE_URLS", "true"
            ),
            # A worker stops after its poll in flight; keep Ctrl-C quick on a dev stack.
            "PIXWAVE_WORKER_RECEIVE_WAIT_SECONDS": os.environ.get(
                "PIXWAVE_WORKER_RECEIVE_WAIT_SECONDS", str(DEV_RECEIVE_WAIT_SECONDS)
            ),
            "PIXWAVE_LOG_JSON": "true" if json_logs else "false",
        }
        roles, sim_url = up_roles(settings), None
        sim_env: dict[str, str] = {}
        if simulated:
            sim_env, sim_role = simulated_gateways(settings, api_url)
            env |= sim_env
            roles.append(sim_role)
            sim_url = sim_env["PIXWAVE_MERCADOPAGO_BASE_URL"].removesuffix("/mercadopago")
        # Commands beside `up` (reconcile, ledger, dlq) reach its services and gateways.
        write_private(
            data_dir / RUNTIME_ENV_FILE, runtime_environment(resolved, service_env | sim_env)
        )
        taken = {port for _, port in configured_ports(settings, simulated)}
        for role, port in zip(roles, metrics_ports(roles, settings, taken), strict=True):
            started = RoleProcess(role, env, port)
            processes.append(started)
            children.add(role.name, started.process.pid, group=True)
        metrics = metrics_urls(settings, processes)
        wait_until_ready(f"{api_url}/readyz", processes)
        if sim_url is not None:
            wait_until_ready(f"{sim_url}/_sim/faults", processes)
        up = {
            "pid": os.getpid(),
            "api_url": api_url,
            "gateway_sim_url": sim_url,
            "metrics": metrics,
        }
        write_private(data_dir / UP_FILE, json.dumps(up))
        print(banner(api_url, secret, sim_url, metrics), flush=True)
        wait_for_stop(processes)
    finally:
        _ignore_signals()
        # All at once: each role drains in its own time, the slowest sets the pace.
        for process in processes:
            process.ask_to_stop()
        for process in processes:
            process.wait_or_kill()
        (data_dir / RUNTIME_ENV_FILE).unlink(missing_ok=True)
        (data_dir / UP_FILE).unlink(missing_ok=True)
        embedded.close()


def metrics_urls(settings: Settings, processes: list[RoleProcess]) -> dict[str, str]:
    """Role name → its /metrics URL, for the roles that serve one."""
    return {
        p.role.name: f"http://{settings.api_host}:{p.metrics_port}/metrics"
        for p in processes
        if p.metrics_port is not None
    }


def banner(api_url: str, secret: str, sim_url: str | None, metrics: dict[str, str]) -> str:
    gateways = (
        f"  Gateways {sim_url}  (simulator; pay a PIX charge with "
        f"`pixwave gateway-sim-pay efi|mercadopago REFERENCE --url {sim_url}`)\n"
        if sim_url
        else ""
    )
    served = "  ".join(f"{name} {url}" for name, url in metrics.items())
    metrics_line = f"  Metrics  {served}\n" if metrics else ""
    return (
        f"\nPixWave is up.\n"
        f"  API      {api_url}\n"
        f"  Docs     {api_url}/docs\n"
        f"  API key  {secret}   (test mode)\n"
        f"{gateways}"
        f"{metrics_line}"
        f"  Try      curl -s {api_url}/v1/payment_intents -H 'Authorization: Bearer {secret}' "
        f"-H 'Content-Type: application/json' -d '{json.dumps(SAMPLE_INTENT)}'\n"
        f"Ctrl-C stops everything.\n"
    )


SAMPLE_INTENT = {
    "amount": 1990,
    "currency": "BRL",
    "payment_method": {
        "type": "pix",
        "pix": {"payer": {"name": "Maria Silva", "document": "529.982.247-25"}},
    },
}
