"""Job types for the CLI process tests (``--jobs clijobs``)."""

from __future__ import annotations

from pydantic import BaseModel

from tickr_app import JobContext, job


class Nothing(BaseModel):
    pass


@job("explode", max_attempts=1)
async def explode(payload: Nothing, ctx: JobContext) -> None:
    raise ValueError("kaboom from a job")


@job("nap", max_attempts=3)
async def nap(payload: Nothing, ctx: JobContext) -> str:
    """Harmless and quick: what a pool that leased it would run."""
    return "rested"
