"""check_layer on a model at the book's PTB size: V=10000, D=H=100, N=20, T=35.

    .venv/bin/python benchmarks/bench_ptb.py                      # SimpleRnnlm (ch05)
    .venv/bin/python benchmarks/bench_ptb.py --model Rnnlm        # ch06, the same sizes
    .venv/bin/python benchmarks/bench_ptb.py --model BetterRnnlm  # ch06, D=H=650 as the book's

The checks build models small (examples of a few units); this is the check at the
size the book trains at, kept available for the models of every chapter.

Three checks of one model, one process, one oracle: float64 model
(functools.partial(rnnref.SimpleRnnlm, dtype=np.float64)) cold (JAX compiles
included), float64 again (warm, another seed), then the book's float32 model.
For each: wall time of check_layer, status, and the seconds of every check (and
of setup: building the model, its first forward/backward and the JAX reference),
with the real XLA compiles inside it. The design's target: seconds, not minutes.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import XlaCompiles, machine_line, table  # noqa: E402

import rnnref  # noqa: E402
from gradcheck import checks, engine  # noqa: E402
from gradcheck.engine import check_layer  # noqa: E402
from gradcheck.oracle import Oracle  # noqa: E402

PTB = {"N": 20, "T": 35, "D": 100, "H": 100, "V": 10000}


class CheckTimer:
    """Wraps the engine's checks (and setup) to add up seconds per check."""

    def __init__(self, xla: XlaCompiles) -> None:
        self.xla = xla
        self.seconds: dict[str, float] = {}
        self.compiles: dict[str, int] = {}
        engine.GRADIENT_CHECKS = tuple(map(self._wrap, engine.GRADIENT_CHECKS))
        engine.OTHER_CHECKS = tuple(map(self._wrap, engine.OTHER_CHECKS))
        checks.setup = self._wrap(checks.setup, "setup")

    def _wrap(self, fn, name: str | None = None):
        label = name or fn.__name__.removeprefix("check_").replace("_", "-")

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            t = time.perf_counter()
            c: dict[str, float] = {}
            try:
                with self.xla.measure() as c:
                    return fn(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t
                self.compiles[label] = self.compiles.get(label, 0) + int(c.get("count", 0))

        return timed

    def take(self) -> tuple[dict[str, float], dict[str, int]]:
        out = self.seconds, self.compiles
        self.seconds, self.compiles = {}, {}
        return out


# The book's sizes per model: BetterRnnlm ties its weights, so D = H (650).
SIZES = {"SimpleRnnlm": PTB, "Rnnlm": PTB, "BetterRnnlm": {"N": 20, "T": 35, "H": 650, "V": 10000}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(SIZES), default="SimpleRnnlm")
    args = parser.parse_args()
    model, dims = getattr(rnnref, args.model), SIZES[args.model]
    xla = XlaCompiles()
    timer = CheckTimer(xla)
    oracle = Oracle()
    print(f"# bench_ptb {args.model}  ({machine_line()})\n\ndims {dims}\n")
    runs = [
        ("float64 model, cold", functools.partial(model, dtype=np.float64), 0),
        ("float64 model, warm", functools.partial(model, dtype=np.float64), 1),
        ("float32 model (book default), warm", model, 2),
    ]
    summary, per_check = [], {}
    for label, factory, seed in runs:
        t = time.perf_counter()
        with xla.measure() as c:
            report = check_layer(factory, args.model, dims=dims, seed=seed, oracle=oracle)
        wall = time.perf_counter() - t
        layer = report.layers[0]
        seconds, compiles = timer.take()
        per_check[label] = (seconds, compiles)
        bad = [f"{f.check}: {f.message[:80]}" for f in layer.failures + layer.warnings]
        summary.append(
            [label, f"{wall:.1f}", layer.status, int(c["count"]), f"{c['seconds']:.1f}", "; ".join(bad)[:100]]
        )
    print(table(summary, ["run", "wall s", "status", "XLA compiles", "XLA s", "failures / warnings"]))
    names = list(next(iter(per_check.values()))[0])
    rows = []
    for name in names:
        row = [name]
        for label in per_check:
            s, n = per_check[label][0].get(name, 0.0), per_check[label][1].get(name, 0)
            row.append(f"{s:.2f}" + (f" ({n} compiles)" if n else ""))
        rows.append(row)
    print("\nseconds per check (setup = build, first forward/backward, JAX reference)\n")
    print(table(rows, ["check", *per_check]))
    print(f"\n(machine at the end: {machine_line()})")


if __name__ == "__main__":
    main()
