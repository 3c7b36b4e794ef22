"""gradcheck vs torch.autograd.gradcheck(fast_mode=True), per example, same process.

torch is not a dependency of this project: run this with a throwaway venv that
has it (the CPU wheel; plain `pip install torch` pulls a multi-GB CUDA build):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0
    /tmp/torchvenv/bin/pip install -e .
    /tmp/torchvenv/bin/python benchmarks/bench_torch.py [--examples 10] [--ptb-examples 3] [--only SUBSTR]

One command prints the whole markdown table of `benchmarks/README.md`. Same
functions, sizes and values on both sides, torch pinned to one thread
(torch.set_num_threads(1); its default threads inflate its times on a loaded
2-core machine), and NumPy's BLAS pinned to one thread as well (OPENBLAS_NUM_THREADS
etc. default to 1; set them to compare otherwise). Rows:

- TimeRNN (Wx, Wh, b, xs, h0 -> hs), float64, at (N, T, D, H) = (2, 3, 4, 5),
  (8, 16, 32, 32), (20, 35, 100, 100), and an H sweep at N=4, T=10, D=16,
  H = 16 .. 256;
- masked softmax cross-entropy (xs -> mean loss over counted labels), float64, small;
- SimpleRnnlm at the book's PTB size (V=10000, D=H=100, N=20, T=35), float32 (the
  book's model) and float64 (embed_W, Wx, Wh, b, affine_W, affine_b -> loss).

Columns, each the median ms per example over --examples examples, warm: each
column runs once on an example before its timed run on it (so JAX's compiles
are not in the times), and building the example is not timed; the three run in
turn on each example, so that the machine's load weighs on them alike:

- all checks: `engine.check_example`, every check of gradcheck;
- gradient checks only: setup (build, forward, backward, JAX reference),
  forward vs spec, backward vs JAX, finite differences per tensor, verdict: the
  work torch's gradcheck does, but every tensor checked separately;
- torch fast_mode: `torch.autograd.gradcheck(fn, inputs, fast_mode=True)`, one
  random projection per input. Its defaults (eps=1e-6, atol=1e-5, rtol=1e-3) are
  for float64; in float32 it runs with eps = eps32^(1/3) and atol = rtol = 1e-2,
  with which the correct model passes. (A failing fast-mode check makes torch
  rebuild the full Jacobian for its message: at PTB size, 16 GB and many minutes.)
- all / fast and gradient / fast: ratios of the medians;
- layer's own runs: the part of "all checks" spent inside the checked layer's
  methods (rnnref's NumPy forward, backward, set_state, reset_state, constructor:
  `timed_layer`), and layer / fast its ratio to torch: where it is near or above
  1.0, the layer runs the checks need cost about what torch's whole fast mode
  does, whatever gradcheck's own work costs.

Every check must pass on both sides, else the script stops.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# NumPy's BLAS gets one thread too, unless the environment says otherwise: at
# H >= 128 a second OpenBLAS thread on a loaded 2-core machine made the NumPy side
# 3x slower (gradient checks at H=256: 87 ms with 2 threads, 28 ms with 1).
# Must be set before NumPy is imported.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
for _var in BLAS_THREAD_VARS:
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    torch = None

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, median_ms  # noqa: E402

PTB = {"N": 20, "T": 35, "D": 100, "H": 100, "V": 10000}
H_SWEEP = (16, 32, 64, 128, 256)


def torch_time_rnn(Wx, Wh, b, xs, h0):
    h, hs = h0, []
    for t in range(xs.shape[1]):
        h = torch.tanh(h @ Wh + xs[:, t] @ Wx + b)
        hs.append(h)
    return torch.stack(hs, dim=1)


def torch_softmax_ce_of(ts):
    """Mean cross-entropy over the positions whose label is not -1 (ignored)."""
    counted = ts != -1
    safe = torch.where(counted, ts, torch.zeros_like(ts))

    def f(logits):
        picked = torch.log_softmax(logits, dim=-1).gather(-1, safe[..., None])[..., 0]
        return -(picked * counted).sum() / counted.sum().clamp(min=1)

    return f


def torch_rnnlm_of(xs, ts):
    """SimpleRnnlm: embedding -> tanh RNN from zeros -> affine -> masked mean CE."""
    ce = torch_softmax_ce_of(ts)

    def f(embed_W, Wx, Wh, b, affine_W, affine_b):
        h0 = torch.zeros(xs.shape[0], Wh.shape[0], dtype=Wh.dtype)
        return ce(torch_time_rnn(Wx, Wh, b, embed_W[xs], h0) @ affine_W + affine_b)

    return f


@dataclass
class Case:
    label: str
    spec: str
    factory: Callable
    cell: Callable | None
    dims: dict[str, int]
    dtype: type
    examples: int


def cases(args) -> list[Case]:
    import rnnref

    def rnn(label, N, T, D, H):
        return Case(label, "TimeRNN", rnnref.TimeRNN, rnnref.RNN, dict(N=N, T=T, D=D, H=H), np.float64, args.examples)

    out = [
        rnn("TimeRNN 2,3,4,5", 2, 3, 4, 5),
        rnn("TimeRNN 8,16,32,32", 8, 16, 32, 32),
        rnn("TimeRNN 20,35,100,100", 20, 35, 100, 100),
        *(rnn(f"TimeRNN H={H} (N=4,T=10,D=16)", 4, 10, 16, H) for H in H_SWEEP),
        Case(
            "softmax cross-entropy 2,3,V=6",
            "TimeSoftmaxWithLoss",
            rnnref.TimeSoftmaxWithLoss,
            None,
            dict(N=2, T=3, V=6),
            np.float64,
            args.examples,
        ),
    ]
    for dtype in (np.float32, np.float64):
        out.append(
            Case(
                f"SimpleRnnlm PTB {np.dtype(dtype).name}",
                "SimpleRnnlm",
                functools.partial(rnnref.SimpleRnnlm, dtype=dtype),
                None,
                dict(PTB),
                dtype,
                args.ptb_examples,
            )
        )
    return [c for c in out if args.only is None or args.only.lower() in c.label.lower()]


def measure(case: Case, oracle) -> dict[str, object]:
    from gradcheck import checks, engine
    from gradcheck.examples import make_example
    from gradcheck.specs import SPECS

    spec = SPECS[case.spec]
    clock = [0.0]  # seconds spent inside the layer's own methods
    layer_times: list[float] = []  # per call of all_checks: its time inside the layer
    factory = timed_layer(case.factory, clock)
    cell = timed_layer(case.cell, clock) if case.cell is not None else None

    def example(i):
        return make_example(spec, case.dims, i % 2**16, case.dtype)

    def all_checks(ex):
        clock[0] = 0.0
        found = engine.check_example(spec, factory, ex, oracle=oracle, cell_factory=cell)
        layer_times.append(clock[0])
        assert all(f.status != "fail" for f in found), [f.message for f in found if f.status == "fail"]

    def gradient_only(ex):
        ctx = checks.setup(spec, factory, ex, oracle)
        found = []
        for check in engine.GRADIENT_CHECKS:
            found += check(ctx)
        found += checks.verdict(ctx, found)
        assert all(f.status != "fail" for f in found), [f.message for f in found if f.status == "fail"]

    def torch_fast(ex):
        v = {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in ex.values.items()}
        if case.spec == "TimeRNN":
            fn, names = torch_time_rnn, ("Wx", "Wh", "b", "xs", "h0")
        elif case.spec == "TimeSoftmaxWithLoss":
            fn, names = torch_softmax_ce_of(v["ts"]), ("xs",)
        else:
            fn, names = torch_rnnlm_of(v["xs"], v["ts"]), ("embed_W", "Wx", "Wh", "b", "affine_W", "affine_b")
        ins = [v[k].to(getattr(torch, np.dtype(case.dtype).name)).requires_grad_(True) for k in names]
        tol = {}
        if case.dtype == np.float32:
            tol = dict(eps=float(np.finfo(np.float32).eps) ** (1 / 3), atol=1e-2, rtol=1e-2)
        torch.manual_seed(ex.seed)  # fast mode's random projections
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "not a double precision" input, in float32
            assert torch.autograd.gradcheck(fn, ins, fast_mode=True, **tol)

    times = interleaved({"all": all_checks, "grad": gradient_only, "fast": torch_fast}, example, case.examples)
    times["layer"] = median_ms(layer_times[1::2])  # each example's second (timed) run of all checks
    return times


def timed_layer(factory: Callable, clock: list[float]) -> Callable:
    """`factory` (a layer class, or a functools.partial of one) with its methods
    timed: each call of __init__, forward, backward, set_state or reset_state adds
    its time to clock[0]. The "layer's own runs" column: what the checks spend
    running the checked layer itself (rnnref's NumPy), as opposed to gradcheck's
    work around it (the oracle, comparisons, bookkeeping)."""
    if isinstance(factory, functools.partial):
        return functools.partial(timed_layer(factory.func, clock), *factory.args, **factory.keywords)

    def timed(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                clock[0] += time.perf_counter() - start

        return call

    methods = ("__init__", "forward", "backward", "set_state", "reset_state")
    assert isinstance(factory, type), factory
    return type(factory.__name__, (factory,), {m: timed(getattr(factory, m)) for m in methods if hasattr(factory, m)})


def interleaved(fns: dict[str, Callable[[object], object]], example: Callable[[int], object], n: int) -> dict[str, float]:
    """Median ms of each fn(ex) over the examples ex = example(i), i in range(n),
    warm: each fn runs once on an example before the timed run on it, so that
    JAX's compiles (a stateful chunk's length can be new at any example) are not
    in the times. Building the example is not timed either. The three run in turn
    on each example, so a shared machine's load changes all of them alike instead
    of one column at a time. One example is held at a time (PTB's are large)."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(n):
        ex = example(i)
        for fn in fns.values():
            fn(ex)
        for k, fn in fns.items():
            t = time.perf_counter()
            fn(ex)
            samples[k].append(time.perf_counter() - t)
    return {k: median_ms(v) for k, v in samples.items()}


def ms(x: float) -> str:
    return f"{x:.1f} ms" if x < 1000 else f"{x / 1000:.2f} s"


def slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = np.log(xs), np.log(ys)
    return float(np.polyfit(lx, ly, 1)[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=10, help="timed examples per cell (TimeRNN, softmax)")
    p.add_argument("--ptb-examples", type=int, default=3, help="timed examples per cell at PTB size")
    p.add_argument("--only", default=None, metavar="SUBSTR", help="only the rows whose label contains SUBSTR")
    args = p.parse_args()
    if torch is None:
        print(
            "bench_torch: SKIPPED - torch is not importable in this interpreter "
            f"({sys.executable}); see the docstring for a throwaway venv that has it."
        )
        return
    torch.set_num_threads(1)
    # A failing check at PTB size would make torch build the full Jacobian (16 GB):
    # fail with MemoryError instead of starving a shared machine.
    resource.setrlimit(resource.RLIMIT_AS, (12 * 2**30, resource.RLIM_INFINITY))
    from gradcheck.oracle import Oracle

    oracle = Oracle()
    print(
        f"bench_torch: {machine_line()}; torch {torch.__version__}, "
        f"torch.get_num_threads() = {torch.get_num_threads()}; numpy {np.__version__}, "
        + ", ".join(f"{v}={os.environ[v]}" for v in BLAS_THREAD_VARS)
        + "\n"
    )
    print(
        "| function, size | dtype | all checks | gradient checks only | torch fast_mode | all / fast | gradient / fast "
        "| layer's own runs (in all checks) | layer / fast |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    sweep: dict[int, dict] = {}
    for case in cases(args):
        t = measure(case, oracle)
        if "H=" in case.label:
            sweep[case.dims["H"]] = t
        print(
            f"| {case.label} | {np.dtype(case.dtype).name} | {ms(t['all'])} | {ms(t['grad'])} | {ms(t['fast'])} "
            f"| {t['all'] / t['fast']:.2f}x | {t['grad'] / t['fast']:.2f}x | {ms(t['layer'])} | {t['layer'] / t['fast']:.2f}x |",
            flush=True,
        )
    if len(sweep) >= 2:
        Hs = sorted(sweep)
        parts = [
            f"{col} {slope(Hs, [sweep[H][key] for H in Hs]):.2f}"
            for col, key in (("all checks", "all"), ("gradient checks", "grad"), ("torch fast", "fast"))
        ]
        print(f"\nH sweep, log-log slope of time vs H ({Hs[0]}..{Hs[-1]}): " + ", ".join(parts))
    print(
        f"\n(medians of {args.examples} examples, {args.ptb_examples} at PTB size, each timed warm; "
        f"machine at the end: {machine_line()})"
    )


if __name__ == "__main__":
    main()
