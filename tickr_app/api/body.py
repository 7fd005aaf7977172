"""Reading request bodies: JSON only (415), at most 1 MiB (413), well formed (400), a JSON
object (400), and valid against the endpoint's pydantic model (422 with field details)."""

from __future__ import annotations

from typing import TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from .errors import ApiError, bad_request, unprocessable
from .schemas import MAX_BODY_BYTES, field_errors

M = TypeVar("M", bound=BaseModel)


def _is_json(request: web.Request) -> bool:
    ctype = request.content_type.lower()
    if ctype != "application/json" and not (ctype.startswith("application/") and ctype.endswith("+json")):
        return False
    charset = (request.charset or "utf-8").lower()
    return charset in ("utf-8", "utf8")


async def read_object(request: web.Request) -> dict[str, object]:
    if not _is_json(request):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"the body must be JSON (Content-Type: application/json; UTF-8), not {request.content_type[:100]!r}",
        )
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", "request body is larger than 1 MiB")
    body = await request.read()  # raises HTTPRequestEntityTooLarge past client_max_size
    if not body.strip():
        raise bad_request("the request body is empty; send a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"malformed JSON: {exc}"[:300]) from None
    if not isinstance(data, dict):
        raise bad_request(f"the body must be a JSON object, not {_json_kind(data)}")
    return data


def validate(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise unprocessable("the request does not match the schema", field_errors(exc)) from None


async def read_model(request: web.Request, model: type[M]) -> M:
    return validate(model, await read_object(request))


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
