"""Building a redis-py asyncio client from a URL, and keeping passwords out of messages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import InvalidRequest
from .fastpack import fast_connection_class

SUPPORTED_SCHEMES = ("redis", "rediss", "unix")

_PASSWORD_IN_URL = re.compile(r"(?P<scheme>[a-z+]+://)(?P<user>[^:@/]*):(?P<pw>[^@/]*)@")


def mask_url(url: str) -> str:
    """``redis://user:secret@host`` -> ``redis://user:***@host``; for logs and errors."""
    return _PASSWORD_IN_URL.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


def mask_text(text: str) -> str:
    """Mask every Redis URL password that appears anywhere in a message."""
    return _PASSWORD_IN_URL.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def connect(url: str, **overrides: Any) -> aioredis.Redis:
    """A client with retries on connection errors, so a Redis restart is ridden out, not fatal."""
    scheme = urlsplit(url).scheme
    if scheme not in SUPPORTED_SCHEMES:
        raise InvalidRequest(
            f"unsupported Redis URL scheme {scheme!r} in {mask_url(url)}; use one of "
            + ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES)
        )
    options: dict[str, Any] = {
        "decode_responses": True,
        "health_check_interval": 15,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "max_connections": 512,
    }
    if scheme == "unix":
        options.pop("socket_keepalive")  # not a socket option of unix domain connections
    fast = fast_connection_class(scheme)
    if fast is not None:
        options["connection_class"] = fast
    options.update(overrides)
    return aioredis.from_url(url, **options)


def strip_credentials(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
