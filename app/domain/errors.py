"""The typed error hierarchy. HTTP status codes are assigned only in app/api."""

from __future__ import annotations


class PixWaveError(Exception):
    """Base of every error PixWave raises on purpose."""

    code = "pixwave_error"
    # True when the same request may succeed if simply sent again.
    retryable = False

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class OperatorError(PixWaveError):
    """A command cannot run until the operator fixes something; the message says what."""

    code = "operator_action_needed"


class InvalidRequest(PixWaveError):
    """The request is well-formed JSON but a value breaks a rule."""

    code = "parameter_invalid"


class MalformedRequest(PixWaveError):
    """The body cannot be read as the JSON the endpoint expects."""

    code = "malformed_json"


class PayloadTooLarge(MalformedRequest):
    code = "payload_too_large"


class UnsupportedMediaType(MalformedRequest):
    code = "unsupported_media_type"


class AuthenticationFailed(PixWaveError):
    code = "authentication_failed"


class NotFound(PixWaveError):
    code = "resource_missing"


class RateLimited(PixWaveError):
    code = "rate_limited"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"Too many requests; retry after {retry_after_seconds} s.")
        self.retry_after_seconds = retry_after_seconds


class ConflictError(PixWaveError):
    """The request clashes with the current state of an object."""

    code = "conflict"


class IllegalTransition(ConflictError):
    code = "unexpected_state"


class StaleVersion(ConflictError):
    """Another writer changed the object first (optimistic version check lost)."""

    code = "concurrent_update"
    retryable = True


class IdempotencyKeyInProgress(ConflictError):
    code = "idempotency_key_in_progress"


class IdempotencyKeyReused(PixWaveError):
    code = "idempotency_key_reused"


class ServiceUnavailable(PixWaveError):
    code = "service_unavailable"
    retryable = True


class RetryLater(PixWaveError):
    """A consumer could not finish now (gateway down, lock busy); try the message again later.

    ``delay_seconds`` overrides the backoff schedule when the cause knows better.
    ``keep_progress`` commits what the handler did so far (a gateway attempt, say)
    while the message still comes back: the next run continues from there.
    """

    code = "retry_later"
    retryable = True

    def __init__(
        self, message: str, *, delay_seconds: int | None = None, keep_progress: bool = False
    ) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds
        self.keep_progress = keep_progress


class PoisonMessage(PixWaveError):
    """A message no retry can fix (unparseable, unknown type, invalid); it goes to the DLQ now."""

    code = "poison_message"


class GatewayError(PixWaveError):
    """A gateway call did not give a usable answer; the subclass says what is known."""

    code = "gateway_error"
    retryable = True

    def __init__(self, gateway: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{gateway}: {message}")
        self.gateway = gateway
        self.status = status  # the gateway's HTTP status, when it answered


class GatewayNotAttempted(GatewayError):
    """The gateway certainly did nothing (refused connection, 401, 429): safe to retry."""

    code = "gateway_not_attempted"


class GatewayOutcomeUnknown(GatewayError):
    """The request may have taken effect (timeout after sending, 5xx): query before retrying."""

    code = "gateway_outcome_unknown"


class GatewayRejected(GatewayError):
    """The gateway answered no to this request (4xx); sending it again changes nothing."""

    code = "gateway_rejected"
    retryable = False


class CallbackRejected(PixWaveError):
    """A gateway callback failed verification: forged, stale or malformed."""

    code = "callback_rejected"
