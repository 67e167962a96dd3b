"""All configuration, from ``PIXWAVE_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DOCUMENT_KEY_BYTES = 32
# Longer than a message can live: 4 days in its queue, then 14 in the DLQ
# (outbox/topology.py). `pixwave scheduler` checks it against the declared topology.
INBOX_MIN_RETENTION_DAYS = 19
# How long a handled message's delete waits for others to share its DeleteMessageBatch
# call (workers/runtime/deletes.py). The worker's heartbeat keeps it invisible meanwhile,
# and it is far below any queue's visibility timeout (30 s and more).
DELETE_FLUSH_SECONDS = 0.5
# A relay lane woken by a NOTIFY claims this much later (outbox/relay.py), so rows
# committed one by one meanwhile share its claim and PublishBatch calls.
RELAY_GATHER_SECONDS = 0.005
# `pixwave up` writes the services it started and the topology it runs into this file
# of its data directory, so other `pixwave` commands given the same PIXWAVE_DATA_DIR
# (or none: ./.pixwave) find them. Read before .env; real variables win over both.
RUNTIME_ENV_FILE = "runtime.env"
ENV_FILE = ".env"
# The console's token is a password nobody types twice a day: long enough not to guess.
OPERATOR_TOKEN_MIN_CHARS = 24


class Settings(BaseSettings):
    # An empty variable (as .env.example lists them) means unset, not "".
    model_config = SettingsConfigDict(
        env_prefix="PIXWAVE_",
        env_file=ENV_FILE,
        extra="ignore",
        env_ignore_empty=True,
    )

    # Services. Unset under `pixwave up` means "start the embedded one".
    database_url: str | None = None
    redis_url: str | None = None
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    # Credentials for an AWS-compatible endpoint (moto, LocalStack; `pixwave up` sets them
    # for its embedded one). Unset: botocore's own chain (environment, profile, role).
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    # Topology: resource names are "<prefix>-events", "<prefix>-charge", … (".fifo" when FIFO).
    name_prefix: str = Field(default="pixwave", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    fifo: bool = False
    # The relay may be given topic ARNs (Terraform outputs them); otherwise it looks them up.
    events_topic_arn: str | None = None
    alerts_topic_arn: str | None = None
    data_dir: Path = Path(".pixwave")

    # HTTP API.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    rate_limit_per_second: int = Field(default=100, ge=1)
    # Failed authentications (bad API keys, forged callbacks) one client IP may make per
    # minute; past that every request of that client is a 429 until the minute ends.
    auth_failures_per_minute: int = Field(default=20, ge=1)
    db_pool_size: int = Field(default=10, ge=1)
    # The operators' web console at /console: its login token. Unset, /console is a 404.
    operator_token: SecretStr | None = None

    # Relay.
    relay_batch_size: int = Field(default=100, ge=1, le=1000)
    relay_lanes: int = Field(default=2, ge=1, le=32)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    relay_gather_seconds: float = Field(default=RELAY_GATHER_SECONDS, ge=0, le=1)
    relay_metrics_port: int = Field(default=9101, ge=0, le=65535)
    # Published rows are also the events API's store (GET /v1/events): kept 30 days at least.
    outbox_retention_days: int = Field(default=30, ge=30)

    # Workers.
    worker_concurrency: int = Field(default=10, ge=1, le=1000)
    worker_shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    worker_max_hold_seconds: float = Field(default=3600.0, gt=0)
    # SQS long poll; SIGTERM waits for the poll in flight, so shutdown takes up to this.
    worker_receive_wait_seconds: int = Field(default=20, ge=1, le=20)
    worker_delete_flush_seconds: float = Field(default=DELETE_FLUSH_SECONDS, gt=0, le=30)
    worker_metrics_port: int = Field(default=9102, ge=0, le=65535)
    # Comma-separated modules whose CONSUMERS mapping adds consumers to `pixwave worker`.
    worker_modules: str = ""
    inbox_retention_days: int = Field(default=30, ge=INBOX_MIN_RETENTION_DAYS)

    # `pixwave up`: worker processes of each kind (--charge-workers, --webhook-workers).
    up_charge_workers: int = Field(default=1, ge=1, le=16)
    up_webhook_workers: int = Field(default=1, ge=1, le=16)

    # Scheduler.
    scheduler_metrics_port: int = Field(default=9103, ge=0, le=65535)

    # Gateways. `pixwave up` points both at the embedded simulator (`pixwave gateway-sim`).
    gateway_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Gateways to try, first to last (those not configured are left out).
    gateway_priority: str = Field(default="mercadopago,efi", pattern=r"^[a-z]+(,[a-z]+)*$")
    # A gateway's circuit opens after consecutive failures, for this long.
    gateway_circuit_open_seconds: int = Field(default=30, ge=1, le=3600)
    gateway_sim_port: int = Field(default=8100, ge=1, le=65535)
    # Where gateways reach our callback endpoints (`notification_url`, Efí's webhook).
    public_base_url: str | None = None
    mercadopago_base_url: str = "https://api.mercadopago.com"
    mercadopago_access_token: SecretStr | None = None
    mercadopago_webhook_secret: SecretStr | None = None
    efi_base_url: str = "https://pix.api.efipay.com.br"
    efi_client_id: str | None = None
    efi_client_secret: SecretStr | None = None
    # PEM with the client certificate and key Efí issued; Efí refuses calls without it.
    efi_certificate_path: Path | None = None
    efi_pix_key: str | None = None
    efi_webhook_hmac: SecretStr | None = None
    # Seconds a gateway callback's timestamp may be off before it counts as a replay.
    callback_tolerance_seconds: int = Field(default=300, ge=1)
    # Verified callbacks taken per gateway per minute (each one re-fetches its charge);
    # past that a 429, and the gateway sends again later.
    callback_rate_limit_per_minute: int = Field(default=6000, ge=1)

    # Merchant webhooks (`pixwave worker webhooks`).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    # Retries of a failing delivery stop this long after its first try; the endpoint is
    # then disabled. Tries come after 1, 3, 9 … minutes (base·3^n), at most 12 h apart.
    webhook_retry_horizon_seconds: int = Field(default=3 * 24 * 3600, ge=1)
    webhook_retry_base_seconds: float = Field(default=60.0, gt=0)
    # Deliveries in flight to one endpoint across the whole fleet: a slow endpoint holds
    # no more workers than this.
    webhook_max_in_flight_per_endpoint: int = Field(default=4, ge=1, le=100)
    # Hours the old secret keeps signing after POST /v1/webhook_endpoints/{id}/rotate_secret.
    webhook_secret_overlap_hours: int = Field(default=24, ge=0, le=168)
    # Endpoints per merchant (each one is another POST for every event).
    webhook_max_endpoints_per_merchant: int = Field(default=16, ge=1, le=1000)
    # Test mode only: let endpoints on loopback addresses through (development). Live mode,
    # and test mode without this, take globally routable addresses only.
    webhook_allow_private_urls: bool = False

    # Money rules.
    max_amount: int = Field(default=100_000_000, ge=1)
    pix_default_expires_in_seconds: int = Field(default=3600, ge=60)
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    # Risk: whether a merchant that wrote no rules of its own is screened by the default
    # set (docs/risk.md). The test suites turn it off: they send one CPF all day.
    risk_default_rules: bool = True

    # Payer documents are encrypted with AES-256-GCM under this base64 key.
    document_key: SecretStr | None = None

    log_level: str = "INFO"
    log_json: bool = True
    # OpenTelemetry traces go to this OTLP/HTTP collector (its base URL, e.g.
    # http://jaeger:4318); unset, the standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is
    # honoured, and with neither nothing is exported (the default; docs/operations.md).
    otel_exporter_otlp_endpoint: str | None = None

    @field_validator("document_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(decode_document_key(value)) != DOCUMENT_KEY_BYTES:
            raise ValueError(f"must decode to {DOCUMENT_KEY_BYTES} bytes")
        return value

    @field_validator("operator_token")
    @classmethod
    def _token_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < OPERATOR_TOKEN_MIN_CHARS:
            raise ValueError(f"must be at least {OPERATOR_TOKEN_MIN_CHARS} characters")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @property
    def gateway_priority_list(self) -> list[str]:
        return self.gateway_priority.split(",")

    @property
    def outbox_retention(self) -> timedelta:
        return timedelta(days=self.outbox_retention_days)

    @property
    def inbox_retention(self) -> timedelta:
        return timedelta(days=self.inbox_retention_days)

    def document_key_bytes(self) -> bytes:
        if self.document_key is None:
            raise ValueError("PIXWAVE_DOCUMENT_KEY is not set")
        return decode_document_key(self.document_key)


def decode_document_key(value: SecretStr) -> bytes:
    try:
        return base64.b64decode(value.get_secret_value(), validate=True)
    except binascii.Error as exc:
        raise ValueError("must be base64") from exc


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy wants the driver in the scheme; users write plain postgresql://."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def libpq_url(url: str) -> str:
    """psycopg itself wants the plain scheme."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The environment and .env, over what a running `pixwave up` wrote for this data
    directory."""
    data_dir = Settings().data_dir
    return Settings(_env_file=(data_dir / RUNTIME_ENV_FILE, ENV_FILE))
