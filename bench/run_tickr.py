"""Run ``tickr bench`` without the CLI: ``python bench/run_tickr.py --redis URL [--jobs N] ...``.

Same flags as ``tickr bench``, plus ``--loop {auto,uvloop,asyncio}`` (auto: uvloop if installed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tickr_app import bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_tickr.py", description="tickr bench without the CLI")
    parser.add_argument("--redis", metavar="URL", help="Redis URL; none: embedded Redis")
    parser.add_argument("--prefix", metavar="NAME", help="key prefix (default: a fresh random one)")
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    bench.add_arguments(parser)
    args = parser.parse_args(argv)
    runner = asyncio.run
    if args.loop in ("auto", "uvloop"):
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            if args.loop == "uvloop":
                print("run_tickr.py: uvloop is not installed", file=sys.stderr)
                return 1
    try:
        return runner(bench.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
