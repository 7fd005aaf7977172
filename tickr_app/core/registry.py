"""Job types: a name, a handler and the pydantic model its payload must satisfy.

The payload model is the single source for validation (engine and API), the JSON Schema the
API publishes, and the form the TUI generates. A handler is ``async def`` (runs on the event
loop) or plain ``def`` (runs on a bounded thread pool, or with ``run_in="process"`` in a pool of
worker processes) so blocking and CPU-bound job code never freezes the loop.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from . import defaults
from .errors import InvalidPayload, InvalidRequest, UnknownJobType
from .keys import DEFAULT_QUEUE, QUEUE_NAME_RULE, is_queue_name
from .limits import Rate, check_concurrency, parse_rate

Handler = Callable[..., Awaitable[Any]] | Callable[..., Any]
RunIn = Literal["loop", "thread", "process"]
"""Where a handler runs: ``loop`` (``async def``, on the event loop), ``thread`` (plain ``def``,
on the pool's thread pool) or ``process`` (plain ``def``, in a long-lived worker process)."""
RUN_IN_CHOICES: tuple[RunIn, ...] = ("loop", "thread", "process")

DEFAULT_MAX_ATTEMPTS = defaults.MAX_ATTEMPTS
DEFAULT_TIMEOUT_S = defaults.TIMEOUT_S
DEFAULT_BACKOFF_BASE_S = defaults.BACKOFF_BASE_S
DEFAULT_BACKOFF_CAP_S = defaults.BACKOFF_CAP_S


class AnyPayload(BaseModel):
    """Payload model for handlers that take a plain dict: any JSON object."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True, slots=True)
class DeclaredSchedule:
    """``@job(..., cron=|every=)``: a schedule (id = the job type's name) that every engine
    running a scheduler upserts when it starts (see core/schedules.py)."""

    cron: str | None = None
    every: timedelta | float | None = None
    tz: str | None = None
    payload: Any = None
    misfire: str = "skip"
    overlap: str = "allow"


@dataclass(frozen=True, slots=True)
class JobType:
    name: str
    handler: Handler
    payload_model: type[BaseModel]
    queue: str = DEFAULT_QUEUE
    timeout: float | None = DEFAULT_TIMEOUT_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base: float = DEFAULT_BACKOFF_BASE_S
    backoff_cap: float = DEFAULT_BACKOFF_CAP_S
    description: str = ""
    takes_context: bool = True
    wants_dict: bool = False
    schedule: DeclaredSchedule | None = None
    run_in: RunIn = "loop"
    rate_limit: Rate | None = None
    """Declared default: at most this many jobs of the type started per period in its queue,
    across every process (a limit set live wins; see core/limit_methods.py)."""
    concurrency: int | None = None
    """Declared default: at most this many running at once in its queue, across every process."""

    def validate(self, payload: Any) -> BaseModel:
        """Validate a payload (dict, or JSON text/bytes) or raise InvalidPayload with field errors."""
        try:
            if isinstance(payload, (str, bytes, bytearray)):
                return self.payload_model.model_validate_json(payload)
            return self.payload_model.model_validate(payload)
        except ValidationError as exc:
            raise InvalidPayload(
                f"payload does not match the schema of job type {self.name!r}",
                details=field_errors(exc),
            ) from None

    def json_schema(self) -> dict[str, Any]:
        return self.payload_model.model_json_schema()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "queue": self.queue,
            "description": self.description,
            "timeout": self.timeout,
            "max_attempts": self.max_attempts,
            "run_in": self.run_in,
            "rate_limit": str(self.rate_limit) if self.rate_limit else None,
            "concurrency": self.concurrency,
            "backoff": {"base": self.backoff_base, "cap": self.backoff_cap},
            "payload_schema": self.json_schema(),
        }


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors reduced to what a client can show next to a field."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(payload)", "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


@dataclass
class Registry:
    """Job types by name. Types are only ever resolved from here, never from request data."""

    types: dict[str, JobType] = field(default_factory=dict)

    def add(self, job_type: JobType) -> JobType:
        self.types[job_type.name] = job_type
        return job_type

    def get(self, name: str) -> JobType:
        try:
            return self.types[name]
        except KeyError:
            known = ", ".join(sorted(self.types)) or "none registered"
            raise UnknownJobType(f"unknown job type {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.types

    def __iter__(self) -> Iterator[JobType]:
        return iter(self.types.values())

    def __len__(self) -> int:
        return len(self.types)

    def queues(self) -> set[str]:
        return {t.queue for t in self.types.values()}

    def job(
        self,
        name: str | None = None,
        *,
        queue: str = DEFAULT_QUEUE,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_base: float = DEFAULT_BACKOFF_BASE_S,
        backoff_cap: float = DEFAULT_BACKOFF_CAP_S,
        payload_model: type[BaseModel] | None = None,
        cron: str | None = None,
        every: timedelta | float | None = None,
        tz: str | None = None,
        schedule_payload: Any = None,
        misfire: str = "skip",
        overlap: str = "allow",
        run_in: RunIn | None = None,
        rate_limit: str | int | None = None,
        concurrency: int | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator registering a handler ``(payload: Model, ctx: JobContext)``; the model
        comes from the first parameter's annotation unless ``payload_model`` is given.
        ``run_in`` defaults to ``"loop"`` for ``async def`` and ``"thread"`` for ``def``.
        With ``cron=`` or ``every=`` the type also runs on that schedule, with
        ``schedule_payload``. ``rate_limit`` ("100/s", "10/min") and ``concurrency`` are
        cluster-wide defaults for the type in its queue (a limit set live wins)."""
        try:
            rate = parse_rate(rate_limit) if rate_limit is not None else None
            conc = check_concurrency(concurrency) if concurrency is not None else None
        except InvalidRequest as exc:
            raise ValueError(exc.message) from None
        declared = None
        if cron is not None or every is not None:
            from .slots import interval_ms, make_timing

            make_timing(cron=cron, every_ms=interval_ms(every), tz=tz)  # fail at import, not at start
            declared = DeclaredSchedule(cron, every, tz, schedule_payload, misfire, overlap)

        def register(handler: Handler) -> Handler:
            where = resolve_run_in(handler, run_in)
            if max_attempts < 1:
                raise ValueError("max_attempts must be at least 1")
            if not is_queue_name(queue):
                raise ValueError(f"invalid queue name {queue!r}: {QUEUE_NAME_RULE}")
            model, takes_context, wants_dict = _inspect_handler(handler, payload_model)
            self.add(
                JobType(
                    name=name or handler.__name__,
                    handler=handler,
                    payload_model=model,
                    queue=queue,
                    timeout=timeout,
                    max_attempts=max_attempts,
                    backoff_base=backoff_base,
                    backoff_cap=backoff_cap,
                    description=inspect.getdoc(handler) or "",
                    takes_context=takes_context,
                    wants_dict=wants_dict,
                    schedule=declared,
                    run_in=where,
                    rate_limit=rate,
                    concurrency=conc,
                )
            )
            return handler

        return register


def resolve_run_in(handler: Handler, run_in: RunIn | None) -> RunIn:
    """Check ``run_in`` against the handler's kind; the default follows ``async def``/``def``."""
    is_async = inspect.iscoroutinefunction(handler)
    if run_in is None:
        return "loop" if is_async else "thread"
    if run_in not in RUN_IN_CHOICES:
        raise ValueError(f"run_in must be one of {', '.join(RUN_IN_CHOICES)}, not {run_in!r}")
    if run_in == "loop" and not is_async:
        raise TypeError(f"job handler {handler.__qualname__} runs on the loop: it must be an async function")
    if run_in in ("thread", "process") and is_async:
        raise TypeError(
            f"job handler {handler.__qualname__} is async: run_in={run_in!r} needs a plain def "
            "(blocking code belongs in a def handler, not in an async def)"
        )
    if run_in == "process":
        qualname = getattr(handler, "__qualname__", "")
        module = getattr(handler, "__module__", None)
        main = sys.modules.get("__main__")
        if "<locals>" in qualname or not module or (module == "__main__" and not getattr(main, "__file__", None)):
            raise TypeError(
                f"job handler {qualname} cannot run in a process: the worker process imports it by "
                "module path, so define it at the top level of an importable module (not in a "
                "notebook cell or inside a function)"
            )
    return run_in


def _inspect_handler(handler: Handler, payload_model: type[BaseModel] | None = None) -> tuple[type[BaseModel], bool, bool]:
    params = list(inspect.signature(handler).parameters.values())
    if not params:
        raise TypeError(f"job handler {handler.__qualname__} must take the payload as first argument")
    takes_context = len(params) > 1
    if payload_model is not None:
        return payload_model, takes_context, False
    try:
        annotation = typing.get_type_hints(handler).get(params[0].name, inspect.Parameter.empty)
    except Exception:
        annotation = params[0].annotation
        if isinstance(annotation, str):
            annotation = _resolve(annotation, handler)
        if isinstance(annotation, str):
            # A model defined inside a function cannot be resolved from a string annotation
            # (``from __future__ import annotations``); silently accepting any dict instead
            # would skip validation and defaults, so say so.
            raise TypeError(
                f"cannot resolve the payload annotation {annotation!r} of job handler "
                f"{handler.__qualname__}: define the model at module level, or pass "
                "payload_model= to @job"
            ) from None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, takes_context, False
    return AnyPayload, takes_context, True


def _resolve(annotation: str, handler: Handler) -> Any:
    """Evaluate one string annotation in the handler's module; the string itself if that fails
    (other annotations of the handler may be unresolvable without this one being so)."""
    import builtins

    namespace = {**vars(builtins), **getattr(handler, "__globals__", {})}
    try:
        return eval(annotation, namespace)
    except Exception:
        return annotation


default_registry = Registry()


def job(
    name: str | None = None,
    *,
    queue: str = DEFAULT_QUEUE,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_base: float = DEFAULT_BACKOFF_BASE_S,
    backoff_cap: float = DEFAULT_BACKOFF_CAP_S,
    payload_model: type[BaseModel] | None = None,
    cron: str | None = None,
    every: timedelta | float | None = None,
    tz: str | None = None,
    schedule_payload: Any = None,
    misfire: str = "skip",
    overlap: str = "allow",
    run_in: RunIn | None = None,
    rate_limit: str | int | None = None,
    concurrency: int | None = None,
) -> Callable[[Handler], Handler]:
    """Register a job type in the default registry (see ``Registry.job``)."""
    return default_registry.job(
        name,
        queue=queue,
        timeout=timeout,
        max_attempts=max_attempts,
        backoff_base=backoff_base,
        backoff_cap=backoff_cap,
        payload_model=payload_model,
        cron=cron,
        every=every,
        tz=tz,
        schedule_payload=schedule_payload,
        misfire=misfire,
        overlap=overlap,
        run_in=run_in,
        rate_limit=rate_limit,
        concurrency=concurrency,
    )

