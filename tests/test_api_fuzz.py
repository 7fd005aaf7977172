"""Property test of the error contract: arbitrary methods, paths, headers and bodies never get
a 500; every answer is JSON (an error object for 4xx), and a rejected request creates no job.

The server runs on a loop in a thread of its own (``ThreadedApi``) so hypothesis can drive it
with a plain synchronous httpx client.
"""

from __future__ import annotations

import gzip
import json
import string
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis
from helpers import ApiEcho, ThreadedApi, register_api_test_jobs
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from timing import deadline

from tickr_app import Registry
from tickr_app.api.schemas import SubmittedJob
from tickr_app.core.keys import GlobalKeys, queue_keys

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=8,
)
numbers_or_junk = st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False) | json_values
run_at = (
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat())
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
valid_echo = st.fixed_dictionaries({"text": st.text(max_size=30)}, optional={"times": st.integers(1, 10)})
submit_bodies = st.fixed_dictionaries(
    {"type": st.sampled_from(["echo", "echo", "boom", "block", "nope", ""]) | st.text(max_size=20) | json_values},
    optional={
        "payload": valid_echo
        | st.fixed_dictionaries(
            {}, optional={"text": st.text(max_size=30) | json_values, "times": st.integers(-5, 20) | json_values}
        )
        | json_values,
        "delay": st.floats(0, 3600) | numbers_or_junk,
        "run_at": run_at | json_values,
        "max_attempts": st.integers(1, 10) | numbers_or_junk,
        "queue": st.sampled_from(["default", "other", "a:b", ""]) | st.text(max_size=20) | json_values,
    },
)
good_submits = st.fixed_dictionaries(
    {"type": st.just("echo"), "payload": valid_echo},
    optional={"max_attempts": st.integers(1, 10), "queue": st.sampled_from(["default", "other"])},
) | st.fixed_dictionaries({"type": st.sampled_from(["boom", "block"]), "delay": st.floats(0, 3600)})
# Unknown fields only now and then, so that many bodies get past the request model.
submit_bodies = good_submits | submit_bodies | st.builds(
    lambda body, extra: {**body, **extra},
    submit_bodies,
    st.dictionaries(st.sampled_from(["id", "status", "priority"]) | st.text(max_size=8), json_values, min_size=1, max_size=2),
)
bodies = st.one_of(
    submit_bodies.map(lambda b: json.dumps(b).encode()),
    st.fixed_dictionaries({}, optional={"concurrency": numbers_or_junk, "paused": json_values}).map(
        lambda b: json.dumps(b).encode()
    ),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=100),
    st.none(),
)
segments = (
    st.uuids().map(str)
    | st.text(min_size=1, max_size=30).map(lambda s: quote(s, safe=""))
    | st.sampled_from(["default", "..", "%2F", "%00", "x" * 300])
)
endpoint_calls = st.builds(
    lambda call, seg: (call[0], call[1].format(seg)),
    st.sampled_from(
        [("POST", "/api/v1/jobs"), ("POST", "/api/v1/jobs"), ("GET", "/api/v1/jobs"), ("GET", "/api/v1/jobs/{}"),
         ("DELETE", "/api/v1/jobs/{}"), ("POST", "/api/v1/jobs/{}/retry"), ("POST", "/api/v1/queues/{}/pause"),
         ("POST", "/api/v1/queues/{}/resume"), ("PATCH", "/api/v1/workers/{}"), ("GET", "/api/v1/queues"),
         ("GET", "/api/v1/health"), ("GET", "/metrics")]
    ),
    st.uuids().map(str) | st.just("default") | st.text(min_size=1, max_size=30).map(lambda s: quote(s, safe="")),
)  # fmt: skip
paths = st.one_of(
    st.sampled_from(
        ["/api/v1/jobs", "/api/v1/job-types", "/api/v1/queues", "/api/v1/workers", "/api/v1/health",
         "/api/v1/openapi.json", "/metrics", "/", "/api/v1", "/api/v1/jobs/"]
    ),
    st.builds(
        lambda template, seg: template.format(seg),
        st.sampled_from(
            ["/api/v1/jobs/{}", "/api/v1/jobs/{}/retry", "/api/v1/queues/{}/pause", "/api/v1/queues/{}/resume",
             "/api/v1/workers/{}", "/api/v1/{}", "/{}"]
        ),
        segments,
    ),
)  # fmt: skip
queries = st.dictionaries(
    st.sampled_from(["queue", "status", "limit", "other"]),
    st.sampled_from(["default", "ready", "dead", "10", "0", "-1", "1001"]) | st.text(max_size=15),
    max_size=3,
)
# Header values: any Latin-1 text that is valid HTTP (DEL is refused by the HTTP parser).
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
).map(str.strip)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["application/json", "application/json", "application/json", "application/json; charset=utf-8",
             "text/plain", "application/x+json",
             "application/json; charset=latin-1", "multipart/form-data"]
        )
        | header_text,
        "Idempotency-Key": st.sampled_from(["k1", "k2"]) | header_text,
    },
)  # fmt: skip
# Bodies are sent compressed for real: a body that does not decode (or "br" without the Brotli
# package) is refused by aiohttp's HTTP parser with a plain-text 400 before the request
# reaches the application, like any other malformed HTTP.
encodings = st.sampled_from([None, "gzip", "deflate", "identity"])
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])


@pytest.fixture
def threaded_api(redis_url: str, prefix: str, registry: Registry, home: Path) -> Iterator[ThreadedApi]:
    register_api_test_jobs(registry)
    with ThreadedApi(redis_url, workers=0, prefix=prefix, registry=registry, home=home, builtin_jobs=False) as api:
        yield api


@pytest.fixture
def fuzz(threaded_api: ThreadedApi, redis_url: str) -> Iterator[tuple[httpx.Client, redis.Redis]]:
    with httpx.Client(base_url=threaded_api.url, timeout=deadline(10)) as http, redis.Redis.from_url(redis_url) as client:
        yield http, client


def _enqueued(client: redis.Redis, prefix: str) -> int:
    total = 0
    for queue in client.smembers(GlobalKeys(prefix).queues):
        total += int(client.hget(queue_keys(prefix, queue.decode()).stats, "enqueued") or 0)
    return total


def _check(response: httpx.Response, method: str, path: str) -> dict[str, Any] | None:
    assert response.status_code < 500, (method, path, response.status_code, response.text[:500])
    if method == "HEAD":
        return None
    if path == "/metrics" and response.status_code == 200:
        assert response.headers["content-type"].startswith("text/plain")
        return None
    assert response.headers["content-type"].startswith("application/json"), (method, path, response.text[:200])
    body = response.json()
    if response.status_code >= 400:
        error = body["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
        assert "Traceback" not in response.text
    return body


@settings(
    max_examples=500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(call=endpoint_calls | st.tuples(methods, paths), query=queries, headers=headers, body=bodies, encoding=encodings)
def test_any_request_gets_json_and_never_500(
    fuzz: tuple[httpx.Client, redis.Redis], prefix: str,
    call: tuple[str, str], query: dict[str, str], headers: dict[str, str], body: bytes | None,
    encoding: str | None,
) -> None:  # fmt: skip
    method, path = call
    raw_headers = {k: v.encode("latin-1") for k, v in headers.items() if v}
    if encoding is not None:
        raw_headers["Content-Encoding"] = encoding.encode()
        if body is not None and encoding != "identity":
            body = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    http, client = fuzz
    before = _enqueued(client, prefix)
    response = http.request(method, path, params=query, headers=raw_headers, content=body)  # type: ignore[arg-type]
    result = _check(response, method, path)
    after = _enqueued(client, prefix)
    event(f"status {response.status_code}")
    if response.status_code == 202:
        assert method == "POST" and path == "/api/v1/jobs" and result is not None
        assert after - before in (0, 1)  # 0: an idempotency key returned an existing job
        if after == before:
            assert "Idempotency-Key" in headers
    else:
        assert after == before, (method, path, response.status_code, body)


def test_threaded_api_valid_submit_sanity(threaded_api: ThreadedApi) -> None:
    """The fuzzed server does accept good requests (so the property above is not vacuous)."""
    with httpx.Client(base_url=threaded_api.url) as http:
        r = http.post("/api/v1/jobs", json={"type": "echo", "payload": {"text": string.ascii_letters}})
        assert r.status_code == 202


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=submit_bodies, key=st.none() | st.sampled_from(["k1", "k2"]) | header_text)
def test_any_submit_body_is_202_or_a_clean_4xx(
    fuzz: tuple[httpx.Client, redis.Redis], prefix: str, body: dict[str, Any], key: str | None
) -> None:
    """Well-formed JSON submits, deep into validation: 202 with a valid job, or 422/400 and no job."""
    http, client = fuzz
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    before = _enqueued(client, prefix)
    response = http.post("/api/v1/jobs", content=json.dumps(body).encode(), headers={k: v.encode("latin-1") for k, v in headers.items()})  # type: ignore[misc]
    result = _check(response, "POST", "/api/v1/jobs")
    after = _enqueued(client, prefix)
    event(f"status {response.status_code}")
    assert response.status_code in (202, 409, 422), response.text
    if response.status_code == 409:  # the key was used before, for a different request
        assert key and result is not None and result["error"]["code"] == "idempotency_conflict"
        assert after == before
    elif response.status_code == 202:
        job = SubmittedJob.model_validate(result)
        if job.type == "echo":
            ApiEcho.model_validate(job.payload)
        if after == before:  # the key was used before: the original job comes back
            assert key and job.idempotency_key == key
        else:
            assert after == before + 1
            assert job.type == body["type"] and job.status in ("ready", "waiting")
    else:
        assert after == before
        assert result is not None and result["error"]["code"] in ("invalid_request", "unknown_job_type", "invalid_payload")
