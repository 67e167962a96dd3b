"""The webhook POST's transport: no redirects, no kept connections, and the request sent
to the address the URL check resolved, never to the name again (DNS-rebinding pinning,
docs/decisions.md)."""

from __future__ import annotations

import httpx

from app.webhooks.service import CheckedUrl


def webhook_client(timeout_seconds: float) -> httpx.AsyncClient:
    """Redirects are not followed (a 3xx is a failed try, never a hop to another host);
    no connection is kept alive (see post_pinned). httpx's own 5 s default would cut a
    try short of the configured timeout."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=timeout_seconds,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def post_pinned(
    client: httpx.AsyncClient, checked: CheckedUrl, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST to the checked address itself, never to the name again: the URL carries the
    IP, the Host header the name, and TLS sends and verifies the name (SNI, certificate).
    The client must not keep connections alive: its pool is keyed by IP, so a kept
    connection could carry another host's request under the first host's certificate."""
    url = httpx.URL(checked.url)
    return await client.post(
        url.copy_with(host=checked.address),
        content=body,
        headers={**headers, "Host": url.netloc.decode("ascii")},
        extensions={"sni_hostname": url.raw_host.decode("ascii")},
    )
