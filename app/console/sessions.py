"""Operator sessions of the console, free of I/O: the token check and signed cookies.

A session is a cookie ``<issued at>.<nonce>.<signature>``, signed with HMAC-SHA256 under
the operator token itself, so any API replica reads it, nothing is stored, and changing
the token ends every session. Its CSRF token is another HMAC of the nonce: a form
carries it in a hidden field, and a page of another site can neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from pydantic import SecretStr

SESSION_SECONDS = 8 * 3600
_NONCE_BYTES = 18


@dataclass(frozen=True, slots=True)
class OperatorSession:
    cookie: str
    csrf_token: str


def token_matches(token: SecretStr, given: str) -> bool:
    """Constant time, whatever the lengths: both sides are hashed first."""
    expected = hashlib.sha256(token.get_secret_value().encode()).digest()
    return hmac.compare_digest(expected, hashlib.sha256(given.encode()).digest())


def _sign(token: SecretStr, purpose: str, message: str) -> str:
    key = token.get_secret_value().encode()
    return hmac.new(key, f"{purpose}:{message}".encode(), hashlib.sha256).hexdigest()


def _session(token: SecretStr, issued_at: int, nonce: str) -> OperatorSession:
    body = f"{issued_at}.{nonce}"
    return OperatorSession(f"{body}.{_sign(token, 'session', body)}", _sign(token, "csrf", nonce))


def open_session(token: SecretStr, now: float) -> OperatorSession:
    return _session(token, int(now), secrets.token_urlsafe(_NONCE_BYTES))


def read_session(token: SecretStr, cookie: str | None, now: float) -> OperatorSession | None:
    """The session a cookie holds, if this token signed it less than SESSION_SECONDS ago."""
    parts = (cookie or "").split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    issued_at, nonce, _ = parts
    session = _session(token, int(issued_at), nonce)
    if not hmac.compare_digest(session.cookie, cookie or ""):
        return None
    if not 0 <= now - int(issued_at) < SESSION_SECONDS:
        return None
    return session


def csrf_matches(session: OperatorSession, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(session.csrf_token, given)
