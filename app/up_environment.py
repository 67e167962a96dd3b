"""What `pixwave up` hands its roles and the commands beside it: the services'
variables (starting embedded ones for gaps), runtime.env, and the secrets it keeps in
the data directory, each file private (0600)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
from pathlib import Path

import boto3

from app.domain.errors import OperatorError
from app.embedded import EmbeddedServices
from app.lifecycle import write_private
from app.settings import DOCUMENT_KEY_BYTES, Settings

DOCUMENT_KEY_FILE = "document.key"
SIMULATOR_SECRETS_FILE = "simulator-secrets.json"
SIMULATOR_SECRET_BYTES = 32
# The simulator signs its callbacks with these and the API verifies them: made for each
# data directory (SIMULATOR_SECRETS_FILE), so nobody can forge a payment from the code.
SIMULATOR_CALLBACK_SECRETS = ("PIXWAVE_MERCADOPAGO_WEBHOOK_SECRET", "PIXWAVE_EFI_WEBHOOK_HMAC")
# What else other `pixwave` commands beside `up` need to see the same system.
TOPOLOGY_SETTINGS = ("name_prefix", "fifo", "aws_region", "events_topic_arn", "alerts_topic_arn")
# moto accepts any credentials but botocore insists on some; in runtime.env they reach
# every role and every command run beside `up` (pixwave dlq, queues stats).
EMBEDDED_AWS_CREDENTIALS = {
    "PIXWAVE_AWS_ACCESS_KEY_ID": "test",
    "PIXWAVE_AWS_SECRET_ACCESS_KEY": "test",
}


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
        write_private(path, base64.b64encode(os.urandom(DOCUMENT_KEY_BYTES)).decode())
    return path.read_text().strip()


def load_or_create_simulator_secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / SIMULATOR_SECRETS_FILE
    if not path.exists():
        made = {
            name: secrets.token_urlsafe(SIMULATOR_SECRET_BYTES)
            for name in SIMULATOR_CALLBACK_SECRETS
        }
        write_private(path, json.dumps(made))
    loaded: dict[str, str] = json.loads(path.read_text())
    return loaded


def require_aws_credentials(settings: Settings) -> None:
    """An endpoint of one's own needs credentials; botocore would fail at the first call."""
    if settings.aws_access_key_id is not None:
        return
    if boto3.Session().get_credentials() is None:
        raise OperatorError(
            f"no AWS credentials for {settings.aws_endpoint_url}: set"
            " PIXWAVE_AWS_ACCESS_KEY_ID and PIXWAVE_AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
        )


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


def runtime_environment(settings: Settings, service_env: dict[str, str]) -> str:
    """runtime.env: what a command beside `up` needs to reach the same system."""
    values = dict(service_env)
    for name in TOPOLOGY_SETTINGS:
        value = getattr(settings, name)
        if value is not None:
            values[f"PIXWAVE_{name.upper()}"] = str(value)
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        values["PIXWAVE_AWS_ACCESS_KEY_ID"] = settings.aws_access_key_id
        values["PIXWAVE_AWS_SECRET_ACCESS_KEY"] = settings.aws_secret_access_key.get_secret_value()
    return "".join(f"{name}={value}\n" for name, value in values.items())
