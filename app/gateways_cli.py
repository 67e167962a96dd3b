"""`pixwave gateways …`: operator calls to a gateway's own API."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from app.cli_support import load_settings
from app.domain.errors import GatewayError
from app.gateways.efi import Efi
from app.gateways.port import GatewayName
from app.gateways.registry import open_gateways

# Where PixWave takes Efí callbacks, under PIXWAVE_PUBLIC_BASE_URL.
EFI_CALLBACK_PATH = "/v1/callbacks/efi"

gateways_cli = typer.Typer(help="Calls to the gateways' own APIs.")


@gateways_cli.command("efi-register-webhook")
def efi_register_webhook(
    url: Annotated[
        str | None,
        typer.Option(help=f"Callback URL [default: $PIXWAVE_PUBLIC_BASE_URL{EFI_CALLBACK_PATH}]"),
    ] = None,
    skip_mtls: Annotated[
        bool,
        typer.Option(
            help="Send x-skip-mtls-checking: true (only where the ingress cannot do mTLS)"
        ),
    ] = False,
) -> None:
    """Register our callback URL for the Efí Pix key (PUT /v2/webhook/:chave). Efí calls
    the URL before it answers, so the API must be reachable there."""
    settings = load_settings()
    target = url or (
        settings.public_base_url.rstrip("/") + EFI_CALLBACK_PATH
        if settings.public_base_url
        else None
    )
    if target is None:
        typer.echo("error: give --url or set PIXWAVE_PUBLIC_BASE_URL", err=True)
        raise typer.Exit(2)

    async def register() -> str:
        gateways = open_gateways(settings)
        try:
            efi = gateways.get(GatewayName.EFI)
            if not isinstance(efi, Efi):
                raise typer.BadParameter("Efí credentials are not configured (PIXWAVE_EFI_*)")
            return await efi.register_webhook(target, skip_mtls=skip_mtls)
        finally:
            await gateways.close()

    try:
        registered = asyncio.run(register())
    except GatewayError as exc:
        typer.echo(f"error: Efí refused the webhook: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"registered {registered.split('?', 1)[0]} (with the hmac token and ignorar=)")
