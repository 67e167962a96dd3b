"""OAuth2 client-credentials access tokens for the simulated Efí API."""

from __future__ import annotations

import secrets
import time

TOKEN_LIFETIME_SECONDS = 3600
TOKEN_BYTES = 32


class TokenIssuer:
    def __init__(self) -> None:
        self._expiries: dict[str, float] = {}  # token → time.monotonic() deadline
        self.issued = 0

    def issue(self) -> str:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._expiries[token] = time.monotonic() + TOKEN_LIFETIME_SECONDS
        self.issued += 1
        return token

    def valid(self, token: str) -> bool:
        deadline = self._expiries.get(token)
        return deadline is not None and time.monotonic() < deadline

    def reset_count(self) -> None:
        """Forget how many were issued; the tokens themselves stay valid."""
        self.issued = 0
