"""`pixwave gateway-sim` (serve the simulator), `pixwave gateway-sim-faults …` and
`pixwave gateway-sim-pay` (drive a running one over its `/_sim` API)."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from pydantic import SecretStr

from app.cli_support import load_settings
from app.logs import configure_logging
from app.settings import Settings
from gatewaysim.app import create_simulator_app
from gatewaysim.config import DEFAULT_TIMEOUT_HANG_SECONDS, SimulatorConfig
from gatewaysim.gateways import Gateway

DEFAULT_MERCADOPAGO_SECRET = "sim-secret"  # noqa: S105 - the simulator's own default
DEFAULT_EFI_HMAC = "sim-hmac"
# Where PixWave takes Efí callbacks, under PIXWAVE_PUBLIC_BASE_URL.
EFI_CALLBACK_PATH = "/v1/callbacks/efi"
ADMIN_TIMEOUT_SECONDS = 10.0
GRACEFUL_SHUTDOWN_SECONDS = 5

faults_cli = typer.Typer(help="Faults of a running gateway simulator.")
UrlOption = Annotated[
    str | None,
    typer.Option(help="The simulator [default: http://127.0.0.1:$PIXWAVE_GATEWAY_SIM_PORT]"),
]
Rate = Annotated[float | None, typer.Option(min=0, max=1)]


def gateway_sim(
    host: Annotated[str | None, typer.Option(help="[default: $PIXWAVE_API_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="[default: $PIXWAVE_GATEWAY_SIM_PORT]")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of every random draw")] = None,
    efi_webhook_url: Annotated[
        str | None,
        typer.Option(help="Where Efí callbacks go [default: $PIXWAVE_PUBLIC_BASE_URL/v1/…]"),
    ] = None,
    timeout_hang_seconds: Annotated[
        float, typer.Option(min=0, help="How long a timeout fault holds an answer back")
    ] = DEFAULT_TIMEOUT_HANG_SECONDS,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM with the server certificate and key: serve HTTPS")
    ] = None,
    client_ca: Annotated[
        Path | None,
        typer.Option(help="With --tls-cert: demand client certificates this CA signed (mTLS)"),
    ] = None,
) -> None:
    """Serve a Mercado Pago and Efí stand-in (in memory) for tests, `up` and load runs."""
    settings = load_settings()
    configure_logging(role="gateway-sim", level=settings.log_level, json_lines=settings.log_json)
    config = simulator_config(settings, seed, efi_webhook_url, timeout_hang_seconds)
    tls: dict[str, Any] = {}
    if tls_cert is not None:
        tls = {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_cert)}
    if tls and client_ca is not None:
        tls |= {"ssl_ca_certs": str(client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    uvicorn.run(
        create_simulator_app(config),
        host=host or settings.api_host,
        port=port or settings.gateway_sim_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        **tls,
    )


def simulator_config(
    settings: Settings,
    seed: int | None,
    efi_webhook_url: str | None,
    timeout_hang_seconds: float = DEFAULT_TIMEOUT_HANG_SECONDS,
) -> SimulatorConfig:
    if efi_webhook_url is None and settings.public_base_url is not None:
        efi_webhook_url = settings.public_base_url.rstrip("/") + EFI_CALLBACK_PATH
    return SimulatorConfig(
        mercadopago_webhook_secret=_revealed(
            settings.mercadopago_webhook_secret, DEFAULT_MERCADOPAGO_SECRET
        ),
        efi_webhook_url=efi_webhook_url,
        efi_webhook_hmac=_revealed(settings.efi_webhook_hmac, DEFAULT_EFI_HMAC),
        seed=seed,
        timeout_hang_seconds=timeout_hang_seconds,
    )


@faults_cli.command("set")
def faults_set(
    gateway: Gateway,
    error_rate: Rate = None,
    decline_rate: Rate = None,
    latency_ms: Annotated[int | None, typer.Option(min=0)] = None,
    timeout_rate: Rate = None,
    outage: Annotated[bool | None, typer.Option("--outage/--no-outage")] = None,
    pix_auto_pay_seconds: Annotated[float | None, typer.Option(min=0)] = None,
    no_pix_auto_pay: Annotated[
        bool, typer.Option("--no-pix-auto-pay", help="Stop paying PIX automatically")
    ] = False,
    search_lag_seconds: Annotated[
        float | None, typer.Option(min=0, help="Mercado Pago: search lags new payments")
    ] = None,
    conflict_rate: Rate = None,
    locked_rate: Rate = None,
    dependency_failure_rate: Rate = None,
    refund_status: Annotated[
        str | None, typer.Option(help="Mercado Pago: approved, in_process or rejected")
    ] = None,
    refund_settle_seconds: Annotated[
        float | None, typer.Option(min=0, help="Efí: devoluções settle this long after")
    ] = None,
    refunds_stay_pending: Annotated[
        bool, typer.Option(help="Efí: devoluções stay EM_PROCESSAMENTO until settled by hand")
    ] = False,
    refund_failure_rate: Rate = None,
    callback_duplicate_rate: Rate = None,
    callback_drop_rate: Rate = None,
    throttle_rate: Rate = None,
    send_settle_seconds: Annotated[
        float | None, typer.Option(min=0, help="Efí: Pix sends settle this long after")
    ] = None,
    sends_stay_pending: Annotated[
        bool, typer.Option(help="Efí: Pix sends stay EM_PROCESSAMENTO until settled by hand")
    ] = False,
    send_failure_rate: Rate = None,
    send_denied_rate: Rate = None,
    send_read_lag_seconds: Annotated[
        float | None, typer.Option(min=0, help="Efí: a new Pix send reads as 404 this long")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Change the given faults of one gateway; the others keep their value (the Mercado
    Pago ones: docs/gateways/mercadopago.md, "Simulator knobs")."""
    given = {
        "error_rate": error_rate,
        "decline_rate": decline_rate,
        "latency_ms": latency_ms,
        "timeout_rate": timeout_rate,
        "outage": outage,
        "pix_auto_pay_seconds": pix_auto_pay_seconds,
        "search_lag_seconds": search_lag_seconds,
        "conflict_rate": conflict_rate,
        "locked_rate": locked_rate,
        "dependency_failure_rate": dependency_failure_rate,
        "refund_status": refund_status,
        "refund_settle_seconds": refund_settle_seconds,
        "refund_failure_rate": refund_failure_rate,
        "callback_duplicate_rate": callback_duplicate_rate,
        "callback_drop_rate": callback_drop_rate,
        "throttle_rate": throttle_rate,
        "send_settle_seconds": send_settle_seconds,
        "send_failure_rate": send_failure_rate,
        "send_denied_rate": send_denied_rate,
        "send_read_lag_seconds": send_read_lag_seconds,
    }
    changes: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    if no_pix_auto_pay:
        changes["pix_auto_pay_seconds"] = None
    if refunds_stay_pending:
        changes["refund_settle_seconds"] = None
    if sends_stay_pending:
        changes["send_settle_seconds"] = None
    _echo(_admin("PUT", url, f"/faults/{gateway.value}", changes))


@faults_cli.command("show")
def faults_show(url: UrlOption = None) -> None:
    """Print every gateway's faults."""
    _echo(_admin("GET", url, "/faults"))


@faults_cli.command("reset")
def faults_reset(url: UrlOption = None) -> None:
    """Clear every fault of every gateway."""
    _echo(_admin("DELETE", url, "/faults"))


def gateway_sim_pay(
    gateway: Gateway,
    reference: Annotated[str, typer.Argument(help="Mercado Pago payment id or Efí txid")],
    amount_cents: Annotated[
        int | None, typer.Option(min=1, help="Pay this instead of the charge's amount")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Pay a PIX charge as its payer would; the gateway's callback follows."""
    body = None if amount_cents is None else {"amount_cents": amount_cents}
    _echo(_admin("POST", url, f"/pay/{gateway.value}/{reference}", body))


def _admin(method: str, url: str | None, path: str, body: dict[str, Any] | None = None) -> Any:
    base = url or f"http://127.0.0.1:{load_settings().gateway_sim_port}"
    try:
        response = httpx.request(
            method, f"{base.rstrip('/')}/_sim{path}", json=body, timeout=ADMIN_TIMEOUT_SECONDS
        )
    except httpx.HTTPError as exc:
        typer.echo(f"error: the simulator at {base} did not answer: {exc}", err=True)
        raise typer.Exit(1) from exc
    if response.is_error:
        typer.echo(f"error: HTTP {response.status_code}: {response.text}", err=True)
        raise typer.Exit(1)
    return response.json()


def _echo(answer: Any) -> None:
    typer.echo(json.dumps(answer, indent=2))


def _revealed(secret: SecretStr | None, default: str) -> str:
    return default if secret is None else secret.get_secret_value()
