"""Settings loading shared by every `pixwave` command."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from app.settings import Settings, get_settings


def load_settings() -> Settings:
    """Bad configuration refuses to start, naming the variable and the rule."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "PIXWAVE_" + "_".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"error: {name}: {error['msg']}", err=True)
        raise typer.Exit(2) from exc


def settings_with(*required: str) -> Settings:
    """Missing configuration refuses to start, naming the variable."""
    settings = load_settings()
    missing = [f"PIXWAVE_{name.upper()}" for name in required if getattr(settings, name) is None]
    if missing:
        typer.echo(f"error: set {', '.join(missing)} (or run `pixwave up`)", err=True)
        raise typer.Exit(2)
    return settings
