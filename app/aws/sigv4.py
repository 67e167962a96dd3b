"""AWS Signature Version 4 for the POSTs of app/aws/client.py.

Written here rather than taken from botocore's ``SigV4Auth`` because that signer
rebuilds its whole request model per call and was the largest part of a call's client
CPU in a profile of a SendMessage loop. The derived key is kept for its UTC day. The signature is
checked against botocore's in tests/unit/test_aws_sigv4.py.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True, slots=True)
class SigningKeys:
    access_key: str
    secret_key: str
    token: str | None = None


@dataclass(slots=True)
class Signer:
    """Signs one service's requests in one region."""

    service: str
    region: str
    _day_keys: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def sign(
        self,
        keys: SigningKeys,
        *,
        host: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        now: datetime,
    ) -> dict[str, str]:
        """The headers to send: ``headers`` plus Host, X-Amz-Date, the session token
        and Authorization. ``now`` must be UTC."""
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        signed = {name.lower(): value.strip() for name, value in headers.items()}
        signed["host"] = host
        signed["x-amz-date"] = amz_date
        if keys.token:
            signed["x-amz-security-token"] = keys.token
        names = sorted(signed)
        canonical = "\n".join(
            [
                "POST",
                path,
                "",
                "".join(f"{name}:{signed[name]}\n" for name in names),
                ";".join(names),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{_sha256_hex(canonical)}"
        signature = hmac.new(self._key(keys.secret_key, day), to_sign.encode(), "sha256")
        authorization = (
            f"{ALGORITHM} Credential={keys.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature.hexdigest()}"
        )
        return {**headers, **_sent(signed), "Authorization": authorization}

    def _key(self, secret_key: str, day: str) -> bytes:
        cached = self._day_keys.get((secret_key, day))
        if cached is None:
            cached = _derive(f"AWS4{secret_key}".encode(), day, self.region, self.service)
            self._day_keys.clear()  # one day and one secret at a time
            self._day_keys[(secret_key, day)] = cached
        return cached


def _derive(secret: bytes, *parts: str) -> bytes:
    key = secret
    for part in (*parts, "aws4_request"):
        key = hmac.new(key, part.encode(), "sha256").digest()
    return key


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sent(signed: dict[str, str]) -> dict[str, str]:
    """The headers the signer added, named as HTTP clients send them."""
    added = {
        "host": "Host",
        "x-amz-date": "X-Amz-Date",
        "x-amz-security-token": "X-Amz-Security-Token",
    }
    return {sent: signed[name] for name, sent in added.items() if name in signed}
