"""A job type that always fails, for tests of stored tracebacks (``--jobs failjobs``)."""

from __future__ import annotations

from pydantic import BaseModel

from tickr_app import JobContext, job


class Nothing(BaseModel):
    pass


@job("explode", max_attempts=1)
async def explode(payload: Nothing, ctx: JobContext) -> None:
    raise ValueError("kaboom from a job")
