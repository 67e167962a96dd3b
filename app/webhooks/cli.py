"""`pixwave webhooks verify`: check a webhook as a merchant's receiver would."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from app.domain.webhooks import SIGNATURE_TOLERANCE_SECONDS, SignatureMismatch, verify

webhooks_cli = typer.Typer(help="Merchant webhooks.")


@webhooks_cli.command("verify")
def verify_command(
    secret: Annotated[str, typer.Option(help="The endpoint's signing secret (whsec_…)")],
    header: Annotated[str, typer.Option(help="The PixWave-Signature header, as received")],
    payload: Annotated[
        Path, typer.Option(help="File with the raw request body, exactly as received; - for stdin")
    ] = Path("-"),
    tolerance: Annotated[
        int, typer.Option(help="Seconds the timestamp may be off")
    ] = SIGNATURE_TOLERANCE_SECONDS,
    at: Annotated[
        int | None, typer.Option(help="Check as of this unix time (default: now)")
    ] = None,
) -> None:
    """Exit 0 when one v1 signature matches the body and secret and the time is within
    the tolerance; exit 1 and say why otherwise."""
    body = sys.stdin.buffer.read() if str(payload) == "-" else _read(payload)
    now = int(time.time()) if at is None else at
    try:
        signed_at = verify(header, body, secret, now=now, tolerance_seconds=tolerance)
    except SignatureMismatch as exc:
        typer.echo(f"invalid: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"valid: signed at {signed_at}, {now - signed_at} s ago")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
