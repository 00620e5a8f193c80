"""Outgoing-request guard (SSRF): link-local and cloud-metadata targets are refused, always.

Loopback and private ranges stay allowed: self-hosted models live there. The check runs twice:
- at save time (`check_url`, no DNS): a literal link-local/metadata address or a metadata host name
  in an endpoint, webhook or webhook-scorer URL is a clear 422;
- at connect time (`guarded_transport`): every TCP connection httpx2 opens, each redirect hop
  included, resolves the host once, refuses when any resolved address is blocked, and connects to
  the checked address itself (so a DNS answer cannot change between the check and the connect).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import select
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore2
import httpx2

# Cloud metadata services (AWS/GCP/Azure/OpenStack on 169.254.169.254, AWS IPv6, Alibaba).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                            "instance-data.ec2.internal", "metadata.azure.com"})
LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))


class BlockedTarget(ValueError):
    """The URL points at a link-local or cloud-metadata address."""


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip("[]").split("%", 1)[0]
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        try:  # the forms the C resolver also reads as IPv4 without DNS: 2852039166, 0xa9fea9fe, 169.254.43518
            address = ipaddress.ip_address(socket.inet_aton(value)) if value[:1].isdigit() else None
        except OSError:
            address = None
        if address is None:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def blocked_reason(host: str) -> str | None:
    """Why a host (name or literal address) is refused, or None when it is allowed (no DNS here)."""
    name = host.strip().rstrip(".").lower()
    if name in METADATA_HOSTS:
        return f"{host} is a cloud metadata service"
    address = _address(name)
    if address is None:
        return None
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if any(address in network for network in LINK_LOCAL):
        return f"{address} is a link-local address"
    return None


def check_url(url: str) -> None:
    """Raise BlockedTarget when the URL's host is refused (literal addresses and known names only)."""
    host = httpx2.URL(url).host
    reason = blocked_reason(host)
    if reason:
        raise BlockedTarget(f"not allowed: {reason}; requests to link-local and metadata targets are never sent")


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for host (off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve_allowed(host: str, port: int, resolver: Resolver = system_resolver) -> str:
    """The first resolved address of host, after checking every resolved address; raises ConnectError."""
    reason = blocked_reason(host)
    if reason is None and _address(host) is None:
        try:
            addresses = await resolver(host, port)
        except OSError as exc:
            raise httpcore2.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore2.ConnectError(f"cannot resolve {host}")
        for address in addresses:
            reason = blocked_reason(address)
            if reason:
                reason = f"{host} resolves to {reason}"
                break
        else:
            return addresses[0]
    if reason:
        raise httpcore2.ConnectError(f"blocked by the SSRF guard: {reason}")
    return host


def _readable(sock: Any) -> bool:
    """Whether a recv would return at once (data, or the b"" of a closed peer); as httpcore2 checks it."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class CheapReadableStream(httpcore2.AsyncNetworkStream):
    """A connected stream whose `is_readable` probe skips anyio's attribute lookup.

    httpcore2 probes every idle pooled connection (`has_expired`) each time a request is added to or
    leaves the pool. Through anyio each probe builds the socket's attribute table, a `getpeername`
    system call included: with 16 calls in flight at zero latency that was 13% of the event loop
    (bench, 5,000 calls). The socket is looked up once here; the probe itself is httpcore2's.
    """

    def __init__(self, inner: httpcore2.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: Any = inner.get_extra_info("socket")  # an asyncio TransportSocket under anyio

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 (httpcore2 API)
        """Delegate."""
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Delegate."""
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        """Delegate."""
        await self._inner.aclose()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore2.AsyncNetworkStream:  # noqa: ASYNC109
        """TLS over the same socket, still probed cheaply."""
        return CheapReadableStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        """`is_readable` from the socket looked up at connect time; everything else from the inner stream."""
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's network backend, connecting only to checked addresses."""

    def __init__(self, resolver: Resolver = system_resolver) -> None:
        self._inner = httpcore2.AnyIOBackend()
        self._resolver = resolver

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore2 API)
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore2.AsyncNetworkStream:
        """Resolve and check, then connect to the checked address (TLS still verifies the host name)."""
        address = await resolve_allowed(host, port, self._resolver)
        return CheapReadableStream(await self._inner.connect_tcp(
            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None) -> httpcore2.AsyncNetworkStream:
        """Unix sockets are not network targets."""
        return await self._inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        """Delegate."""
        await self._inner.sleep(seconds)


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """httpx2's verifying TLS context, built once per process: loading the CA bundle took ~30 ms for
    every transport (each endpoint adapter, each webhook-scorer call)."""
    return httpx2.create_ssl_context()


def guarded_transport(resolver: Resolver = system_resolver, **kwargs: Any) -> httpx2.AsyncHTTPTransport:
    """An httpx2 transport whose connections go through `GuardedBackend` (pass to AsyncClient(transport=)).

    Redirects that the client follows are new requests through this transport, so each hop is checked.
    """
    kwargs.setdefault("verify", default_ssl_context())
    transport = httpx2.AsyncHTTPTransport(**kwargs)
    pool = transport._pool
    transport._pool = httpcore2.AsyncConnectionPool(
        ssl_context=pool._ssl_context, max_connections=pool._max_connections,
        max_keepalive_connections=pool._max_keepalive_connections, keepalive_expiry=pool._keepalive_expiry,
        http1=pool._http1, http2=pool._http2, retries=pool._retries, local_address=pool._local_address,
        uds=pool._uds, socket_options=pool._socket_options, network_backend=GuardedBackend(resolver),
    )
    return transport
