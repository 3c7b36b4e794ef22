"""How far below its tolerances a correct layer stays: the worst error/tolerance
ratio of every check, per layer and dtype, over N Hypothesis examples of rnnref.

Usage: python benchmarks/calibrate_tolerances.py [N]   (default 200 per layer)

A ratio of 1 would be a false alarm; docs/design-notes.md quotes these numbers
as the margin behind the tolerances in gradcheck/compare.py.
"""

from __future__ import annotations

import collections
import sys
import time

import numpy as np
from hypothesis import Phase, given, settings

from gradcheck import strategies
from gradcheck.engine import check_example
from gradcheck.oracle import Oracle
from gradcheck.runner import Target, reference_targets
from gradcheck.specs import SPECS


def calibrate(target: Target, n: int, oracle: Oracle, worst: dict, alarms: list) -> None:
    spec = SPECS[target.name]
    bucket = {k: hi for k, (lo, hi) in strategies.bounds_for().items()}

    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate], derandomize=True)
    @given(strategies.examples(spec))
    def one(ex):
        # The model writes values into its own float64 arrays whatever the example's dtype.
        dtype = "float64" if spec.kind == "model" else np.dtype(ex.dtype).name
        for f in check_example(spec, target.factory, ex, oracle=oracle, cell_factory=target.cell, bucket=bucket):
            if f.ratio is not None and np.isfinite(f.ratio):
                key = (target.name, f.check, dtype)
                worst[key] = max(worst[key], f.ratio)
            if f.status in ("warn", "fail"):
                alarms.append((target.name, f.check, f.message))

    one()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    oracle, worst, alarms = Oracle(), collections.defaultdict(float), []
    started = time.perf_counter()
    for target in reference_targets():
        calibrate(target, n, oracle, worst, alarms)
    print(f"{'layer':<20} {'check':<14} {'dtype':<8} worst error/tolerance")
    for (layer, check, dtype), ratio in sorted(worst.items()):
        print(f"{layer:<20} {check:<14} {dtype:<8} {ratio:.3g}")
    print(f"alarms on the reference: {len(alarms)} {alarms[:3]}")
    print(f"{n} examples per layer, {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
