"""Bearer-token authentication: when the app has a token, every path except the open ones
(``/api/v1/health``) needs ``Authorization: Bearer <token>``."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from .errors import ApiError

OPEN_PATHS = frozenset({"/api/v1/health"})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tickr"'}


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def token_matches(header: str | None, token: str) -> bool:
    """Constant-time comparison of an ``Authorization`` header with the expected token."""
    if not header:
        return False
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(_bytes(credentials.strip()), _bytes(token))


def auth_middleware(token: str) -> Any:
    @web.middleware
    async def check_token(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path not in OPEN_PATHS and not token_matches(request.headers.get("Authorization"), token):
            missing = "Authorization" not in request.headers
            raise ApiError(
                401,
                "unauthorized",
                "missing bearer token" if missing else "wrong bearer token",
                headers=_CHALLENGE,
            )
        return await handler(request)

    return check_token
