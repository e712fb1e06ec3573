"""Who may use the server: loopback clients when it has no keys, else bearer keys.

:func:`is_loopback` is the one test of "stays on this machine" in Ponder: the server, the
``ponder serve`` exposure check and ``ponder rules serve`` all use it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping, Sequence

from fastapi import Request

from ponder.agents.core.errors import ConfigError
from ponder.graphs.settings import ServerSettings

__all__ = [
    "bearer_key_matches",
    "bearer_tenant",
    "check_exposure",
    "client_is_local",
    "is_loopback",
]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) stays on this machine.

    Args:
        host: An IPv4 or IPv6 address, or a host name.

    Returns:
        ``True`` for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``);
        ``False`` for any other name or address.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(server: ServerSettings, host: str) -> None:
    """Refuse to listen beyond loopback without API keys.

    Args:
        server: The server settings (``api_keys``).
        host: The address ``ponder serve`` is about to listen on.

    Raises:
        ConfigError: ``host`` is not loopback and there are neither ``server.api_keys``
            nor ``server.tenants`` (whose keys let clients in too).
    """
    if not server.api_keys and not server.tenants and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host} without API keys: anyone who can reach it could "
            "use the assistant. Set server.api_keys in ponder.yaml or "
            "PONDER_SERVER__API_KEYS='[\"<key>\"]', or listen on 127.0.0.1"
        )


def client_is_local(request: Request) -> bool:
    """Whether the request's peer is on this machine."""
    return is_loopback(request.client.host if request.client else "")


def bearer_key_matches(request: Request, keys: Sequence[bytes]) -> bool:
    """Whether the request sends ``Authorization: Bearer <key>`` with one of ``keys``.

    Every key is compared in constant time, so the answer leaks no key's prefix.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    given = token.strip().encode()
    return scheme.lower() == "bearer" and any(hmac.compare_digest(given, k) for k in keys)


def bearer_tenant(request: Request, digests: Mapping[str, bytes]) -> str | None:
    """The tenant whose key the request sends as ``Authorization: Bearer <key>``.

    Args:
        request: The request.
        digests: Each tenant's ``key_sha256``, as the 32 bytes of the digest.

    Returns:
        The tenant's name, or ``None`` when the key is no tenant's. Every digest is
        compared in constant time.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    given = hashlib.sha256(token.strip().encode()).digest()
    found = [name for name, digest in digests.items() if hmac.compare_digest(given, digest)]
    return found[0] if found else None
