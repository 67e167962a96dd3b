"""The whole system in one scratch directory, each role a process that can be SIGKILLed
and started again, with the AWS API server behind a proxy that can be cut and a Redis
that can be stopped."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
from pathlib import Path
from types import TracebackType
from typing import Self

from app.aws import AWS_CALL_ERRORS
from app.db import migrate
from app.embedded import EmbeddedServices, free_port
from app.settings import DOCUMENT_KEY_BYTES, Settings
from app.supervisor import (
    RoleProcess,
    ensure_demo_merchant,
    simulated_gateways,
    wait_until_ready,
)
from app.up_environment import EMBEDDED_AWS_CREDENTIALS, require_aws_credentials
from app.up_roles import up_roles
from devtools.chaos.outage import OutageProxy, RedisOutage
from outbox.service import apply_topology, destroy_topology

STOP_WAIT_SECONDS = 30.0
# Roles the chaos kills: everything that holds work in flight between PostgreSQL and SQS.
KILLABLE_COMMANDS = ("relay", "worker")


class Fleet:
    """The roles of `pixwave up` (``charge_workers`` and ``webhook_workers`` of each
    worker), against embedded moto or, given ``aws_endpoint``, an AWS API server of one's
    own such as LocalStack (credentials as for `up`: PIXWAVE_AWS_ACCESS_KEY_ID or
    boto3's). Either way the roles reach it through the cuttable proxy."""

    def __init__(
        self,
        data_dir: Path,
        *,
        prefix: str = "chaos",
        aws_endpoint: str | None = None,
        charge_workers: int = 2,
        webhook_workers: int = 1,
    ) -> None:
        self.data_dir = data_dir
        self.prefix = prefix
        self._aws_endpoint = aws_endpoint
        self._workers = {
            "PIXWAVE_UP_CHARGE_WORKERS": str(charge_workers),
            "PIXWAVE_UP_WEBHOOK_WORKERS": str(webhook_workers),
        }
        self._embedded = EmbeddedServices(data_dir)
        self.processes: dict[str, RoleProcess] = {}
        self.kills = 0
        # Roles that exited without being killed: each one is a bug the run reports.
        self.crashes: list[str] = []
        self._closing = False
        self._redis: RedisOutage | None = None
        self._topology_applied = False

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        aws_credentials = {} if self._aws_endpoint else EMBEDDED_AWS_CREDENTIALS
        self.aws = OutageProxy.before(self._aws_endpoint or self._embedded.start_aws())
        self._redis = RedisOutage(self.data_dir / "redis")
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "PIXWAVE_DATABASE_URL": self._embedded.start_postgres(),
            "PIXWAVE_REDIS_URL": self._redis.url,
            "PIXWAVE_DOCUMENT_KEY": base64.b64encode(os.urandom(DOCUMENT_KEY_BYTES)).decode(),
            "PIXWAVE_AWS_ENDPOINT_URL": self.aws.url,
            **aws_credentials,
            **self._workers,
            "PIXWAVE_NAME_PREFIX": self.prefix,
            "PIXWAVE_API_PORT": str(port),
            "PIXWAVE_GATEWAY_SIM_PORT": str(free_port()),
            "PIXWAVE_DATA_DIR": str(self.data_dir),
            "PIXWAVE_PUBLIC_BASE_URL": self.api_url,
            "PIXWAVE_RATE_LIMIT_PER_SECOND": "100000",
            "PIXWAVE_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
            "PIXWAVE_WEBHOOK_RETRY_BASE_SECONDS": "1",
            "PIXWAVE_GATEWAY_CIRCUIT_OPEN_SECONDS": "5",
            "PIXWAVE_WORKER_RECEIVE_WAIT_SECONDS": "2",
            "PIXWAVE_LOG_LEVEL": "WARNING",
            "PIXWAVE_LOG_JSON": "false",
        }
        self.settings = settings = Settings.model_validate(fleet_settings_fields(self.env))
        require_aws_credentials(settings)
        migrate.upgrade(self.env["PIXWAVE_DATABASE_URL"])
        apply_topology(settings)
        self._topology_applied = True
        self.api_key = asyncio.run(ensure_demo_merchant(settings, self.data_dir))
        sim_env, sim_role = simulated_gateways(settings, self.api_url)
        self.env |= sim_env
        self.sim_url = sim_env["PIXWAVE_MERCADOPAGO_BASE_URL"].removesuffix("/mercadopago")
        self.roles = {role.name: role for role in [sim_role, *up_roles(settings)]}
        self.killable = [n for n, r in self.roles.items() if r.args[0] in KILLABLE_COMMANDS]
        for name in self.roles:
            self.start(name)
        wait_until_ready(f"{self.api_url}/readyz", list(self.processes.values()))
        wait_until_ready(f"{self.sim_url}/_sim/faults", list(self.processes.values()))

    @property
    def redis(self) -> RedisOutage:
        assert self._redis is not None, "the fleet is not started"
        return self._redis

    def start(self, name: str) -> None:
        if not self._closing:  # a kill thread still running after Ctrl-C must not restart
            self.processes[name] = RoleProcess(self.roles[name], self.env, free_port())

    def kill_and_restart(self, name: str) -> None:
        """SIGKILL: no drain, no cleanup; whatever it held must come back by itself."""
        self.restart_crashed()
        process = self.processes[name].process
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.kills += 1
        self.start(name)

    def restart_crashed(self) -> None:
        """Restart roles that exited by themselves, as an orchestrator would, noting each."""
        for name, role in self.processes.items():
            code = role.process.poll()
            if code is not None:
                self.crashes.append(f"{name} exited by itself with {code}")
                self.start(name)

    def close(self) -> None:
        self._closing = True
        for process in self.processes.values():
            process.ask_to_stop()
        for process in self.processes.values():
            process.wait_or_kill()
        if self._redis is not None:
            self._redis.cut()
        self._destroy_own_topology()
        self._embedded.close()

    def _destroy_own_topology(self) -> None:
        """An endpoint of one's own outlives the run: leave no queues of it behind."""
        if self._aws_endpoint is None or not self._topology_applied:
            return
        direct = self.settings.model_copy(update={"aws_endpoint_url": self._aws_endpoint})
        try:
            destroy_topology(direct)
        except AWS_CALL_ERRORS as exc:
            print(f"could not delete the run's queues and topics: {exc!r}")


def fleet_settings_fields(env: dict[str, str]) -> dict[str, str]:
    """The Settings fields the ``PIXWAVE_*`` variables of ``env`` set."""
    prefix = "PIXWAVE_"
    fields = set(Settings.model_fields)
    return {
        key.removeprefix(prefix).lower(): value
        for key, value in env.items()
        if key.startswith(prefix) and key.removeprefix(prefix).lower() in fields
    }


def new_prefix() -> str:
    return f"chaos{secrets.token_hex(4)}"
