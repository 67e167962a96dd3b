"""Our SigV4 signer gives botocore's signature for the same request, key and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from app.aws.sigv4 import Signer, SigningKeys

HOST = "sqs.sa-east-1.amazonaws.com"
BODY = b'{"QueueUrl": "https://sqs.sa-east-1.amazonaws.com/1/q", "MessageBody": "ol\xc3\xa1"}'
HEADERS = {
    "X-Amz-Target": "AmazonSQS.SendMessage",
    "Content-Type": "application/x-amz-json-1.0",
    "x-amzn-query-mode": "true",
}


def _botocore_authorization(keys: SigningKeys, service: str) -> tuple[str, datetime]:
    request = AWSRequest(method="POST", url=f"https://{HOST}/", data=BODY, headers=dict(HEADERS))
    credentials = Credentials(keys.access_key, keys.secret_key, keys.token)
    SigV4Auth(credentials, service, "sa-east-1").add_auth(request)
    signed_at = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    return request.headers["Authorization"], signed_at.replace(tzinfo=UTC)


@pytest.mark.parametrize("token", [None, "session-token/with+odd=chars"])
def test_signature_matches_botocore(token: str | None) -> None:
    keys = SigningKeys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    expected, signed_at = _botocore_authorization(keys, "sqs")

    headers = Signer("sqs", "sa-east-1").sign(
        keys, host=HOST, path="/", headers=dict(HEADERS), body=BODY, now=signed_at
    )

    assert headers["Authorization"] == expected
    assert headers["X-Amz-Date"] == signed_at.strftime("%Y%m%dT%H%M%SZ")
    assert headers.get("X-Amz-Security-Token") == token
    assert headers["Host"] == HOST


def test_a_new_day_derives_a_new_key() -> None:
    keys = SigningKeys("AKIDEXAMPLE", "secret")
    signer = Signer("sns", "sa-east-1")
    expected, signed_at = _botocore_authorization(keys, "sns")
    for moment in (signed_at - timedelta(days=1), signed_at):
        headers = signer.sign(
            keys, host=HOST, path="/", headers=dict(HEADERS), body=BODY, now=moment
        )
    assert headers["Authorization"] == expected


def test_a_changed_body_changes_the_signature() -> None:
    keys = SigningKeys("AKIDEXAMPLE", "secret")
    _, signed_at = _botocore_authorization(keys, "sqs")
    signer = Signer("sqs", "sa-east-1")
    one, other = (
        signer.sign(keys, host=HOST, path="/", headers=dict(HEADERS), body=body, now=signed_at)
        for body in (BODY, BODY + b" ")
    )
    assert one["Authorization"] != other["Authorization"]
