"""The worker: the only process that imports the user's module and runs its code.

Started by gradcheck/supervisor.py as `python -P -m gradcheck.worker FD CONFIG`.
It reads requests, one JSON object a line, on stdin, and writes events, one JSON
object a line, to the pipe FD (its own stdout and stderr belong to the layer's
code: each layer's are redirected, at the file-descriptor level, to a file the
supervisor names). See docs/design-notes.md, "Supervisor and worker".

requests:  {"op": "load", "target": str | null, "paths": [...], "layers": [...] | null, "output": path}
           {"op": "layer", "index": i, "options": {...}, "output": path}
events:    {"event": "ready"}
           {"event": "loaded", "layers": [{"name", "cls", "label", "layers_arg"}], "not_checked": [...]}
           {"event": "error", "message": str}                     (a usage or input error: exit 2)
           {"event": "start", "seed": int}                        (a layer's Hypothesis seed)
           {"event": "example", "n", "planned", "failing", "example"}
           {"event": "exit", "code", "where", "check"}            (the layer's code called os._exit)
           {"event": "layer", "report": {...}, "compiles": int}   (LayerReport.to_wire())
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from typing import Any

_real_exit = os._exit


class Channel:
    def __init__(self, fd: int) -> None:
        self._out = os.fdopen(fd, "w", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def send(self, **event: Any) -> None:
        with self._lock:
            self._out.write(json.dumps(event) + "\n")
            self._out.flush()


def _limit_memory(mb: int | None) -> None:
    """Cap the worker's address space (Linux: RLIMIT_AS): a layer that eats memory
    gets a MemoryError (or is killed) instead of taking the machine down."""
    if not mb:
        return
    try:
        import resource

        cap = mb * 2**20
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):  # not on this platform: no cap
        pass


def _watch_parent() -> None:
    """End the worker when the supervisor is gone (killed without a chance to clean up)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                _real_exit(70)

    threading.Thread(target=watch, daemon=True, name="gradcheck-parent-watch").start()


@contextmanager
def _captured(path: str | None):
    """fds 1 and 2 (Python's prints, C-level writes, os.write) appended to `path`."""
    if not path:
        yield
        return
    _flush_all()  # guarded: the layer's module may have replaced sys.stdout with an object without flush
    saved = os.dup(1), os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    finally:
        _flush_all()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


OUTPUT_MAX = 32 * 2**20  # bytes of a layer's captured output kept on disk, at most ...
OUTPUT_KEEP = 2**20  # ... cut down to its last MB when it grows past that


def _keep_output_small(path: str) -> int:
    """Cut the layer's output file (fds 1 and 2) to its tail when it grows too big;
    the number of whole lines dropped (the report still says how many were written)."""
    try:
        if os.fstat(1).st_size <= OUTPUT_MAX:
            return 0
        _flush_all()
        with open(path, "r+b") as f:  # fds 1 and 2 append: they go on at the new end
            data = f.read()
            tail = data[-OUTPUT_KEEP:]
            tail = tail[tail.find(b"\n") + 1 :]
            f.seek(0)
            f.write(tail)
            f.truncate()
        return data[: len(data) - len(tail)].count(b"\n")
    except OSError:
        return 0


def _flush_all() -> None:
    """Python's and C's buffered output, so that it lands in the layer's file."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # the layer closed or replaced them: nothing to flush
        pass
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)  # every C stdio stream (printf / puts in the layer's C code)
    except (OSError, AttributeError):  # no C library to ask (not POSIX)
        pass


def _name_memory_cap(report, mb: int) -> None:
    """A MemoryError under the cap says which limit it hit."""
    note = f" (limit hit: the worker's memory cap of {mb} MB, --memory-limit)"
    for f in report.failures:
        if "MemoryError" in f.message and note not in f.message:
            f.message += note
    for c in report.checks.values():
        if "MemoryError" in c.message and note not in c.message:
            c.message += note


def _example_line(ex) -> str:
    import numpy as np

    dims = ", ".join(f"{k}={v}" for k, v in ex.dims.items())
    return f"{ex.spec} example, seed={ex.seed}, dtype={np.dtype(ex.dtype).name}, {dims}"


def _save_repro(target, report, loaded: dict, directory: str, oracle) -> str:
    """Write the failing layer's reproducer (gradcheck/repro.py); the report's line about it."""
    from pathlib import Path

    from .repro import save, where_of
    from .userspecs import spec_named

    if report.failing is None:
        return "no reproducer: the layer failed before an example could be kept (a hang or a crash of the worker)"
    where = where_of(loaded.get("target"), loaded.get("paths") or [], target.factory)
    cls = target.cls_name or target.name
    try:
        _, line = save(spec_named(target.name), target.factory, cls, report.failing, oracle, where, Path(directory))
    except OSError as exc:
        return f"no reproducer: cannot write to {directory} ({exc.strerror or exc})"
    return line


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    chan = Channel(int(argv[0]))
    config = json.loads(argv[1]) if len(argv) > 1 else {}
    # Line-buffered, so the layer's prints keep their order with its os.write / C output.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    _watch_parent()
    crash_file = open(config["crash_file"], "w") if config.get("crash_file") else None  # noqa: SIM115 - for the process's life
    from hypothesis import configuration

    # Hypothesis keeps a few files (a constants cache): under the user's cache
    # directory, never in the current one.
    configuration.set_hypothesis_home_dir(config.get("hypothesis_home") or None)

    from . import frames
    from .jaxcache import enable_compile_cache
    from .oracle import Oracle
    from .runner import RunOptions, reference_targets, run_layer
    from .targets import TargetError, discover, load_declarations, load_module, parse_layers

    def os_exit(code: int = 0) -> None:  # what the layer's os._exit calls
        stack = traceback.extract_stack()[:-1]
        try:
            _flush_all()
            chan.send(event="exit", code=code, where=frames.user_frame(stack), check=frames.check_of(stack))
        finally:
            _real_exit(code)

    os._exit = os_exit  # type: ignore[assignment]  # (the real one is typed NoReturn)
    _limit_memory(config.get("memory_mb"))
    enable_compile_cache()  # before the first compile; off with GRADCHECK_NO_COMPILE_CACHE / --no-compile-cache
    oracle = Oracle()
    targets: list = []
    loaded: dict = {}  # the load request: which target, which --path dirs (for --save-repro)
    chan.send(event="ready")
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "load":
            loaded = req
            with _captured(req.get("output")):
                try:
                    layers = req.get("layers")
                    if req.get("target") is None:
                        from .targets import check_layer_names

                        check_layer_names(layers)
                        targets, notes = reference_targets(layers), []
                    else:
                        # The target sees the argv `python TARGET` would give it, not ours
                        # (an argparse at import must not read the worker's arguments).
                        sys.argv = [req["target"]]
                        if req.get("spec"):  # --spec FILE: its declarations first
                            load_declarations(req["spec"], req.get("paths") or [])
                        module = load_module(req["target"], req.get("paths") or [])
                        found = discover(module, parse_layers(",".join(layers)) if layers else None)
                        targets, notes = found.targets, found.not_checked
                except TargetError as exc:
                    chan.send(event="error", message=str(exc))
                    continue
            chan.send(
                event="loaded",
                layers=[
                    {"name": t.name, "cls": t.cls_name, "label": t.label, "layers_arg": t.layers_arg} for t in targets
                ],
                not_checked=notes,
            )
        elif req["op"] == "layer":
            opts = req["options"]

            output = req.get("output")

            def on_example(n: int, planned: int, failing: int, ex, output: str | None = output) -> None:
                dropped = _keep_output_small(output) if output else 0
                chan.send(
                    event="example", n=n, planned=planned, failing=failing, example=_example_line(ex), dropped=dropped
                )

            options = RunOptions(
                profile=opts.get("profile"),
                max_examples=opts.get("max_examples"),
                seed=opts.get("seed"),
                strict=opts.get("strict", False),
                timeout=opts.get("timeout"),
                budget=opts.get("budget"),
                replay_command=opts.get("replay_command"),
                bounds=opts.get("bounds") or {},
                contain_exits=True,
                on_example=on_example,
                on_start=lambda seed: chan.send(event="start", seed=seed),
            )
            before = oracle.compiles
            if crash_file is not None:
                # On SIGSEGV / SIGBUS / SIGFPE / SIGABRT, the Python stack: the supervisor reads
                # it to say which check and which line of the layer was running. (Again for each
                # layer: XLA installs its own handlers when it starts.)
                faulthandler.enable(crash_file, all_threads=False)
            with _captured(req.get("output")):
                report = run_layer(targets[req["index"]], options, oracle)
                if opts.get("save_repro") and report.status == "fail":
                    report.repro = _save_repro(targets[req["index"]], report, loaded, opts["save_repro"], oracle)
            if config.get("memory_mb"):
                _name_memory_cap(report, config["memory_mb"])
            chan.send(event="layer", report=report.to_wire(), compiles=oracle.compiles - before)
    _real_exit(0)


if __name__ == "__main__":
    main()
