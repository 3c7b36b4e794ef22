"""Where the time of `check_example` goes, per check: the checked layer's own
methods, the oracle (JAX), `compare`, and the rest (gradcheck's bookkeeping).

    .venv/bin/python benchmarks/bench_split.py [--layer TimeRNN] [--examples 20] [N,T,D,H ...]

Default sizes: the TimeRNN rows of bench_torch.py (2,3,4,5; 8,16,32,32;
20,35,100,100; N=4, T=10, D=16 at H=16, 64, 256), float64. Each example is run
once untimed (JAX's compiles) and then timed, like bench_torch.py's columns;
milliseconds per example, means over the examples. A layer's time is what its
forward, backward, set_state, reset_state and constructor take (the cell's too,
for the T=1 check); a check's oracle and compare time is counted once even when
one calls the other. NumPy's BLAS is pinned to one thread unless the
environment says otherwise, as in bench_torch.py.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, table  # noqa: E402

import rnnref  # noqa: E402
from gradcheck import checks, engine, protocol, timing  # noqa: E402
from gradcheck import compare as compare_module  # noqa: E402
from gradcheck.examples import make_example  # noqa: E402
from gradcheck.oracle import Oracle  # noqa: E402
from gradcheck.specs import SPECS  # noqa: E402

DEFAULT_SIZES = ("2,3,4,5", "8,16,32,32", "20,35,100,100", "4,10,16,16", "4,10,16,64", "4,10,16,256")
PARTS = ("layer", "oracle", "compare")
ORACLE_CALLS = ("__call__", "forward", "final")


class Clock:
    """Seconds per part; a call inside another timed call is not counted twice."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = dict.fromkeys(PARTS, 0.0)
        self._depth = 0

    def timed(self, fn, part: str):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[part] += time.perf_counter() - start
                self._depth -= 1

        return call

    def timed_class(self, cls: type) -> type:
        methods = ("__init__", "forward", "backward", "set_state", "reset_state")
        return type(cls.__name__, (cls,), {m: self.timed(getattr(cls, m), "layer") for m in methods if hasattr(cls, m)})


def split(layer: str, dims: dict[str, int], n: int) -> list[list[object]]:
    spec = SPECS[layer]
    clock = Clock()
    factory = clock.timed_class(getattr(rnnref, layer))
    cell = clock.timed_class(getattr(rnnref, spec.cell)) if spec.cell else None
    # (a subclass: `oracle(...)` looks __call__ up on the type, not the instance)
    timed_oracle = type("Oracle", (Oracle,), {m: clock.timed(getattr(Oracle, m), "oracle") for m in ORACLE_CALLS})
    oracle = timed_oracle()
    timed_compare = clock.timed(compare_module.compare, "compare")
    per: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(1 + len(PARTS)))
    timing_on = [False]

    def measured(fn, name):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            before = dict(clock.spent)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if timing_on[0]:
                    per[name] += [time.perf_counter() - start, *(clock.spent[p] - before[p] for p in PARTS)]

        return call

    guard, setup = engine._guard, checks.setup
    saved = {mod: mod.compare for mod in (checks, protocol, timing)}
    try:
        for mod in saved:
            mod.compare = timed_compare
        engine._guard = lambda check, ctx: measured(guard, check.__name__.removeprefix("check_"))(check, ctx)
        checks.setup = measured(setup, "setup (primary run, oracle vjp)")
        for seed in range(n):
            ex = make_example(spec, dims, seed, np.float64)
            for timed_run in (False, True):
                timing_on[0] = timed_run
                found = engine.check_example(spec, factory, ex, oracle=oracle, cell_factory=cell)
                assert not [f for f in found if f.status == "fail"], [f.message for f in found if f.status == "fail"]
    finally:
        engine._guard, checks.setup = guard, setup
        for mod, fn in saved.items():
            mod.compare = fn
    rows = []
    total = np.zeros(1 + len(PARTS))
    for name, v in per.items():
        v = v / n * 1e3
        total += v
        if v[0] >= 0.05:
            rows.append([name, *(f"{x:.2f}" for x in v), f"{v[0] - v[1:].sum():.2f}"])
    rows.append(["all checks", *(f"{x:.2f}" for x in total), f"{total[0] - total[1:].sum():.2f}"])
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layer", default="TimeRNN", help="a recurrent layer of rnnref (default TimeRNN)")
    p.add_argument("--examples", type=int, default=20)
    p.add_argument("sizes", nargs="*", default=DEFAULT_SIZES, metavar="N,T,D,H")
    args = p.parse_args()
    print(f"# bench_split  ({machine_line()})")
    for size in args.sizes:
        dims = dict(zip("NTDH", map(int, size.split(",")), strict=True))
        print(f"\n## {args.layer} {size}, float64: ms per example, mean of {args.examples} (warm)\n")
        print(table(split(args.layer, dims, args.examples), ["check", "total", *PARTS, "rest"]))
    print(f"\n(machine at the end: {machine_line()})")


if __name__ == "__main__":
    main()
