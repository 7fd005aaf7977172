"""Every error the API returns is JSON ``{"error": {"code", "message", "details"?}}``.

``error_middleware`` is the outermost middleware: it turns engine errors, aiohttp's own HTTP
errors (404 unknown route, 405, 413 ...), Redis outages and, as a last resort, any other
exception (500, logged, no traceback in the response) into that shape.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from tickr_app.core.connection import mask_text
from tickr_app.core.errors import (
    EmbeddedRedisError,
    IdempotencyConflict,
    InvalidPayload,
    InvalidRequest,
    JobNotFound,
    QueueNotFound,
    RedisUnavailable,
    ScheduleNotFound,
    ScheduleQueueConflict,
    TickrError,
    UnknownJobType,
    WorkerNotFound,
    WorkflowNotFound,
    WrongState,
)

log = logging.getLogger("tickr.api")

JSON = "application/json"


class ApiError(Exception):
    """An error a handler raises to answer with a given status and code."""

    def __init__(self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def bad_request(message: str, details: Any = None) -> ApiError:
    return ApiError(400, "malformed_json", message, details)


def unprocessable(message: str, details: Any = None) -> ApiError:
    return ApiError(422, "invalid_request", message, details)


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


_STATUS_OF: tuple[tuple[type[TickrError], int], ...] = (
    (ScheduleQueueConflict, 409),  # before InvalidRequest, its base
    (UnknownJobType, 422),
    (InvalidPayload, 422),
    (InvalidRequest, 422),
    (JobNotFound, 404),
    (WorkerNotFound, 404),
    (ScheduleNotFound, 404),
    (QueueNotFound, 404),
    (WorkflowNotFound, 404),
    (WrongState, 409),
    (IdempotencyConflict, 409),
    (RedisUnavailable, 503),
    (EmbeddedRedisError, 503),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    411: "length_required",
    413: "body_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "too_many_requests",
    431: "headers_too_large",
    500: "internal_error",
    503: "service_unavailable",
}

_HTTP_MESSAGES = {
    404: "no such endpoint",
    413: "request body is larger than 1 MiB",
}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON, headers=headers)


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return json_response({"error": error}, status, headers)


def _trim_details(details: Any) -> Any:
    """Field errors may name user-chosen keys: keep them short and few."""
    if isinstance(details, list):
        out = []
        for item in details[:100]:
            if isinstance(item, dict):
                item = {k: (v[:200] if isinstance(v, str) else v) for k, v in item.items()}
            out.append(item)
        return out
    return details


def tickr_error_response(exc: TickrError) -> web.Response:
    status = next((s for cls, s in _STATUS_OF if isinstance(exc, cls)), 500)
    if status == 500:
        log.error("unmapped engine error %s: %s", type(exc).__name__, exc.message)
        return error_response(500, "internal_error", "internal server error")
    message = exc.message if len(exc.message) <= 500 else exc.message[:497] + "..."
    details = exc.details
    if status == 422 and not isinstance(details, list):
        # Every 422 lists {field, message, type}, whichever layer found the problem.
        details = [{"field": "(body)", "message": message, "type": exc.code}]
    return error_response(status, exc.code, message, _trim_details(details))


def redis_down_response(exc: BaseException) -> web.Response:
    """503 for ``RedisUnavailable`` (the engine's facade lets no redis-py error out; it logs a
    Redis error reply itself) and for a socket error or timeout."""
    text = exc.message if isinstance(exc, TickrError) else f"Redis is unavailable: {exc}"
    return error_response(503, "redis_unavailable", mask_text(text)[:500])


def http_exception_response(exc: web.HTTPException) -> web.StreamResponse:
    if exc.status < 400:
        raise exc  # redirects and the like are not errors
    code = _HTTP_CODES.get(exc.status, f"http_{exc.status}")
    message = _HTTP_MESSAGES.get(exc.status) or exc.reason or code
    details = None
    headers: dict[str, str] = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        details = {"allowed": allowed}
        headers["Allow"] = ", ".join(allowed)
        message = f"method {exc.method} is not allowed here"
    if "WWW-Authenticate" in exc.headers:
        headers["WWW-Authenticate"] = exc.headers["WWW-Authenticate"]
    return error_response(exc.status, code, message, details, headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
    except TickrError as exc:
        if isinstance(exc, (RedisUnavailable, EmbeddedRedisError)):
            return redis_down_response(exc)
        return tickr_error_response(exc)
    except web.HTTPException as exc:
        return http_exception_response(exc)
    except (HttpProcessingError, web.RequestPayloadError) as exc:
        # e.g. a body whose Content-Encoding does not decode
        reason = getattr(exc, "message", None) or str(exc)
        return error_response(400, "bad_request", f"cannot read the request body: {reason.strip()}"[:500])
    except ConnectionResetError:
        # The client hung up mid-request: nobody reads an answer, but a plain return keeps
        # aiohttp from logging a traceback for it.
        log.debug("client went away during %s %s", request.method, request.path)
        return error_response(400, "client_disconnected", "the client closed the connection")
    except (ConnectionError, TimeoutError) as exc:
        return redis_down_response(exc)
    except Exception:
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal server error")
