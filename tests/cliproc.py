"""Real ``tickr`` processes for the start-up, uvloop and embedded-Redis tests: spawn one and
wait for its ready line (``tickr running: ...``), the signal benches and supervisors use."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from timing import deadline

TESTS_DIR = Path(__file__).parent
READY = "tickr running:"
# Generous: a process test waits for a readiness signal, and this bound only turns a hang into a
# failure. Scaled like every deadline in the suite (tests/timing.py).
READY_TIMEOUT_S = deadline(60.0)


class TickrProcess:
    """A ``python -m tickr_app ...`` child whose stderr is collected by a thread."""

    def __init__(
        self, args: list[str], *, home: Path, env: dict[str, str] | None = None, python_prelude: str = ""
    ) -> None:
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), full_env.get("PYTHONPATH", "")]))
        full_env["TICKR_HOME"] = str(home)
        full_env.pop("TICKR_REDIS_URL", None)
        full_env.update(env or {})
        if python_prelude:
            # Run the CLI after a few lines of setup (e.g. making a module unimportable).
            code = f"{python_prelude}\nimport sys\nfrom tickr_app.cli import main\nraise SystemExit(main(sys.argv[1:]))"
            argv = [sys.executable, "-c", code, *args]
        else:
            argv = [sys.executable, "-m", "tickr_app", *args]
        self.proc = subprocess.Popen(
            argv, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for_line(self, needle: str, timeout: float = READY_TIMEOUT_S) -> str:
        """The first output line containing ``needle``; fails if the process exits first."""
        until = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                if not self._reader.is_alive():
                    code = self.proc.poll()
                    raise AssertionError(f"process exited ({code}) before {needle!r}:\n{self.output_unlocked()}")
                left = until - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {needle!r} line within {timeout:g} s:\n{self.output_unlocked()}")
                self._changed.wait(min(left, 0.5))

    def output_unlocked(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self) -> str:
        return self.wait_for_line(READY)

    def finish(self, timeout: float = READY_TIMEOUT_S) -> int:
        """Wait for exit (after the caller signalled it); kill it if it hangs."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"process did not exit within {timeout:g} s:\n{self.output}") from None
        self._reader.join(timeout=deadline(10))
        return code

    def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.finish()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(timeout=deadline(10))
