"""The webhook POST's transport: no redirects, and the request sent to the address the
URL check resolved, never to the name again (DNS-rebinding pinning, docs/decisions.md).
Connections are kept alive, each only for the name and address it was opened for."""

from __future__ import annotations

import ssl
from collections import OrderedDict
from dataclasses import dataclass

import httpx

from app.webhooks.service import CheckedUrl

# Clients kept at once, one per (scheme, name, port, address); past this the least
# recently used one is closed, so endpoints that come and go do not pile up sockets.
MAX_PINNED_CLIENTS = 256

PinKey = tuple[str, str, int | None, str]


@dataclass(eq=False, slots=True)
class _Kept:
    client: httpx.AsyncClient
    posts_in_flight: int = 0
    dropped: bool = False


class PinnedClients:
    """POSTs to the checked address itself, never to the name again: the URL carries the
    IP, the Host header the name, and TLS sends and verifies the name (SNI, certificate).

    httpx pools connections by the URL's host, here the IP, so one client for every name
    could carry one name's request over a connection whose certificate proved another
    name. Each (scheme, name, port, address) therefore has its own keep-alive client: a
    kept connection only ever carries requests for the name and address it was opened
    for. Redirects are not followed (a 3xx is a failed try, never a hop to another host);
    httpx's own 5 s default timeout would cut a try short of the configured one."""

    def __init__(
        self,
        timeout_seconds: float,
        *,
        verify: ssl.SSLContext | bool = True,
        max_clients: int = MAX_PINNED_CLIENTS,
    ) -> None:
        self._timeout_seconds = timeout_seconds
        self._verify = verify
        self._max_clients = max_clients
        self._kept: OrderedDict[PinKey, _Kept] = OrderedDict()

    async def post(
        self, checked: CheckedUrl, body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        url = httpx.URL(checked.url)
        kept = self._take((url.scheme, url.host, url.port, checked.address))
        try:
            while len(self._kept) > self._max_clients:
                await _drop(self._kept.popitem(last=False)[1])
            return await kept.client.post(
                url.copy_with(host=checked.address),
                content=body,
                headers={**headers, "Host": url.netloc.decode("ascii")},
                extensions={"sni_hostname": url.raw_host.decode("ascii")},
            )
        finally:
            kept.posts_in_flight -= 1
            if kept.dropped and not kept.posts_in_flight:
                await kept.client.aclose()

    async def aclose(self) -> None:
        """Closes every client; one with a POST in flight closes when that POST ends."""
        while self._kept:
            await _drop(self._kept.popitem()[1])

    def _take(self, key: PinKey) -> _Kept:
        """The key's client, counted in use at once, so that no other POST's eviction
        closes it under this one."""
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            kept.posts_in_flight += 1
            return kept
        kept = self._kept[key] = _Kept(
            httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                timeout=self._timeout_seconds,
                verify=self._verify,
            ),
            posts_in_flight=1,
        )
        return kept


async def _drop(kept: _Kept) -> None:
    kept.dropped = True
    if not kept.posts_in_flight:
        await kept.client.aclose()
