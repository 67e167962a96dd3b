"""`pixwave up`: the whole system in one command on the embedded default.

Starts whatever services are not configured, migrates, makes sure a demo merchant
exists, then runs each role as a child process with its output prefixed by role.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from loguru import logger

from app.db import migrate
from app.db.session import open_uow
from app.domain.errors import AuthenticationFailed
from app.embedded import EmbeddedServices, free_port
from app.services.merchants import authenticate, create_merchant
from app.settings import DOCUMENT_KEY_BYTES, RUNTIME_ENV_FILE, Settings
from outbox.service import apply_topology

READY_TIMEOUT_SECONDS = 60.0
READY_POLL_SECONDS = 0.2
STOP_GRACE_SECONDS = 10.0
DEV_RECEIVE_WAIT_SECONDS = 2
DEMO_KEY_FILE = "demo-merchant.json"
# Where a running `up` says its URLs, for `pixwave demo`; removed when it stops.
UP_FILE = "up.json"
DOCUMENT_KEY_FILE = "document.key"


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    args: tuple[str, ...]
    # The variable naming the role's metrics port: each role gets a free one.
    metrics_port_variable: str | None = None


class RoleProcess:
    def __init__(self, role: Role, env: dict[str, str]) -> None:
        self.role = role
        if role.metrics_port_variable is not None:
            env = {**env, role.metrics_port_variable: str(free_port())}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *role.args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
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


ROLES: tuple[Role, ...] = (
    Role("api", ("api",)),
    Role("relay", ("relay",), "PIXWAVE_RELAY_METRICS_PORT"),
    Role("charge", ("worker", "charge"), "PIXWAVE_WORKER_METRICS_PORT"),
    Role("webhooks", ("worker", "webhooks"), "PIXWAVE_WORKER_METRICS_PORT"),
    Role("scheduler", ("scheduler",), "PIXWAVE_SCHEDULER_METRICS_PORT"),
)
# Credentials `pixwave up` gives the adapters when it runs the simulator in their place.
SIMULATOR_SECRETS = {
    "PIXWAVE_MERCADOPAGO_ACCESS_TOKEN": "TEST-simulator",
    "PIXWAVE_MERCADOPAGO_WEBHOOK_SECRET": "simulator-webhook-secret",
    "PIXWAVE_EFI_CLIENT_ID": "Client_Id_simulator",
    "PIXWAVE_EFI_CLIENT_SECRET": "Client_Secret_simulator",
    "PIXWAVE_EFI_PIX_KEY": "pix@pixwave.example",
    "PIXWAVE_EFI_WEBHOOK_HMAC": "simulator-hmac",
}
# moto accepts any credentials but botocore insists on some; in runtime.env they reach
# every role and every command run beside `up` (pixwave dlq, queues stats).
EMBEDDED_AWS_CREDENTIALS = {
    "PIXWAVE_AWS_ACCESS_KEY_ID": "test",
    "PIXWAVE_AWS_SECRET_ACCESS_KEY": "test",
}
DEMO_MERCHANT_NAME = "Demo merchant"


def port_is_free(port: int) -> bool:
    """Free for a server: uvicorn binds with SO_REUSEADDR, so connections of a previous
    run still in TIME_WAIT do not count."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def load_or_create_document_key(data_dir: Path) -> str:
    path = data_dir / DOCUMENT_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b64encode(os.urandom(DOCUMENT_KEY_BYTES)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


def service_environment(settings: Settings, embedded: EmbeddedServices) -> dict[str, str]:
    """The variables every role needs, starting embedded services for gaps."""
    env = {
        "PIXWAVE_DATABASE_URL": settings.database_url or embedded.start_postgres(),
        "PIXWAVE_REDIS_URL": settings.redis_url or embedded.start_redis(),
        "PIXWAVE_DOCUMENT_KEY": (
            settings.document_key.get_secret_value()
            if settings.document_key is not None
            else load_or_create_document_key(settings.data_dir)
        ),
    }
    if settings.aws_endpoint_url:
        env["PIXWAVE_AWS_ENDPOINT_URL"] = settings.aws_endpoint_url
    else:
        env["PIXWAVE_AWS_ENDPOINT_URL"] = embedded.start_aws()
        env |= EMBEDDED_AWS_CREDENTIALS
    return env


def gateways_configured(settings: Settings) -> bool:
    return settings.mercadopago_access_token is not None or settings.efi_client_id is not None


def simulated_gateways(settings: Settings, api_url: str) -> tuple[dict[str, str], Role]:
    """Point both adapters at a `pixwave gateway-sim` role, and its callbacks at the API."""
    port = settings.gateway_sim_port
    port = port if port_is_free(port) else free_port()
    sim_url = f"http://{settings.api_host}:{port}"
    env = {
        **SIMULATOR_SECRETS,
        "PIXWAVE_MERCADOPAGO_BASE_URL": f"{sim_url}/mercadopago",
        "PIXWAVE_EFI_BASE_URL": f"{sim_url}/efi",
        "PIXWAVE_GATEWAY_SIM_PORT": str(port),
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
    path.write_text(json.dumps({"merchant_id": issued.merchant_id, "secret": issued.secret}))
    path.chmod(0o600)
    return issued.secret


def run(settings: Settings, *, json_logs: bool) -> None:
    embedded = EmbeddedServices(settings.data_dir)
    processes: list[RoleProcess] = []
    try:
        service_env = service_environment(settings, embedded)
        os.environ.update(service_env)
        resolved = Settings()
        migrate.upgrade(service_env["PIXWAVE_DATABASE_URL"])
        # moto keeps nothing across restarts, so the topology is applied at every start.
        for change in apply_topology(resolved):
            logger.info("up.topology", action=change.action, kind=change.kind, name=change.name)
        secret = asyncio.run(ensure_demo_merchant(resolved, settings.data_dir))
        RUNTIME_ENV_FILE.parent.mkdir(parents=True, exist_ok=True)
        RUNTIME_ENV_FILE.write_text("".join(f"{k}={v}\n" for k, v in service_env.items()))
        port = settings.api_port if port_is_free(settings.api_port) else free_port()
        api_url = f"http://{settings.api_host}:{port}"
        env = {
            **os.environ,
            "PIXWAVE_API_PORT": str(port),
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
        roles, sim_url = list(ROLES), None
        if not gateways_configured(settings):
            sim_env, sim_role = simulated_gateways(settings, api_url)
            env |= sim_env
            roles.append(sim_role)
            sim_url = sim_env["PIXWAVE_MERCADOPAGO_BASE_URL"].removesuffix("/mercadopago")
        processes.extend(RoleProcess(role, env) for role in roles)
        wait_until_ready(f"{api_url}/readyz", processes)
        if sim_url is not None:
            wait_until_ready(f"{sim_url}/_sim/faults", processes)
        up_file = settings.data_dir / UP_FILE
        up_file.write_text(json.dumps({"api_url": api_url, "gateway_sim_url": sim_url}))
        print(banner(api_url, secret, sim_url), flush=True)
        wait_for_stop(processes)
    finally:
        # All at once: each role drains in its own time, the slowest sets the pace.
        for process in processes:
            process.ask_to_stop()
        for process in processes:
            process.wait_or_kill()
        RUNTIME_ENV_FILE.unlink(missing_ok=True)
        (settings.data_dir / UP_FILE).unlink(missing_ok=True)
        embedded.close()


def banner(api_url: str, secret: str, sim_url: str | None) -> str:
    gateways = (
        f"  Gateways {sim_url}  (simulator; pay a PIX charge with "
        f"`pixwave gateway-sim-pay efi|mercadopago REFERENCE --url {sim_url}`)\n"
        if sim_url
        else ""
    )
    return (
        f"\nPixWave is up.\n"
        f"  API      {api_url}\n"
        f"  Docs     {api_url}/docs\n"
        f"  API key  {secret}   (test mode)\n"
        f"{gateways}"
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
