"""A TCP proxy that counts what clients ask of the server behind it, without changing a
byte: AWS API calls by action (HTTP/1.1 requests) or PostgreSQL statements and
transactions (the frontend protocol). It runs as a process of its own so its CPU is not
the load generator's; connecting to the control port returns the counts as JSON.

    python -m bench.counting_proxy --protocol aws --listen 4567 --upstream 127.0.0.1:4566 \
        --control 4568
    python -m bench.counting_proxy --protocol postgres --listen 5433 \
        --upstream /path/to/socket/dir/.s.PGSQL.5432 --control 5434
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import struct
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs

READ_BYTES = 65536
HEADER_END = b"\r\n\r\n"
# The JSON protocol (SQS) names the action in a header; the query protocol (SNS) in the body.
_TARGET = re.compile(rb"^x-amz-target:\s*[\w.]+\.(\w+)\s*$", re.IGNORECASE | re.MULTILINE)
_LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)
# PostgreSQL frontend messages without a type byte come first: SSLRequest / GSSENCRequest,
# then the startup message. Typed ones after that: 'Q' simple query, 'E' execute.
_UNTYPED_REQUEST_CODES = frozenset({80877103, 80877104})
_QUERY, _EXECUTE = ord("Q"), ord("E")
_TRANSACTION_ENDS = re.compile(rb"^\s*(COMMIT|ROLLBACK|END)\b", re.IGNORECASE)

Counter_ = Counter[str]
Sniffer = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter, Counter_], Coroutine[Any, Any, None]
]


async def sniff_http(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, counts: Counter_
) -> None:
    """Forward HTTP/1.1 requests one after another, counting each by its AWS action."""
    while True:
        head = await source.readuntil(HEADER_END)
        length = _LENGTH.search(head)
        body = await source.readexactly(int(length.group(1))) if length else b""
        counts[_aws_action(head, body)] += 1
        sink.write(head + body)
        await sink.drain()


def _aws_action(head: bytes, body: bytes) -> str:
    target = _TARGET.search(head)
    if target:
        return target.group(1).decode()
    actions = parse_qs(body.decode(errors="replace")).get("Action")
    return actions[0] if actions else "other"


async def sniff_postgres(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, counts: Counter_
) -> None:
    """Forward the frontend stream, counting statements executed and transactions ended."""
    while True:  # untyped messages until the startup message itself
        length_bytes = await source.readexactly(4)
        rest = await source.readexactly(struct.unpack("!I", length_bytes)[0] - 4)
        sink.write(length_bytes + rest)
        await sink.drain()
        if struct.unpack("!I", rest[:4])[0] not in _UNTYPED_REQUEST_CODES:
            break
    while True:
        kind = await source.readexactly(1)
        length_bytes = await source.readexactly(4)
        rest = await source.readexactly(struct.unpack("!I", length_bytes)[0] - 4)
        _count_postgres(kind[0], rest, counts)
        sink.write(kind + length_bytes + rest)
        await sink.drain()


def _count_postgres(kind: int, payload: bytes, counts: Counter_) -> None:
    if kind == _QUERY:
        counts["statements"] += 1
        if _TRANSACTION_ENDS.match(payload):
            counts["transactions"] += 1
    elif kind == _EXECUTE:
        counts["statements"] += 1


async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(READ_BYTES):
        sink.write(data)
        await sink.drain()


async def open_upstream(upstream: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if upstream.startswith("/"):
        return await asyncio.open_unix_connection(upstream)
    host, _, port = upstream.rpartition(":")
    return await asyncio.open_connection(host, int(port))


def proxy_handler(
    upstream: str, sniff: Sniffer, counts: Counter_
) -> Callable[..., Awaitable[None]]:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await open_upstream(upstream)
        tasks = [
            asyncio.create_task(sniff(client_r, server_w, counts)),
            asyncio.create_task(pipe(server_r, client_w)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for writer in (client_w, server_w):
                writer.close()

    return handle


def control_handler(counts: Counter_) -> Callable[..., Awaitable[None]]:
    async def handle(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(json.dumps(dict(counts)).encode())
        await writer.drain()
        writer.close()

    return handle


async def serve(protocol: str, listen: int, upstream: str, control: int) -> None:
    counts: Counter_ = Counter()
    sniff = sniff_http if protocol == "aws" else sniff_postgres
    proxy = await asyncio.start_server(proxy_handler(upstream, sniff, counts), "127.0.0.1", listen)
    report = await asyncio.start_server(control_handler(counts), "127.0.0.1", control)
    async with proxy, report:
        await asyncio.gather(proxy.serve_forever(), report.serve_forever())


async def read_counts(control_port: int) -> dict[str, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", control_port)
    data = await reader.read()
    writer.close()
    counts: dict[str, int] = json.loads(data)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--protocol", choices=("aws", "postgres"), required=True)
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port, or a unix socket path")
    parser.add_argument("--control", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.protocol, args.listen, args.upstream, args.control))


if __name__ == "__main__":
    main()
