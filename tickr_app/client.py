"""HTTP client of the Tickr API (httpx): ``Client`` (sync) and ``AsyncClient``.

Both return plain dicts (the JSON the API documents) and raise ``ApiError`` subclasses chosen
by status (``NotFound``, ``Conflict``, ``ValidationFailed`` ...), each with the server's
``code``, ``message`` and ``details``; a server that cannot be reached raises
``ConnectionFailed``.

    with Client("http://127.0.0.1:8000", token="...") as tickr:
        job = tickr.submit("email", {"to": "a@example.com", "subject": "hi", "body": "..."})
        print(tickr.get(job["id"])["status"])
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from .core.job import FINAL_STATUSES

__all__ = [
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "IdempotencyConflict",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
]

DEFAULT_URL = "http://127.0.0.1:8000"
API = "/api/v1"


class ClientError(Exception):
    """Base class of everything this client raises."""


class ConnectionFailed(ClientError):
    """The server could not be reached (refused, DNS, timeout)."""


class ApiError(ClientError):
    """The server answered with an error: ``status``, ``code``, ``message``, ``details``."""

    status: int = 0

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class BadRequest(ApiError):
    """400: malformed JSON."""


class Unauthorized(ApiError):
    """401: missing or wrong bearer token."""


class NotFound(ApiError):
    """404: no such job, worker, queue or endpoint."""


class MethodNotAllowed(ApiError):
    """405."""


class Conflict(ApiError):
    """409: the job's state does not allow this (``details["status"]`` says which it is in)."""


class IdempotencyConflict(Conflict):
    """409 ``idempotency_conflict``: the Idempotency-Key was used for a different request
    (``details["job_id"]`` is the job it made)."""


class PayloadTooLarge(ApiError):
    """413: body over 1 MiB."""


class UnsupportedMediaType(ApiError):
    """415."""


class ValidationFailed(ApiError):
    """422: unknown job type, payload failing its schema, or invalid fields (``details``)."""


class ServiceUnavailable(ApiError):
    """503: the server cannot reach Redis."""


class ServerError(ApiError):
    """Any other 5xx."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    503: ServiceUnavailable,
}


def error_from_response(response: httpx.Response) -> ApiError:
    code, message, details = f"http_{response.status_code}", response.reason_phrase or "", None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = str(err.get("code", code))
        message = str(err.get("message", message))
        details = err.get("details")
    elif response.text:
        message = response.text[:200]
    cls = _BY_STATUS.get(response.status_code)
    if code == "idempotency_conflict":
        cls = IdempotencyConflict
    if cls is None:
        cls = ServerError if response.status_code >= 500 else ApiError
    return cls(response.status_code, code, message, details)


def _submit_body(
    type: str,
    payload: Any,
    delay: float | None,
    run_at: datetime | float | str | None,
    max_attempts: int | None,
    queue: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type, "payload": {} if payload is None else payload}
    if delay is not None:
        body["delay"] = delay
    if run_at is not None:
        body["run_at"] = run_at.isoformat() if isinstance(run_at, datetime) else run_at
    if max_attempts is not None:
        body["max_attempts"] = max_attempts
    if queue is not None:
        body["queue"] = queue
    return body


SCHEDULE_OPTIONS = frozenset(
    {"cron", "every", "tz", "start", "end", "paused", "misfire", "misfire_grace", "max_catchup", "overlap"}
    | {"max_attempts", "queue"}
)


def _schedule_body(type: str, payload: Any, options: dict[str, Any]) -> dict[str, Any]:
    unknown = set(options) - SCHEDULE_OPTIONS
    if unknown:
        raise TypeError(f"unknown schedule option(s): {', '.join(sorted(unknown))}")
    body: dict[str, Any] = {"type": type, "payload": {} if payload is None else payload}
    for name, value in options.items():
        if value is not None:
            body[name] = value.isoformat() if isinstance(value, datetime) else value
    return body


def _workflow_body(tree: Any, queue: str | None, policy: str | None) -> dict[str, Any]:
    """The POST /workflows body; ``tree`` is ``chain``/``group``/``sig`` or its JSON form."""
    body: dict[str, Any] = {"tree": tree.to_json() if hasattr(tree, "to_json") else tree}
    if queue is not None:
        body["queue"] = queue
    if policy is not None:
        body["policy"] = policy
    return body


WORKFLOW_FINAL = frozenset({"succeeded", "failed", "cancelled"})


def _segment(value: str) -> str:
    return quote(value, safe="")


def _list_params(queue: str | None, status: str | None, limit: int | None, type: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if type is not None:
        params["type"] = type
    if queue is not None:
        params["queue"] = queue
    if status is not None:
        params["status"] = status
    if limit is not None:
        params["limit"] = limit
    return params


def _limits_path(queue: str, job_type: str | None) -> str:
    path = f"{API}/queues/{_segment(queue)}/limits"
    return path if job_type is None else f"{path}/{_segment(job_type)}"


def _limits_body(rate: str | None, concurrency: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if rate is not None:
        body["rate"] = rate
    if concurrency is not None:
        body["concurrency"] = concurrency
    return body


def _clear_request(queue: str, job_type: str | None, rate: bool, concurrency: bool) -> tuple[str, str, dict[str, Any]]:
    """(method, path, request kwargs) removing the live rate and/or concurrency limit."""
    path = _limits_path(queue, job_type)
    if rate and concurrency:
        return "DELETE", path, {}
    body = {name: None for name, on in (("rate", rate), ("concurrency", concurrency)) if on}
    return ("PUT", path, {"json": body}) if body else ("GET", path, {})


def _worker_body(concurrency: int | None, paused: bool | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if concurrency is not None:
        body["concurrency"] = concurrency
    if paused is not None:
        body["paused"] = paused
    return body


def _headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "tickr-client"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _connection_failed(base_url: str, exc: httpx.TransportError) -> ConnectionFailed:
    if isinstance(exc, httpx.TimeoutException):
        return ConnectionFailed(f"the Tickr API at {base_url} did not answer in time ({type(exc).__name__})")
    return ConnectionFailed(f"cannot reach the Tickr API at {base_url}: {exc or type(exc).__name__}")


def _result(response: httpx.Response, *, text: bool = False) -> Any:
    if response.status_code >= 400:
        raise error_from_response(response)
    if text:
        return response.text
    try:
        return response.json()
    except ValueError:
        raise ApiError(
            response.status_code, "invalid_response", f"expected JSON from {response.request.url}, got {response.text[:80]!r}"
        ) from None


class Client:
    """Synchronous client; use as a context manager or call ``close()``."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        timeout: float = 10,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=_headers(token), timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, *, text: bool = False, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _connection_failed(self.base_url, exc) from None
        return _result(response, text=text)

    # -- jobs ------------------------------------------------------------------------------

    def submit(
        self,
        type: str,
        payload: Any = None,
        *,
        delay: float | None = None,
        run_at: datetime | float | str | None = None,
        max_attempts: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Submit a job; returns it (``status`` ready or waiting)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        body = _submit_body(type, payload, delay, run_at, max_attempts, queue)
        return self._request("POST", f"{API}/jobs", json=body, headers=headers)

    def get(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"{API}/jobs/{_segment(job_id)}")

    def list_jobs(
        self, queue: str | None = None, status: str | None = None, limit: int | None = None, *, type: str | None = None
    ) -> list[dict[str, Any]]:
        """A queue's jobs (one status, or all in dashboard order); ``type`` keeps one job type's."""
        return self._request("GET", f"{API}/jobs", params=_list_params(queue, status, limit, type))["jobs"]

    def cancel(self, job_id: str) -> dict[str, Any]:
        """``{"id", "status": "cancelled" | "cancel_requested"}``."""
        return self._request("DELETE", f"{API}/jobs/{_segment(job_id)}")

    def retry(self, job_id: str) -> dict[str, Any]:
        """Put a dead or cancelled job back to ready; returns the job."""
        return self._request("POST", f"{API}/jobs/{_segment(job_id)}/retry")

    def wait(self, job_id: str, timeout: float | None = None, interval: float = 0.2) -> dict[str, Any]:
        """Poll until the job is succeeded, dead or cancelled; TimeoutError after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job["status"] in FINAL_STATUSES:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['status']} after {timeout:g} s")
            time.sleep(interval)

    def job_types(self) -> list[dict[str, Any]]:
        return self._request("GET", f"{API}/job-types")["job_types"]

    # -- queues and workers ----------------------------------------------------------------

    def queues(self) -> list[dict[str, Any]]:
        return self._request("GET", f"{API}/queues")["queues"]

    def pause_queue(self, name: str = "default") -> dict[str, Any]:
        return self._request("POST", f"{API}/queues/{_segment(name)}/pause")

    def resume_queue(self, name: str = "default") -> dict[str, Any]:
        return self._request("POST", f"{API}/queues/{_segment(name)}/resume")

    def delete_dead(self, name: str = "default") -> int:
        """Delete every dead job of a queue; returns how many."""
        return self._request("DELETE", f"{API}/queues/{_segment(name)}/dead")["deleted"]

    def forget_queue(self, name: str) -> None:
        """Forget a queue with no jobs that no live worker serves (``Conflict`` otherwise)."""
        self._request("DELETE", f"{API}/queues/{_segment(name)}")

    def workers(self) -> list[dict[str, Any]]:
        return self._request("GET", f"{API}/workers")["workers"]

    def update_worker(self, worker_id: str, *, concurrency: int | None = None, paused: bool | None = None) -> dict[str, Any]:
        body = _worker_body(concurrency, paused)
        return self._request("PATCH", f"{API}/workers/{_segment(worker_id)}", json=body)

    # -- workflows -------------------------------------------------------------------------

    def submit_workflow(
        self, tree: Any, *, queue: str | None = None, policy: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Submit a workflow (``chain``/``group``/``sig`` or its JSON form); returns it with
        every node. ``policy``: "fail_fast" (default) or "continue". A retry with the same
        ``idempotency_key`` gets the first workflow back instead of a second one."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        return self._request("POST", f"{API}/workflows", json=_workflow_body(tree, queue, policy), headers=headers)

    def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        return self._request("GET", f"{API}/workflows/{_segment(workflow_id)}")

    def list_workflows(
        self, queue: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Workflows, newest first, without their nodes (``done`` of ``total``)."""
        return self._request("GET", f"{API}/workflows", params=_list_params(queue, status, limit))["workflows"]

    def cancel_workflow(self, workflow_id: str) -> dict[str, Any]:
        return self._request("DELETE", f"{API}/workflows/{_segment(workflow_id)}")

    def delete_workflow(self, workflow_id: str) -> None:
        """Delete an ended workflow's record and its node jobs' records."""
        self._request("DELETE", f"{API}/workflows/{_segment(workflow_id)}/record")

    def retry_workflow(self, workflow_id: str) -> dict[str, Any]:
        """Run a workflow's dead and cancelled nodes again; returns it."""
        return self._request("POST", f"{API}/workflows/{_segment(workflow_id)}/retry")

    def wait_workflow(self, workflow_id: str, timeout: float | None = None, interval: float = 0.2) -> dict[str, Any]:
        """Poll until the workflow ended; TimeoutError after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wf = self.get_workflow(workflow_id)
            if wf["status"] in WORKFLOW_FINAL:
                return wf
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"workflow {workflow_id} is still {wf['status']} after {timeout:g} s")
            time.sleep(interval)

    # -- limits ----------------------------------------------------------------------------

    def limits(self, queue: str = "default", job_type: str | None = None) -> dict[str, Any]:
        """A queue's limits (or one job type's in it) and what they hold back now."""
        return self._request("GET", _limits_path(queue, job_type))

    def set_limits(
        self, queue: str = "default", job_type: str | None = None, *, rate: str | None = None, concurrency: int | None = None
    ) -> dict[str, Any]:
        """Cluster-wide limits, live: ``rate`` "100/s", "10/min"; ``concurrency`` running at once."""
        return self._request("PUT", _limits_path(queue, job_type), json=_limits_body(rate, concurrency))

    def clear_limits(
        self, queue: str = "default", job_type: str | None = None, *, rate: bool = True, concurrency: bool = True
    ) -> dict[str, Any]:
        """Remove live limits (a default declared on @job applies again)."""
        method, path, kwargs = _clear_request(queue, job_type, rate, concurrency)
        return self._request(method, path, **kwargs)

    # -- schedules -------------------------------------------------------------------------

    def schedules(self) -> list[dict[str, Any]]:
        return self._request("GET", f"{API}/schedules")["schedules"]

    def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        return self._request("GET", f"{API}/schedules/{_segment(schedule_id)}")

    def put_schedule(self, schedule_id: str, type: str, payload: Any = None, **options: Any) -> dict[str, Any]:
        """Create or update (upsert) a schedule; options: cron or every (seconds), tz, start,
        end, paused, misfire, misfire_grace, max_catchup, overlap, max_attempts, queue."""
        body = _schedule_body(type, payload, options)
        return self._request("PUT", f"{API}/schedules/{_segment(schedule_id)}", json=body)

    def delete_schedule(self, schedule_id: str) -> dict[str, Any]:
        return self._request("DELETE", f"{API}/schedules/{_segment(schedule_id)}")

    def trigger_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Run once now; returns ``{"schedule_id", "job_id"}``."""
        return self._request("POST", f"{API}/schedules/{_segment(schedule_id)}/trigger")

    def pause_schedule(self, schedule_id: str) -> dict[str, Any]:
        return self._request("POST", f"{API}/schedules/{_segment(schedule_id)}/pause")

    def resume_schedule(self, schedule_id: str) -> dict[str, Any]:
        return self._request("POST", f"{API}/schedules/{_segment(schedule_id)}/resume")

    # -- service ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``{"status": "ok"|"degraded", "redis": "ok"|"down", ...}``: a degraded server is
        reported, not raised."""
        try:
            response = self._http.get(f"{API}/health")
        except httpx.TransportError as exc:
            raise _connection_failed(self.base_url, exc) from None
        if response.status_code == 503 and response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return _result(response)

    def openapi(self) -> dict[str, Any]:
        return self._request("GET", f"{API}/openapi.json")

    def metrics(self) -> str:
        return self._request("GET", "/metrics", text=True)


class AsyncClient:
    """Asynchronous client; use ``async with`` or ``await aclose()``."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        timeout: float = 10,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=_headers(token), timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, *, text: bool = False, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _connection_failed(self.base_url, exc) from None
        return _result(response, text=text)

    # -- jobs ------------------------------------------------------------------------------

    async def submit(
        self,
        type: str,
        payload: Any = None,
        *,
        delay: float | None = None,
        run_at: datetime | float | str | None = None,
        max_attempts: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Submit a job; returns it (``status`` ready or waiting)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        body = _submit_body(type, payload, delay, run_at, max_attempts, queue)
        return await self._request("POST", f"{API}/jobs", json=body, headers=headers)

    async def get(self, job_id: str) -> dict[str, Any]:
        return await self._request("GET", f"{API}/jobs/{_segment(job_id)}")

    async def list_jobs(
        self, queue: str | None = None, status: str | None = None, limit: int | None = None, *, type: str | None = None
    ) -> list[dict[str, Any]]:
        """A queue's jobs (one status, or all in dashboard order); ``type`` keeps one job type's."""
        return (await self._request("GET", f"{API}/jobs", params=_list_params(queue, status, limit, type)))["jobs"]

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """``{"id", "status": "cancelled" | "cancel_requested"}``."""
        return await self._request("DELETE", f"{API}/jobs/{_segment(job_id)}")

    async def retry(self, job_id: str) -> dict[str, Any]:
        """Put a dead or cancelled job back to ready; returns the job."""
        return await self._request("POST", f"{API}/jobs/{_segment(job_id)}/retry")

    async def wait(self, job_id: str, timeout: float | None = None, interval: float = 0.2) -> dict[str, Any]:
        """Poll until the job is succeeded, dead or cancelled; TimeoutError after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = await self.get(job_id)
            if job["status"] in FINAL_STATUSES:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['status']} after {timeout:g} s")
            await asyncio.sleep(interval)

    async def job_types(self) -> list[dict[str, Any]]:
        return (await self._request("GET", f"{API}/job-types"))["job_types"]

    # -- queues and workers ----------------------------------------------------------------

    async def queues(self) -> list[dict[str, Any]]:
        return (await self._request("GET", f"{API}/queues"))["queues"]

    async def pause_queue(self, name: str = "default") -> dict[str, Any]:
        return await self._request("POST", f"{API}/queues/{_segment(name)}/pause")

    async def resume_queue(self, name: str = "default") -> dict[str, Any]:
        return await self._request("POST", f"{API}/queues/{_segment(name)}/resume")

    async def delete_dead(self, name: str = "default") -> int:
        """Delete every dead job of a queue; returns how many."""
        return (await self._request("DELETE", f"{API}/queues/{_segment(name)}/dead"))["deleted"]

    async def forget_queue(self, name: str) -> None:
        """Forget a queue with no jobs that no live worker serves (``Conflict`` otherwise)."""
        await self._request("DELETE", f"{API}/queues/{_segment(name)}")

    async def workers(self) -> list[dict[str, Any]]:
        return (await self._request("GET", f"{API}/workers"))["workers"]

    async def update_worker(
        self, worker_id: str, *, concurrency: int | None = None, paused: bool | None = None
    ) -> dict[str, Any]:
        body = _worker_body(concurrency, paused)
        return await self._request("PATCH", f"{API}/workers/{_segment(worker_id)}", json=body)

    # -- workflows -------------------------------------------------------------------------

    async def submit_workflow(
        self, tree: Any, *, queue: str | None = None, policy: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Submit a workflow; as ``Client.submit_workflow``."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        body = _workflow_body(tree, queue, policy)
        return await self._request("POST", f"{API}/workflows", json=body, headers=headers)

    async def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        return await self._request("GET", f"{API}/workflows/{_segment(workflow_id)}")

    async def list_workflows(
        self, queue: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return (await self._request("GET", f"{API}/workflows", params=_list_params(queue, status, limit)))["workflows"]

    async def cancel_workflow(self, workflow_id: str) -> dict[str, Any]:
        return await self._request("DELETE", f"{API}/workflows/{_segment(workflow_id)}")

    async def delete_workflow(self, workflow_id: str) -> None:
        await self._request("DELETE", f"{API}/workflows/{_segment(workflow_id)}/record")

    async def retry_workflow(self, workflow_id: str) -> dict[str, Any]:
        return await self._request("POST", f"{API}/workflows/{_segment(workflow_id)}/retry")

    async def wait_workflow(
        self, workflow_id: str, timeout: float | None = None, interval: float = 0.2
    ) -> dict[str, Any]:
        """Poll until the workflow ended; TimeoutError after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wf = await self.get_workflow(workflow_id)
            if wf["status"] in WORKFLOW_FINAL:
                return wf
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"workflow {workflow_id} is still {wf['status']} after {timeout:g} s")
            await asyncio.sleep(interval)

    # -- limits ----------------------------------------------------------------------------

    async def limits(self, queue: str = "default", job_type: str | None = None) -> dict[str, Any]:
        return await self._request("GET", _limits_path(queue, job_type))

    async def set_limits(
        self, queue: str = "default", job_type: str | None = None, *, rate: str | None = None, concurrency: int | None = None
    ) -> dict[str, Any]:
        return await self._request("PUT", _limits_path(queue, job_type), json=_limits_body(rate, concurrency))

    async def clear_limits(
        self, queue: str = "default", job_type: str | None = None, *, rate: bool = True, concurrency: bool = True
    ) -> dict[str, Any]:
        method, path, kwargs = _clear_request(queue, job_type, rate, concurrency)
        return await self._request(method, path, **kwargs)

    # -- schedules -------------------------------------------------------------------------

    async def schedules(self) -> list[dict[str, Any]]:
        return (await self._request("GET", f"{API}/schedules"))["schedules"]

    async def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        return await self._request("GET", f"{API}/schedules/{_segment(schedule_id)}")

    async def put_schedule(self, schedule_id: str, type: str, payload: Any = None, **options: Any) -> dict[str, Any]:
        """Create or update (upsert) a schedule; options as ``Client.put_schedule``."""
        body = _schedule_body(type, payload, options)
        return await self._request("PUT", f"{API}/schedules/{_segment(schedule_id)}", json=body)

    async def delete_schedule(self, schedule_id: str) -> dict[str, Any]:
        return await self._request("DELETE", f"{API}/schedules/{_segment(schedule_id)}")

    async def trigger_schedule(self, schedule_id: str) -> dict[str, Any]:
        return await self._request("POST", f"{API}/schedules/{_segment(schedule_id)}/trigger")

    async def pause_schedule(self, schedule_id: str) -> dict[str, Any]:
        return await self._request("POST", f"{API}/schedules/{_segment(schedule_id)}/pause")

    async def resume_schedule(self, schedule_id: str) -> dict[str, Any]:
        return await self._request("POST", f"{API}/schedules/{_segment(schedule_id)}/resume")

    # -- service ---------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """``{"status": "ok"|"degraded", "redis": "ok"|"down", ...}``: a degraded server is
        reported, not raised."""
        try:
            response = await self._http.get(f"{API}/health")
        except httpx.TransportError as exc:
            raise _connection_failed(self.base_url, exc) from None
        if response.status_code == 503 and response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return _result(response)

    async def openapi(self) -> dict[str, Any]:
        return await self._request("GET", f"{API}/openapi.json")

    async def metrics(self) -> str:
        return await self._request("GET", "/metrics", text=True)
