"""Requests aiohttp cannot even parse (an unknown method such as ``FOO``, a NUL byte in a
header, a broken Content-Length) never reach the app or its middlewares: aiohttp answers them
in plain text and logs ``ERROR aiohttp.server`` with a traceback. ``JsonErrorRunner`` answers
them with the API's JSON error instead and logs one INFO line: a malformed request is the
client's mistake (or a port scanner), not the server's."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from .errors import error_response

log = logging.getLogger("tickr.api")

API_METHODS = "GET, HEAD, POST, PATCH, DELETE"


class JsonErrorRequestHandler(RequestHandler):
    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        reason = (message or str(exc) or "malformed request").strip().splitlines()[0][:200]
        log.info("rejected a malformed request from %s: %s", request.remote, reason)
        if request.writer.output_size > 0:
            raise ConnectionError("the response is already under way; cannot send the error")
        headers: dict[str, str] = {}
        if isinstance(exc, BadHttpMethod):
            status, code, text = 405, "method_not_allowed", f"unknown HTTP method; this API uses {API_METHODS}"
            headers["Allow"] = API_METHODS
        elif isinstance(exc, LineTooLong):
            status, code, text = 431, "headers_too_large", "the request line or a header is too long"
        else:
            code, text = "bad_request", f"malformed HTTP request: {reason}"
        response = error_response(status, code, text, headers=headers)
        response.force_close()
        return response


class JsonErrorServer(Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorRunner(web.AppRunner):
    """An ``AppRunner`` whose connections answer unparseable requests with JSON errors."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = JsonErrorServer  # same state, one method different
        return server
