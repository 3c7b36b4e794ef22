"""Per-layer cost of gradcheck on rnnref.

    /work/venv/bin/python benchmarks/bench_check.py [--examples 30]

1. warm cost of one `check_example` (every check on one example) at small dims
   N=2, T=3, D=4, H=5, V=6 in float64: median over --examples examples (seeds
   0..n-1, one shape so one compile), after a warm-up example;
2. the ci-profile Hypothesis run of each layer alone: examples per second, first
   run in this process (cold: compiles included) and second run (warm, same oracle);
3. JAX compiles of the whole ci run, cold vs warm: `Oracle.compiles` (distinct
   spec x padded shape), the report's meta "jax_compiles", and real XLA backend
   compiles counted by jax.monitoring.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMALL_DIMS, XlaCompiles, machine_line, median_ms, table, time_calls  # noqa: E402

from gradcheck.engine import check_example  # noqa: E402
from gradcheck.examples import make_example  # noqa: E402
from gradcheck.oracle import Oracle  # noqa: E402
from gradcheck.runner import RunOptions, reference_targets, run  # noqa: E402
from gradcheck.specs import SPECS  # noqa: E402


def per_example(n: int) -> list[list[object]]:
    oracle = Oracle()
    rows = []
    for t in reference_targets():
        spec = SPECS[t.name]
        dims = {k: v for k, v in SMALL_DIMS.items() if k in spec.letters}

        def one(seed: int, spec=spec, t=t, dims=dims) -> None:
            ex = make_example(spec, dims, seed % 2**16, np.float64)
            bad = [
                f for f in check_example(spec, t.factory, ex, oracle=oracle, cell_factory=t.cell) if f.status == "fail"
            ]
            assert not bad, f"{t.name}: {bad[0].message}"

        samples = time_calls(one, n, warmup=2)
        rows.append([t.name, f"{median_ms(samples):.1f}", f"{1e3 * min(samples):.1f}", f"{1e3 * max(samples):.1f}"])
    return rows


def ci_runs(xla: XlaCompiles) -> tuple[list[list[object]], list[list[object]]]:
    oracle = Oracle()
    per_layer: dict[str, list[object]] = {}
    totals = []
    for label in ("cold (1st run)", "warm (2nd run)"):
        before = oracle.compiles
        t_all = time.perf_counter()
        meta_compiles = None
        with xla.measure() as real:
            for t in reference_targets():
                t0 = time.perf_counter()
                report = run([t], RunOptions(profile="ci"), oracle=oracle)
                secs = time.perf_counter() - t0
                layer = report.layers[0]
                assert layer.status != "fail", report.render()
                per_layer.setdefault(t.name, [t.name, layer.examples]).append(f"{layer.examples / secs:.0f}")
                meta_compiles = report.meta["jax_compiles"]
        totals.append(
            [
                label,
                f"{time.perf_counter() - t_all:.1f}",
                oracle.compiles - before,
                meta_compiles,
                real["count"],
                f"{real['seconds']:.1f}",
            ]
        )
    return list(per_layer.values()), totals


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=30, help="examples per layer for the per-example median")
    args = p.parse_args()
    xla = XlaCompiles()
    print(f"# bench_check  ({machine_line()})")
    print(f"\n## warm check_example, float64, dims {SMALL_DIMS}, {args.examples} examples per layer (ms)\n")
    print(table(per_example(args.examples), ["layer", "median", "min", "max"]))
    layers, totals = ci_runs(xla)
    print("\n## ci profile, each layer run alone: examples per second\n")
    print(table(layers, ["layer", "examples", "ex/s cold", "ex/s warm"]))
    print("\n## ci profile, all layers, one Oracle: compiles cold vs warm\n")
    print(
        table(
            totals,
            ["run", "seconds", "Oracle.compiles (this run)", "meta jax_compiles (cumulative)", "XLA compiles", "XLA s"],
        )
    )
    print(f"\n(machine at the end: {machine_line()})")


if __name__ == "__main__":
    main()
