"""Building a redis-py asyncio client from a URL, and keeping passwords out of messages.

URL schemes:

- ``redis://[user:password@]host[:port][/db]``, ``rediss://…`` (TLS; ``?ssl_ca_certs=/ca.pem``,
  ``?ssl_cert_reqs=none``…), ``unix://[:password@]/path/to/socket`` — one Redis server.
- ``redis+cluster://[user:password@]host:port[,host:port…]`` (and ``rediss+cluster://``) — a
  Redis Cluster, discovered from any of the nodes given. Commands go through redis-py's async
  ``RedisCluster``; pub/sub (which it lacks) uses a plain connection to one node, see
  :func:`pubsub_client`.
- ``redis+sentinel://[user:password@]host:port[,host:port…]/service_name[/db]`` (and
  ``rediss+sentinel://``) — the master of ``service_name`` as Sentinel reports it, followed
  across failovers. ``?sentinel_password=…`` (and ``sentinel_username``) when the sentinels
  themselves need a password; the URL's own credentials are the Redis master's.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import InvalidRequest
from .fastpack import fast_connection_class, use_fast_packing

SINGLE_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
SUPPORTED_SCHEMES = SINGLE_SCHEMES + CLUSTER_SCHEMES + SENTINEL_SCHEMES

DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379

# Masking works token by token (runs of characters that cannot end a URL), so it stays linear
# however hostile the text: a regex with a greedy userinfo group backtracks quadratically on
# input like "a://a://a://…". In a token holding "scheme://…@", the userinfo runs to the
# *last* "@", so a password with a raw "@" or "/" in it is masked whole.
_TOKEN = re.compile(r"[^\s'\"<>]+")
_PASSWORD_IN_QUERY = re.compile(r"(?P<key>[?&](?:sentinel_)?password=)[^&\s'\"#]*", re.IGNORECASE)


def _mask_token(m: re.Match[str]) -> str:
    token = m.group(0)
    scheme_end = token.find("://")
    if scheme_end != -1:
        at = token.rfind("@")
        if at > scheme_end:
            head = token[: scheme_end + 3]
            userinfo = token[scheme_end + 3 : at]
            user, colon, _password = userinfo.partition(":")
            if "@" in user:  # an "@" before any ":": no telling user from password, hide it all
                token = f"{head}***{token[at:]}"
            elif colon:
                token = f"{head}{user}:***{token[at:]}"
    if "password=" in token.lower():
        token = _PASSWORD_IN_QUERY.sub(lambda q: f"{q['key']}***", token)
    return token


def mask_url(url: str) -> str:
    """``redis://user:secret@host`` -> ``redis://user:***@host``; for logs and errors."""
    return mask_text(url)


def mask_text(text: str) -> str:
    """Mask every Redis URL password that appears anywhere in a message (userinfo passwords
    and ``password=`` / ``sentinel_password=`` query parameters). Linear in the text's length."""
    if "@" not in text and "password=" not in text.lower():
        return text
    return _TOKEN.sub(_mask_token, text)


def wire_options() -> dict[str, Any]:
    """The protocol and command timeout, spelled out because redis-py 8 changed both defaults.

    - ``socket_timeout=None``: redis-py 8 defaults to 5 s, and with any socket timeout its
      asyncio connection sends every command through ``asyncio.wait_for``: one extra task per
      command, and on Python 3.11 a cancel that lands as the write completes is swallowed
      (CPython gh-86296), so a Tickr loop cancelled by ``stop()`` carried on for ever.
      Tickr bounds its own blocking calls (BLMOVE, XREAD BLOCK: about 1 s) and rides out a
      dead connection by health check and retries, as it did on redis-py 5-7 (no timeout).
    - ``protocol=2``: redis-py 8 speaks RESP3 by default (HELLO on every connect, a
      maintenance-notification handshake, and RESP3 replies converted back to RESP2 shapes
      in Python). RESP2, the default before 8, gives the same replies on every version and
      costs less. A ``?protocol=3`` in the URL still wins.
    """
    return {"socket_timeout": None, "protocol": 2}


def _base_options() -> dict[str, Any]:
    return {
        "decode_responses": True,
        "health_check_interval": 15,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        **wire_options(),
    }


def scheme_of(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else ""


def connect(url: str, **overrides: Any) -> Any:
    """A client with retries on connection errors, so a Redis restart is ridden out, not fatal.

    Returns a ``redis.asyncio.Redis`` (single server or Sentinel-managed master) or a
    :class:`ClusterClient` (``redis+cluster://``).
    """
    scheme = scheme_of(url)
    if scheme not in SUPPORTED_SCHEMES:
        raise InvalidRequest(
            f"unsupported Redis URL scheme {scheme!r} in {mask_url(url)}; use one of "
            + ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES)
        )
    if scheme in CLUSTER_SCHEMES:
        return _connect_cluster(url, overrides)
    if scheme in SENTINEL_SCHEMES:
        return _connect_sentinel(url, overrides)
    options = _base_options()
    options["max_connections"] = 512
    if scheme == "unix":
        options.pop("socket_keepalive")  # not a socket option of unix domain connections
    options.update(overrides)
    try:
        client = aioredis.from_url(url, **options)
    except ValueError as exc:  # a bad port, db or query value: one clear line, no traceback
        raise InvalidRequest(f"invalid Redis URL {mask_url(url)}: {mask_text(str(exc))}") from None
    if "connection_class" not in overrides:
        use_fast_packing(client.connection_pool)
    return client


# -- multi-host URLs (cluster, sentinel) ------------------------------------------------------


@dataclass(slots=True)
class MultiHostUrl:
    """The parts of ``scheme://[user:pass@]h1:p1,h2:p2/path?query``."""

    scheme: str
    hosts: list[tuple[str, int]]
    username: str | None
    password: str | None
    path: str
    query: dict[str, str]

    @property
    def tls(self) -> bool:
        return self.scheme.startswith("rediss")


def parse_multi_host_url(url: str, default_port: int) -> MultiHostUrl:
    """Parse a URL whose netloc may list several ``host:port`` pairs (urlsplit cannot)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidRequest(f"not a URL: {mask_url(url)}")
    netloc_end = len(rest)
    for ch in "/?#":
        i = rest.find(ch, rest.rfind("@") + 1)
        if i != -1:
            netloc_end = min(netloc_end, i)
    netloc, tail = rest[:netloc_end], rest[netloc_end:]
    userinfo, at, hostlist = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if colon else None
    hosts: list[tuple[str, int]] = []
    for item in filter(None, (h.strip() for h in hostlist.split(","))):
        if item.startswith("["):  # [ipv6]:port
            host, _, port_text = item[1:].partition("]")
            port_text = port_text.lstrip(":")
        else:
            host, _, port_text = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        try:
            port = int(port_text) if port_text else default_port
        except ValueError:
            raise InvalidRequest(f"bad port {port_text!r} in {mask_url(url)}") from None
        if not host or not (0 < port < 65536):
            raise InvalidRequest(f"bad host {item!r} in {mask_url(url)}")
        hosts.append((host, port))
    if not hosts:
        raise InvalidRequest(f"no host in {mask_url(url)}")
    path, _, query_text = tail.partition("?")
    query_text = query_text.partition("#")[0]
    query = {k: v[-1] for k, v in parse_qs(query_text, keep_blank_values=True).items()}
    return MultiHostUrl(scheme.lower(), hosts, username, password, path.partition("#")[0], query)


_BOOL_TRUE = ("1", "true", "yes", "on")
_TLS_QUERY_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")


def _tls_options(parsed: MultiHostUrl) -> dict[str, Any]:
    if not parsed.tls:
        return {}
    options: dict[str, Any] = {"ssl": True}
    for name in _TLS_QUERY_OPTIONS:
        if parsed.query.get(name):
            options[name] = parsed.query[name]
    if "ssl_check_hostname" in parsed.query:
        options["ssl_check_hostname"] = parsed.query["ssl_check_hostname"].lower() in _BOOL_TRUE
    return options


# -- cluster ----------------------------------------------------------------------------------


class ClusterUnavailable(RedisConnectionError):
    """No cluster node could be reached (or the slot map could not be read).

    redis-py raises ``RedisClusterException`` for this, which is *not* a ``RedisError``: every
    Tickr loop that rides out an outage by catching ``RedisError`` would die of it, and the API
    would answer 500 instead of 503. :class:`ClusterClient` raises this instead."""


class _ClusterPipeline(ClusterPipeline):
    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> list[Any]:
        try:
            return await super().execute(raise_on_error, allow_redirections)
        except RedisClusterException as exc:
            raise ClusterUnavailable(str(exc)) from None


class ClusterClient(RedisCluster):
    """redis-py's async ``RedisCluster`` plus what Tickr needs on top: where to open pub/sub
    (``pubsub_nodes``) and the options for a plain connection to one node."""

    def __init__(self, *args: Any, node_options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node_options = node_options
        """Options for a plain ``redis.asyncio.Redis`` to one node (credentials, TLS, timeouts)."""
        self._startup = [(n.host, n.port) for n in kwargs.get("startup_nodes") or []]
        self._pubsub_turn = itertools.count()
        fast = fast_connection_class("rediss" if kwargs.get("ssl") else "redis")
        if fast is not None:
            # The same hiredis command packing the single-server client uses. The kwargs dict
            # is shared with the nodes manager, which builds every node it discovers from it.
            self.connection_kwargs["connection_class"] = fast
            for node in self.nodes_manager.startup_nodes.values():
                node.connection_class = fast

    def pubsub_nodes(self) -> list[tuple[str, int]]:
        """Primaries known from the slot map, then the startup nodes (deduplicated)."""
        # (empty until the client has read the slot map: then the startup nodes serve)
        known = [(n.host, int(n.port)) for n in self.get_primaries()]
        out: list[tuple[str, int]] = []
        for node in known + self._startup:
            if node not in out:
                out.append(node)
        return out

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        self._restore_startup_nodes()
        try:
            return await super().execute_command(*args, **kwargs)
        except RedisClusterException as exc:
            raise ClusterUnavailable(str(exc)) from None

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        if transaction or shard_hint:
            return super().pipeline(transaction, shard_hint)  # raises: no MULTI on a cluster
        self._restore_startup_nodes()
        return _ClusterPipeline(self)

    def _restore_startup_nodes(self) -> None:
        """redis-py drops a node from its startup list on every connection error; after a whole
        cluster was down the list can be empty, and the client could never find the cluster
        again. Put the URL's nodes back then."""
        startup = self.nodes_manager.startup_nodes
        if not startup:
            for host, port in self._startup:
                node = ClusterNode(host, port, **self.connection_kwargs)
                startup[node.name] = node

    async def publish(self, channel: str, message: Any, **kwargs: Any) -> int:
        """Classic PUBLISH, which a cluster broadcasts to every node (redis-py's async
        RedisCluster has no ``publish``: it cannot route a command without a key). Returns
        the receivers on the node it was sent to only."""
        return int(await self.execute_command("PUBLISH", channel, message, target_nodes=self.DEFAULT_NODE, **kwargs))

    def pubsub(self, **kwargs: Any) -> Any:  # type: ignore[override]
        raise NotImplementedError(
            "redis-py's RedisCluster has no pub/sub: use tickr_app.core.connection.pubsub_client()"
        )

    def next_pubsub_node(self) -> tuple[str, int]:
        nodes = self.pubsub_nodes()
        return nodes[next(self._pubsub_turn) % len(nodes)]


def parse_cluster_url(url: str) -> MultiHostUrl:
    parsed = parse_multi_host_url(url, DEFAULT_PORT)
    db = parsed.path.strip("/")
    if db not in ("", "0"):
        raise InvalidRequest(f"Redis Cluster has only database 0, not {db!r}: {mask_url(url)}")
    return parsed


def _connect_cluster(url: str, overrides: dict[str, Any]) -> ClusterClient:
    parsed = parse_cluster_url(url)
    options = _base_options()
    options.update(_tls_options(parsed))
    options.update(username=parsed.username, password=parsed.password)
    options.update(overrides)
    node_options = dict(options)
    node_options.pop("retry", None)  # a Retry object is stateful: each client gets its own
    # Node failures: redis-py re-reads the slot map and retries 3 times (redis-py 5's default
    # cluster_error_retry_attempts; 6+ deprecates that argument and counts `retry`'s 3).
    return ClusterClient(
        startup_nodes=[ClusterNode(host, port) for host, port in parsed.hosts],
        node_options=node_options,
        **options,
    )


# -- sentinel ---------------------------------------------------------------------------------


@dataclass(slots=True)
class SentinelConfig:
    sentinels: list[tuple[str, int]]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    tls: bool = False
    tls_options: dict[str, Any] = field(default_factory=dict)


def parse_sentinel_url(url: str) -> SentinelConfig:
    """``redis+sentinel://[user:pass@]h1:26379,h2:26379/mymaster[/db][?sentinel_password=…]``."""
    parsed = parse_multi_host_url(url, DEFAULT_SENTINEL_PORT)
    parts = [p for p in parsed.path.split("/") if p]
    if not parts:
        raise InvalidRequest(f"no service name in {mask_url(url)}; use redis+sentinel://host:port/service_name")
    if len(parts) > 2:
        raise InvalidRequest(f"too many path parts in {mask_url(url)}; use /service_name[/db]")
    db_text = parts[1] if len(parts) == 2 else parsed.query.get("db", "0")
    try:
        db = int(db_text)
    except ValueError:
        raise InvalidRequest(f"bad database number {db_text!r} in {mask_url(url)}") from None
    return SentinelConfig(
        sentinels=parsed.hosts,
        service_name=unquote(parts[0]),
        db=db,
        username=parsed.username,
        password=parsed.password,
        sentinel_username=parsed.query.get("sentinel_username") or None,
        sentinel_password=parsed.query.get("sentinel_password") or None,
        tls=parsed.tls,
        tls_options={k: v for k, v in _tls_options(parsed).items() if k != "ssl"},
    )


def _connect_sentinel(url: str, overrides: dict[str, Any]) -> aioredis.Redis:
    from redis.asyncio.sentinel import Sentinel

    config = parse_sentinel_url(url)
    sentinel_kwargs: dict[str, Any] = {"socket_connect_timeout": 5, "decode_responses": True, **wire_options()}
    if config.sentinel_username:
        sentinel_kwargs["username"] = config.sentinel_username
    if config.sentinel_password:
        sentinel_kwargs["password"] = config.sentinel_password
    if config.tls:
        sentinel_kwargs.update(ssl=True, **config.tls_options)
    options = _base_options()
    options.update(db=config.db, username=config.username, password=config.password, max_connections=512)
    if config.tls:
        options.update(ssl=True, **config.tls_options)
    options.update(overrides)
    sentinel = Sentinel(config.sentinels, sentinel_kwargs=sentinel_kwargs)
    return sentinel.master_for(config.service_name, redis_class=aioredis.Redis, **options)


# -- pub/sub ----------------------------------------------------------------------------------


def pubsub_client(redis: Any) -> tuple[Any, bool]:
    """The client to open a pub/sub connection on, and whether the caller owns (must close) it.

    A single-server or Sentinel client does pub/sub itself. redis-py's ``RedisCluster`` has no
    pub/sub, but classic PUBLISH is broadcast to every node of a cluster, so a plain connection
    to any one node hears every channel: each call returns one to the next node in turn, so a
    reconnect after a node failure tries another node.
    """
    if isinstance(redis, ClusterClient):
        host, port = redis.next_pubsub_node()
        client = aioredis.Redis(host=host, port=port, retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
                                **redis.node_options)
        use_fast_packing(client.connection_pool)  # one connect attempt: the listener backs off itself
        return client, True
    if isinstance(redis, RedisCluster):  # a plain RedisCluster passed in by the application
        node = redis.get_random_node()
        kwargs = node.connection_kwargs
        options = {k: kwargs[k] for k in _PLAIN_NODE_OPTIONS if k in kwargs}
        if issubclass(node.connection_class, SSLConnection):
            options["ssl"] = True
            options.update({k: v for k, v in kwargs.items() if k.startswith("ssl_")})
        return aioredis.Redis(**options), True
    return redis, False


_PLAIN_NODE_OPTIONS = (
    "host", "port", "username", "password", "credential_provider", "decode_responses", "encoding",
    "encoding_errors", "socket_timeout", "socket_connect_timeout", "socket_keepalive",
    "health_check_interval", "protocol",
)


def is_cluster(redis: Any) -> bool:
    return isinstance(redis, RedisCluster)


def strip_credentials(url: str) -> str:
    """The URL without user and password (and without the ?password= query parameters)."""
    if scheme_of(url) in CLUSTER_SCHEMES + SENTINEL_SCHEMES:
        default = DEFAULT_SENTINEL_PORT if scheme_of(url) in SENTINEL_SCHEMES else DEFAULT_PORT
        parsed = parse_multi_host_url(url, default)
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in parsed.hosts)
        query = "&".join(f"{k}={v}" for k, v in parsed.query.items() if not k.endswith("password"))
        return f"{parsed.scheme}://{hosts}{parsed.path}" + (f"?{query}" if query else "")
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
