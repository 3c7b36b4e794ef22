"""The supervisor: runs the checks in a worker process (gradcheck/worker.py), one
layer at a time, and turns whatever happens to the worker into a finding.

It never imports the user's module. A worker that dies (exit, os._exit, a
signal, out of memory) gives a `crash` finding for the layer it was running,
naming how it died and the check and example it was in; a worker over its time
is killed (SIGKILL, not asked); the next layer gets a fresh worker.
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .findings import Finding
from .frames import check_of, user_frame
from .jaxcache import cache_home
from .report import OUTPUT_LINES, CheckSummary, LayerReport

GRACE = 3.0  # seconds a worker gets past a limit (its own alarm's chance) before it is killed


class WorkerError(Exception):
    """The module could not be loaded (a usage or input error: exit 2)."""


def _blame(report: LayerReport, how: str) -> None:
    """A crash finding for a layer whose code broke the worker after it finished
    (closed or replaced a file descriptor the worker reads, say)."""
    msg = f"{how}: its code left the worker unable to go on (closed or replaced a file descriptor?)"
    report.failures.append(Finding("crash", "fail", msg))
    report.checks["crash"] = CheckSummary("crash", "fail", None, msg)


class _Died(Exception):
    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


@dataclass
class Limits:
    timeout: float | None = 20.0  # per example, seconds
    budget: float | None = 180.0  # per layer, shrinking included, seconds
    memory_mb: int | None = None  # address-space cap of the worker (Linux)
    load: float = 120.0  # importing the user's module, seconds


def default_memory_mb() -> int:
    """Half the machine's memory, at least 4 GiB (JAX alone maps ~1.5 GiB)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        return 4096
    return max(4096, total // 2)


def _worker_env() -> dict[str, str]:
    """The environment, with this gradcheck importable in the worker (which runs with
    `-P`, so the current directory is not on its path) even when it is not installed."""
    ours = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ours, *filter(None, [env.get("PYTHONPATH")])])
    return env


class Worker:
    """One worker process and the two pipes to it."""

    def __init__(self, tmp: Path, n: int, memory_mb: int | None, show_output: bool) -> None:
        self.crash_file = tmp / f"faulthandler-{n}.txt"
        self.log = tmp / f"worker-{n}.log"
        r, w = os.pipe()
        config = {
            "memory_mb": memory_mb,
            "crash_file": str(self.crash_file),
            "hypothesis_home": str(cache_home() / "hypothesis"),
        }
        with open(self.log, "wb") as log:
            out = None if show_output else log
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "gradcheck.worker", str(w), json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=sys.stderr if show_output else out,
                stderr=sys.stderr if show_output else subprocess.STDOUT,
                pass_fds=(w,),
                start_new_session=True,  # Ctrl-C reaches the supervisor only
                env=_worker_env(),
            )
        os.close(w)
        self.fd, self.buf = r, b""
        self.exit_event: dict | None = None

    def send(self, **request) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _Died(self.death()) from None

    def recv(self, deadline: float | None) -> dict | None:
        """The next event; None when `deadline` (time.monotonic) passes first."""
        while b"\n" not in self.buf:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise _Died(self.death())
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            event = json.loads(line)
        except ValueError:  # only the layer's code, writing to our fd, can put this here
            self.kill()
            raise _Died(f"wrote to gradcheck's event pipe ({line[:80]!r}...) and was stopped") from None
        if not isinstance(event, dict):
            self.kill()
            raise _Died(f"wrote to gradcheck's event pipe ({line[:80]!r}) and was stopped")
        if event.get("event") == "exit":
            self.exit_event = event
        return event

    def death(self) -> str:
        """How the worker ended, in words."""
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            return "stopped answering and was killed"
        if code < 0:
            name = signal.Signals(-code).name
            what = {"SIGSEGV": "segmentation fault", "SIGKILL": "killed: out of memory?", "SIGABRT": "abort"}
            return f"was killed by signal {name}" + (f" ({what[name]})" if name in what else "")
        if self.exit_event is not None:
            where = self.exit_event.get("where")
            return f"exited with code {code}: the layer called os._exit({code})" + (f" at {where}" if where else "")
        return f"exited with code {code}"

    def crash_stack(self) -> list[traceback.FrameSummary]:
        """The stack faulthandler wrote when the worker died of a signal (innermost last)."""
        try:
            text = self.crash_file.read_text(errors="replace")
        except OSError:
            return []
        start = text.find("most recent call first")  # "Stack (...)" or "Current thread ... (...)"
        current = text[start:] if start >= 0 else text
        found = re.findall(r'File "(.+?)", line (\d+) in (\S+)', current.split("\n\n")[0])
        return [traceback.FrameSummary(f, int(n), name) for f, n, name in reversed(found)]

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its session: the worker and anything it started
            except OSError:
                self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        os.close(self.fd)
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass


@dataclass
class LayerInfo:
    name: str  # the spec's
    cls: str | None
    label: str
    layers_arg: str


@dataclass
class Session:
    """Load a target in a worker and run its layers one at a time.

    load: the load request ({"target": path or module or None for rnnref, "paths", "layers"}).
    options: RunOptions fields for the worker (profile, max_examples, seed, strict, timeout,
    budget, replay_command). progress: called with (layer label, done, planned, failing,
    seconds, final) for display.
    """

    load: dict
    options: dict
    limits: Limits = field(default_factory=Limits)
    show_output: bool = False
    progress: Callable[..., None] | None = None
    layers: list[LayerInfo] = field(default_factory=list)
    not_checked: list[dict] = field(default_factory=list)
    compiles: int = 0

    def __post_init__(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="gradcheck-"))
        self._worker: Worker | None = None
        self._started = 0

    def open(self) -> list[LayerInfo]:
        """Start a worker and load the target; WorkerError if it cannot be loaded."""
        self._worker, loaded = self._start()
        self.layers = [LayerInfo(**d) for d in loaded["layers"]]
        self.not_checked = loaded["not_checked"]
        return self.layers

    def _start(self) -> tuple[Worker, dict]:
        self._started += 1
        w = Worker(self._tmp, self._started, self.limits.memory_mb, self.show_output)
        out = None if self.show_output else str(self._tmp / f"load-{self._started}.out")
        deadline = time.monotonic() + self.limits.load
        try:
            w.send(op="load", **self.load, output=out)
            while True:
                event = w.recv(deadline)
                if event is None:
                    w.close()
                    raise WorkerError(f"importing {self.load.get('target')} took longer than {self.limits.load:g} s")
                if event["event"] == "error":
                    w.close()
                    raise WorkerError(event["message"])
                if event["event"] == "loaded":
                    return w, event
        except _Died as died:
            w.close()
            tail = (_tail(Path(out))[0] if out else "") or _tail(w.log, 10)[0]
            detail = f"; its output ended with:\n{tail}" if tail else ""
            raise WorkerError(f"importing {self.load.get('target')}: the process {died.how}{detail}") from None

    def run_layer(self, index: int, options: dict | None = None, *, retry: bool = True) -> LayerReport:
        """Run layer `index`; `options` update the session's run options for this layer.

        A worker that dies before the layer has started (before its first event) was
        broken by the layer before it (e.g. one that closed fd 0): that layer gets the
        crash finding, and this one runs again, once, in a fresh worker."""
        info = self.layers[index]
        run_options = {**self.options, **(options or {})}
        if self._worker is None or self._worker.proc.poll() is not None:
            if self._worker is not None:
                self._worker.close()
            try:  # a fresh worker after a crash loads the target again
                self._worker, _ = self._start()
            except WorkerError as exc:
                self._worker = None
                nothing_ran = {"n": 0, "example": None, "seed": None}
                return self._crash_report(info, nothing_ran, f"a fresh worker: {exc}", run_options)
        w = self._worker
        out = self._tmp / f"layer-{index}.out"
        t0 = time.monotonic()
        state: dict[str, Any] = {
            "n": 0,
            "planned": 0,
            "failing": 0,
            "example": None,
            "seed": None,
            "t": t0,
            "dropped": 0,
        }
        budget, timeout = self.limits.budget, self.limits.timeout
        try:
            w.send(op="layer", index=index, options=run_options, output=None if self.show_output else str(out))
            while True:
                deadlines = [t0 + budget + GRACE] if budget else []
                if timeout and state["n"]:
                    deadlines.append(state["t"] + timeout + GRACE)
                deadline = min(deadlines) if deadlines else None
                tick = time.monotonic() + 1.0  # the progress line's clock moves while an example runs
                event = w.recv(tick if deadline is None else min(deadline, tick))
                if self.progress:
                    self.progress(
                        info.label, state["n"], state["planned"], state["failing"], time.monotonic() - t0, False
                    )
                if event is None and (deadline is None or time.monotonic() < deadline):
                    continue
                if event is None:
                    over_budget = budget and time.monotonic() >= t0 + budget + GRACE
                    w.close()
                    self._worker = None
                    report = self._crash_report(info, state, self._killed_message(over_budget), run_options)
                    break
                kind = event["event"]
                if kind == "example":
                    state.update(n=event["n"], planned=event["planned"], failing=event["failing"])
                    state.update(example=event["example"], t=time.monotonic())
                    state["dropped"] += event.get("dropped", 0)
                elif kind == "start":
                    state["seed"] = event["seed"]
                elif kind == "layer":
                    report = LayerReport.from_wire(event["report"])
                    self.compiles += event.get("compiles", 0)
                    break
        except _Died as died:
            if retry and state["seed"] is None and self._last is not None:
                w.close()
                self._worker = None
                _blame(self._last, f"after it finished, the worker process {died.how} before the next layer started")
                return self.run_layer(index, options, retry=False)
            stack = w.crash_stack()
            check, where = check_of(stack), user_frame(stack)
            if w.exit_event:
                check = check or w.exit_event.get("check")
            w.close()
            self._worker = None
            msg = f"the worker process {died.how}"
            if where and "os._exit" not in died.how:
                msg += f" at {where}"
            report = self._crash_report(info, state, msg, run_options, check)
        if not self.show_output:
            tail, lines = _tail(out)
            if report.status == "fail" and tail:
                report.output, report.output_lines = tail, lines + state["dropped"]
        if self.progress:
            self.progress(info.label, report.examples, state["planned"], state["failing"], time.monotonic() - t0, True)
        self._last = report
        return report

    _last: LayerReport | None = None  # the layer run before, to blame for a worker it broke

    def _killed_message(self, over_budget) -> str:
        if over_budget:
            return (
                f"the layer used its whole budget of {self.limits.budget:g} s and did not stop: "
                f"the worker was killed (limit hit: --budget {self.limits.budget:g})"
            )
        return (
            f"one example took longer than {self.limits.timeout:g} s and did not stop when interrupted "
            f"(a bare `except:` around a loop?): the worker was killed (limit hit: --timeout {self.limits.timeout:g})"
        )

    def _crash_report(
        self, info: LayerInfo, state: dict, how: str, options: dict, check: str | None = None
    ) -> LayerReport:
        report = LayerReport(info.name, cls=info.cls if info.cls != info.name else None)
        where = ""
        if state["n"]:
            where = f" during example {state['n']}" + (f" of {state['planned']}" if state.get("planned") else "")
        if check:
            where += f", in check {check}"
        report.add([Finding("crash", "fail", how + where)], None)
        report.examples = state["n"]
        report.example, report.shrunk = state["example"], False
        report.seed = state["seed"]
        report.replay = _replay(info, state["seed"], options)
        return report

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        shutil.rmtree(self._tmp, ignore_errors=True)


def _replay(info: LayerInfo, seed: int | None, options: dict) -> str:
    """The command that replays a layer the worker died in."""
    parts = [options.get("replay_command") or "gradcheck run", "--layers", shlex.quote(info.layers_arg)]
    if options.get("profile"):
        parts += ["--profile", options["profile"]]
    if options.get("seed") is not None or (seed is not None and options.get("profile") != "ci"):
        parts += ["--seed", str(options.get("seed") if options.get("seed") is not None else seed)]
    if options.get("max_examples"):
        parts += ["--max-examples", str(options["max_examples"])]
    return " ".join(parts)


def _tail(path: Path, n: int = OUTPUT_LINES) -> tuple[str, int]:
    """The last `n` lines of a file and how many lines it has in all."""
    try:
        size = path.stat().st_size
    except OSError:
        return "", 0
    if not size:
        return "", 0
    lines = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
        f.seek(max(0, size - 64 * 1024))
        tail = f.read().decode("utf-8", errors="replace")
    if not tail.endswith("\n"):
        lines += 1
    return "\n".join(tail.splitlines()[-n:]), lines
