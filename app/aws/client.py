"""The roles' SNS and SQS client: botocore's own serializer and parser for the wire
format, app/aws/sigv4.py for the signature, and one kept aiohttp session.

aiobotocore spent about 1.2 ms of client CPU on one SendMessage (a 300-call loop on
LocalStack); this spends about 0.6 ms on the same call, because it skips what
a role never needs per call: the event hooks, parameter validation, endpoint rules,
retries and botocore's request model. Calls read as aiobotocore's do
(``await sqs.send_message(QueueUrl=…, MessageBody=…)``) and answer the same dicts;
an error answer raises botocore's ``ClientError`` with the same ``Error`` mapping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import botocore.session
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import ResponseParser, create_parser
from botocore.serialize import Serializer, create_serializer

from app.aws.sigv4 import Signer, SigningKeys

AwsCall = Callable[..., Awaitable[dict[str, Any]]]


class AwsClient:
    """``async with AwsClient(session, "sqs", endpoint_url=…) as sqs``. Any operation of
    the service is a snake_case method, as in botocore."""

    def __init__(
        self,
        session: botocore.session.Session,
        service: str,
        *,
        region: str,
        endpoint_url: str,
        connect_timeout_seconds: float,
        read_timeout_seconds: float,
        max_connections: int,
    ) -> None:
        self._session = session
        self._model: ServiceModel = session.get_service_model(service)
        self._operations = {botocore.xform_name(name): name for name in self._model.operation_names}
        self._serializer: Serializer = create_serializer(self._model.protocol, False)
        self._parser: ResponseParser = create_parser(self._model.protocol)
        self._signer = Signer(self._model.signing_name or service, region)
        self._url = endpoint_url
        parts = urlsplit(endpoint_url)
        self._host = parts.netloc
        self._path = parts.path or "/"
        self._timeout = aiohttp.ClientTimeout(
            sock_connect=connect_timeout_seconds, sock_read=read_timeout_seconds
        )
        self._max_connections = max_connections
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AwsClient:
        connector = aiohttp.TCPConnector(limit=self._max_connections)
        self._http = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def __getattr__(self, method: str) -> AwsCall:
        operation = self._operations.get(method)
        if operation is None:
            raise AttributeError(f"{self._model.service_name} has no operation {method!r}")

        async def call(**params: Any) -> dict[str, Any]:
            return await self.call(operation, params)

        return call

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """One request, no retries: the roles retry on their own terms."""
        assert self._http is not None, "use the client inside `async with`"
        model = self._model.operation_model(operation)
        request = self._serializer.serialize_to_request(params, model)
        body = _encoded(request["body"])
        headers = self._signer.sign(
            self._credentials(),
            host=self._host,
            path=self._path,
            headers=request["headers"],
            body=body,
            now=datetime.now(UTC),
        )
        # LocalStack's gateway closes every connection unless keep-alive is asked for.
        headers["Connection"] = "keep-alive"
        async with self._http.post(self._url, data=body, headers=headers) as response:
            answer = {
                "status_code": response.status,
                "headers": {name.lower(): value for name, value in response.headers.items()},
                "body": await response.read(),
            }
        return self._parsed(model, answer)

    def _parsed(self, model: OperationModel, answer: dict[str, Any]) -> dict[str, Any]:
        parsed: dict[str, Any] = self._parser.parse(answer, model.output_shape)
        if answer["status_code"] >= 300:
            raise ClientError(parsed, model.name)
        return parsed

    def _credentials(self) -> SigningKeys:
        # Resolved per call: role credentials refresh themselves before they expire.
        credentials = self._session.get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        frozen = credentials.get_frozen_credentials()
        return SigningKeys(frozen.access_key, frozen.secret_key, frozen.token)


def _encoded(body: bytes | str | dict[str, str]) -> bytes:
    """The query protocol's serializer leaves its form as a dict (botocore's request
    model encodes it the same way)."""
    if isinstance(body, dict):
        return urlencode(body, doseq=True).encode()
    return body.encode() if isinstance(body, str) else body
