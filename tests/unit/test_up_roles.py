"""The roles `pixwave up` runs, and where each one serves its metrics."""

from __future__ import annotations

from app.settings import Settings
from app.up_roles import (
    WEBHOOKS_METRICS_PORT_OFFSET,
    configured_ports,
    metrics_ports,
    up_roles,
)


def test_one_worker_of_each_kind_by_default() -> None:
    roles = up_roles(Settings())
    assert [role.name for role in roles] == ["api", "relay", "charge", "webhooks", "scheduler"]


def test_more_workers_each_run_the_same_consumer_and_take_free_metrics_ports() -> None:
    settings = Settings(up_charge_workers=3, up_webhook_workers=2, worker_metrics_port=9202)
    roles = {role.name: role for role in up_roles(settings)}
    assert list(roles) == [
        "api", "relay", "charge", "charge-2", "charge-3", "webhooks", "webhooks-2", "scheduler"
    ]  # fmt: skip
    assert {name: roles[name].args for name in ("charge-3", "webhooks-2")} == {
        "charge-3": ("worker", "charge"),
        "webhooks-2": ("worker", "webhooks"),
    }
    ports = {name: role.process_port(settings) for name, role in roles.items()}
    # The first of a kind keeps the configured port; None: metrics_ports picks a free one.
    assert ports == {
        "api": 0,
        "relay": settings.relay_metrics_port,
        "charge": 9202,
        "charge-2": None,
        "charge-3": None,
        "webhooks": 9202 + WEBHOOKS_METRICS_PORT_OFFSET,
        "webhooks-2": None,
        "scheduler": settings.scheduler_metrics_port,
    }


def test_metrics_turned_off_stay_off_for_every_instance() -> None:
    settings = Settings(up_charge_workers=2, worker_metrics_port=0)
    ports = {role.name: role.process_port(settings) for role in up_roles(settings)}
    assert ports["charge"] == ports["charge-2"] == ports["webhooks"] == 0


def test_a_picked_port_is_never_one_another_role_was_given() -> None:
    """A port picked free is not bound until its role starts, so the picker can hand it
    out again (CI saw charge-2 get the relay's port): every pick must be skipped until
    it is one no role has."""
    settings = Settings(
        up_charge_workers=3, up_webhook_workers=2, worker_metrics_port=9202, relay_metrics_port=9101
    )
    roles = up_roles(settings)
    taken = {port for _, port in configured_ports(settings, simulated=True)}
    picks = iter([9101, 9202, 40000, 40000, 9101, 40001, 40001, 40002])

    ports = dict(
        zip(
            (r.name for r in roles),
            metrics_ports(roles, settings, taken, lambda: next(picks)),
            strict=True,
        )
    )

    assert [ports[name] for name in ("charge-2", "charge-3", "webhooks-2")] == [40000, 40001, 40002]
    given = [port for port in ports.values() if port]
    assert len(given) == len(set(given))
    assert ports["api"] == 0
    assert ports["relay"] == 9101
