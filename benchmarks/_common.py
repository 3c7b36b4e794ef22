"""Helpers shared by the benchmark scripts (not a benchmark itself)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager

SMALL_DIMS = {"N": 2, "T": 3, "D": 4, "H": 5, "V": 6}


def machine_line() -> str:
    """CPU count and load: the machine may be shared, so say how busy it was."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def median_ms(samples: list[float]) -> float:
    return 1e3 * statistics.median(samples)


def time_calls(fn: Callable[[int], object], n: int, warmup: int = 1) -> list[float]:
    """Wall seconds of fn(i) for i in range(n), after `warmup` untimed calls."""
    for i in range(warmup):
        fn(-1 - i)
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


class XlaCompiles:
    """Counts real XLA backend compiles (and their seconds) through jax.monitoring,
    next to `Oracle.compiles`, which counts distinct (spec, padded shape) keys."""

    EVENT = "/jax/core/compile/backend_compile_duration"

    def __init__(self) -> None:
        import jax.monitoring

        self.count, self.seconds = 0, 0.0
        jax.monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, event: str, duration: float, **kw) -> None:
        if event == self.EVENT:
            self.count += 1
            self.seconds += duration

    @contextmanager
    def measure(self):
        """Yields a dict filled on exit with the compiles and compile seconds inside."""
        c0, s0 = self.count, self.seconds
        box: dict[str, float] = {}
        try:
            yield box
        finally:
            box["count"], box["seconds"] = self.count - c0, self.seconds - s0


def table(rows: list[list[object]], header: list[str]) -> str:
    cells = [[str(c) for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
