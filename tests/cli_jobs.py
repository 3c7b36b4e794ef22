"""Shared by the CLI tests: `gradcheck` commands started together as subprocesses,
collected by the tests that need them (the suite waits for the slowest, not the sum)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

TIMEOUT = 240  # per command, seconds: generous, for a loaded machine
GC = [sys.executable, "-m", "gradcheck"]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]  # for the plugin, in a fresh process


class Job:
    def __init__(self, argv: list[str], cwd: Path, env: dict | None = None) -> None:
        self.argv, self.cwd = argv, cwd
        self.start = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._result: subprocess.CompletedProcess | None = None

    def result(self) -> subprocess.CompletedProcess:
        if self._result is None:
            try:
                out, err = self.proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
                pytest.fail(f"{' '.join(self.argv)} did not finish in {TIMEOUT} s")
            self.seconds = time.monotonic() - self.start
            self._result = subprocess.CompletedProcess(self.argv, self.proc.returncode, out, err)
        return self._result

    def close(self) -> None:
        """Kill it if it still runs; close its pipes (also of a job no test collected)."""
        if self.proc.poll() is None:
            self.proc.terminate()  # gradcheck cleans up on SIGTERM (its worker, its temporary files)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self._result is None:
            self.proc.communicate()


def no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stdout + r.stderr


def gc_in_process(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """`gradcheck ARGS` as `python -m gradcheck` runs it (`SystemExit(main(argv))`), in
    this process: for a usage error that the command line's parser or its checks of the
    options find before any worker starts, where the process boundary is not what the
    test is about (a subprocess costs ~1 s of imports). `env` entries are set for the
    call and put back. An exception main() lets through is raised here: the test fails
    on it, as it would fail on a traceback in a subprocess's output."""
    from gradcheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in env or {}}
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        os.environ.update(env or {})
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help (0), a bad option (2)
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return subprocess.CompletedProcess(["gradcheck", *args], code, out.getvalue(), err.getvalue())
