"""The roles `pixwave up` runs and the ports each serves on: configured ones checked
before anything starts, free ones picked for a worker's later instances."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.domain.errors import OperatorError
from app.embedded import free_port
from app.settings import Settings
from app.up_environment import port_is_free

# Under `up` both workers share a host: the webhooks worker serves its metrics this far
# above PIXWAVE_WORKER_METRICS_PORT (9104 by default; 9103 is the scheduler's).
WEBHOOKS_METRICS_PORT_OFFSET = 2


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    args: tuple[str, ...]
    # The variable of the role's metrics port, and how far above its value this role
    # serves (under `up`; a fleet of many gives each a free port instead).
    metrics_port_variable: str | None = None
    metrics_port_offset: int = 0
    # A worker's second and later instances serve their metrics on a free port.
    instance: int = 1

    def metrics_port(self, settings: Settings) -> int | None:
        """The configured port; None when the role has none or it is turned off (0)."""
        if self.metrics_port_variable is None:
            return None
        port = int(getattr(settings, self.metrics_port_variable.removeprefix("PIXWAVE_").lower()))
        return port + self.metrics_port_offset if port else None

    def process_port(self, settings: Settings) -> int | None:
        """What RoleProcess is given: the configured port, 0 for none, or None (a free
        one) for a worker's later instances, whose configured port the first one took."""
        port = self.metrics_port(settings)
        if port is None:
            return 0
        return port if self.instance == 1 else None


def metrics_ports(
    roles: list[Role], settings: Settings, taken: set[int], pick: Callable[[], int] = free_port
) -> list[int]:
    """Each role's metrics port: its configured one (0: none), or, for a worker's later
    instances, a free port that no role was given. A port picked free is not bound until
    its role has started, so the next pick can return it again."""
    ports = []
    for role in roles:
        port = role.process_port(settings)
        while port is None:
            picked = pick()
            port = None if picked in taken else picked
        taken.add(port)
        ports.append(port)
    return ports


def up_roles(settings: Settings) -> list[Role]:
    """api, relay, PIXWAVE_UP_CHARGE_WORKERS charge and PIXWAVE_UP_WEBHOOK_WORKERS
    webhook workers (``charge``, ``charge-2`` …), and the scheduler."""

    def workers(name: str, count: int, offset: int = 0) -> list[Role]:
        return [
            Role(
                name if n == 1 else f"{name}-{n}",
                ("worker", name),
                "PIXWAVE_WORKER_METRICS_PORT",
                offset,
                instance=n,
            )
            for n in range(1, count + 1)
        ]

    return [
        Role("api", ("api",)),
        Role("relay", ("relay",), "PIXWAVE_RELAY_METRICS_PORT"),
        *workers("charge", settings.up_charge_workers),
        *workers("webhooks", settings.up_webhook_workers, WEBHOOKS_METRICS_PORT_OFFSET),
        Role("scheduler", ("scheduler",), "PIXWAVE_SCHEDULER_METRICS_PORT"),
    ]


def require_free_ports(settings: Settings, simulated: bool) -> None:
    """Every port `up` serves on, as configured: a taken one stops it before anything
    starts (not another port quietly, while something else answers on this one)."""
    for variable, port in configured_ports(settings, simulated):
        if not port_is_free(port):
            raise OperatorError(
                f"port {port} ({variable}) is taken: stop what listens there"
                f" (`ss -ltnp 'sport = {port}'`) or choose another port"
            )


def configured_ports(settings: Settings, simulated: bool) -> list[tuple[str, int]]:
    """The ports `up` serves on as configured, each with the setting that names it."""
    wanted = [("PIXWAVE_API_PORT", settings.api_port)]
    if simulated:
        wanted.append(("PIXWAVE_GATEWAY_SIM_PORT", settings.gateway_sim_port))
    for role in up_roles(settings):
        port = role.metrics_port(settings)
        if port is not None and role.instance == 1:
            offset = f" + {role.metrics_port_offset}" if role.metrics_port_offset else ""
            wanted.append((f"{role.name} metrics, {role.metrics_port_variable}{offset}", port))
    return wanted
