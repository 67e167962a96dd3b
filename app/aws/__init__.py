"""AWS clients: app/aws/client.py for the roles' hot paths, boto3 for operator tools."""

from __future__ import annotations

from typing import Any

import aiohttp
import aiohttp.http_exceptions
import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.aws.client import AwsClient
from app.settings import Settings

CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 25  # above SQS's 20 s long poll
MAX_POOL_CONNECTIONS = 50
# PixWave retries on its own terms (relay breaker, SQS visibility); botocore must not.
_NO_RETRIES = {"max_attempts": 1, "mode": "standard"}

# Every way an AWS call can fail: an answer (ClientError), no credentials (BotoCoreError),
# or the transport (aiohttp's errors; OSError, which covers timeouts).
AWS_CALL_ERRORS: tuple[type[Exception], ...] = (
    ClientError,
    BotoCoreError,
    OSError,
    aiohttp.ClientError,
    aiohttp.http_exceptions.HttpProcessingError,
)


# The same, less the answers AWS gave (no such queue, access denied): these mean it could
# not be reached at all, which is an outage to wait out.
AWS_UNREACHABLE_ERRORS: tuple[type[Exception], ...] = tuple(
    error for error in AWS_CALL_ERRORS if error is not ClientError
)


def _client_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"region_name": settings.aws_region}
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        kwargs["aws_access_key_id"] = settings.aws_access_key_id
        kwargs["aws_secret_access_key"] = settings.aws_secret_access_key.get_secret_value()
    return kwargs


def async_client(service: str, settings: Settings) -> AwsClient:
    """The roles' client: ``async with async_client("sns", settings) as sns``."""
    session = botocore.session.get_session()
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        session.set_credentials(
            settings.aws_access_key_id, settings.aws_secret_access_key.get_secret_value()
        )
    return AwsClient(
        session,
        service,
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url or _endpoint_of(session, service, settings),
        connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds=READ_TIMEOUT_SECONDS,
        max_connections=MAX_POOL_CONNECTIONS,
    )


def _endpoint_of(session: botocore.session.Session, service: str, settings: Settings) -> str:
    """botocore's endpoint for the region (partition, FIPS and dual-stack settings
    included), resolved once as the client is made."""
    url: str = session.create_client(service, region_name=settings.aws_region).meta.endpoint_url
    return url


def sync_client(service: str, settings: Settings, *, retries: bool = True) -> Any:
    """A boto3 client; ``retries=False`` for a call whose failure the caller acts on at once."""
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        **({} if retries else {"retries": _NO_RETRIES}),
    )
    return boto3.client(service, config=config, **_client_kwargs(settings))
