"""What counts as a loopback host: binding there needs no API token (and ``tickr web`` binds
nowhere else). The one place that decides it, for the CLI, the runtime, ``tickr web`` and the
API server."""

from __future__ import annotations

import asyncio
import ipaddress
import socket


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and literal 127.0.0.0/8 or ::1 addresses (no name lookup)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def resolves_to_loopback(host: str) -> bool:
    """``is_loopback``, or a name every address of which is a loopback address."""
    if is_loopback(host):
        return True
    if not host:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
        return False  # a literal address that is not loopback
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(is_loopback(info[4][0].split("%")[0]) for info in infos)
