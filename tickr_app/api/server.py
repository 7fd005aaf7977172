"""Running the API: ``start_api`` binds (port 0 picks a free port) and returns an
``ApiServer`` with the real address; ``ApiBindError`` is the one clear error when it cannot."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
from dataclasses import dataclass, field

from aiohttp import web

from tickr_app.core.engine import Tickr

from ..core.errors import TickrError
from .app import create_app
from .protocol import JsonErrorRunner

log = logging.getLogger("tickr.api")

SHUTDOWN_TIMEOUT_S = 5.0


class ApiBindError(TickrError):
    """The API cannot listen where asked: port taken, bad host, or a public host without a token."""

    code = "api_bind_failed"


@dataclass(slots=True)
class ApiServer:
    host: str
    port: int
    runner: web.AppRunner = field(repr=False)
    app: web.Application = field(repr=False)
    url_host: str = ""
    """Where clients connect (``host``, unless a name bound several sockets on random ports)."""

    @property
    def url(self) -> str:
        host = self.url_host or self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop listening and close open connections (in-flight requests get a few seconds)."""
        await self.runner.cleanup()

    async def __aenter__(self) -> ApiServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    if not host:
        return False
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


async def start_api(
    tickr: Tickr,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
) -> ApiServer:
    """Serve ``create_app(tickr, token=token)`` on host:port until ``ApiServer.stop()``.

    A host other than loopback needs a token: the API can run and delete jobs.
    """
    if not (0 <= port <= 65535):
        raise ApiBindError(f"cannot listen on port {port}: ports are 0-65535")
    if not token and not await is_loopback(host):
        raise ApiBindError(
            f"refusing to serve the API on {host} without a token: set --token or TICKR_API_TOKEN "
            "(or bind 127.0.0.1)"
        )
    app = create_app(tickr, token=token)
    runner = JsonErrorRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ApiBindError(_bind_message(host, port, exc)) from None
    except BaseException:
        await runner.cleanup()
        raise
    addresses = runner.addresses
    bound_port = addresses[0][1] if addresses else port
    url_host = host
    if len({a[1] for a in addresses}) > 1:  # e.g. "localhost" with port 0: ::1 and 127.0.0.1
        url_host = addresses[0][0]
    server = ApiServer(host, bound_port, runner, app, url_host)
    log.info("API listening on %s", server.url)
    return server


def _bind_message(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is already in use (choose another with --port)"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: {host} is not an address of this machine"
    if isinstance(exc, socket.gaierror):
        return f"cannot listen on {where}: unknown host {host!r}"
    return f"cannot listen on {where}: {exc.strerror or exc}"
