"""gradcheck vs torch.autograd.gradcheck(fast_mode=True), per example, same process.

torch is not a dependency of this project: run this with a throwaway venv that
has it, e.g.

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchvenv/bin/pip install -e /work/main
    /tmp/torchvenv/bin/python benchmarks/bench_torch.py [--examples 30]

Same functions, sizes (N=2, T=3, D=4, H=5, V=6) and float64 values on both sides:
a TimeRNN-like tanh RNN (Wx, Wh, b, xs, h0 -> hs) and a masked softmax
cross-entropy (xs -> mean loss, labels with ignored positions). For each example:

- gradcheck `check_example`: every check (forward and vjp vs JAX, finite
  differences per tensor, three-way verdict, protocol, time structure, masks);
- gradcheck gradient checks only (forward, JAX vjp, finite differences, verdict);
- torch gradcheck fast_mode=True (one random projection for the whole Jacobian
  per input) and fast_mode=False (the full Jacobian, column by column).

Medians over --examples examples after a warm-up; ratio = gradcheck / torch fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

try:
    import torch
except ImportError:
    torch = None

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMALL_DIMS, machine_line, median_ms, table, time_calls  # noqa: E402


def torch_time_rnn(Wx, Wh, b, xs, h0):
    h, hs = h0, []
    for t in range(xs.shape[1]):
        h = torch.tanh(h @ Wh + xs[:, t] @ Wx + b)
        hs.append(h)
    return torch.stack(hs, dim=1)


def torch_softmax_ce(ts):
    counted = ts != -1
    safe = torch.where(counted, ts, torch.zeros_like(ts))

    def f(xs):
        picked = torch.log_softmax(xs, dim=-1).gather(-1, safe[..., None])[..., 0]
        return -(picked * counted).sum() / counted.sum().clamp(min=1)

    return f


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=30)
    args = p.parse_args()
    if torch is None:
        print(
            "bench_torch: SKIPPED - torch is not importable in this interpreter "
            f"({sys.executable}); see the docstring for a throwaway venv that has it."
        )
        return

    import rnnref
    from gradcheck import checks, engine
    from gradcheck.examples import make_example
    from gradcheck.oracle import Oracle
    from gradcheck.specs import SPECS

    oracle = Oracle()
    print(f"# bench_torch  ({machine_line()}; torch {torch.__version__}, {torch.get_num_threads()} threads)")
    print(f"\nfloat64, dims {SMALL_DIMS}, median over {args.examples} examples after a warm-up (ms per example)\n")

    cases = {
        "TimeRNN": (rnnref.TimeRNN, rnnref.RNN),
        "TimeSoftmaxWithLoss": (rnnref.TimeSoftmaxWithLoss, None),
    }
    rows = []
    for name, (factory, cell) in cases.items():
        spec = SPECS[name]
        dims = {k: v for k, v in SMALL_DIMS.items() if k in spec.letters}
        examples: dict[int, object] = {}

        def ex_of(i, spec=spec, dims=dims, examples=examples):
            if i not in examples:
                examples[i] = make_example(spec, dims, i % 2**16, np.float64)
            return examples[i]

        def full(i, spec=spec, factory=factory, cell=cell):
            found = engine.check_example(spec, factory, ex_of(i), oracle=oracle, cell_factory=cell)
            assert all(f.status != "fail" for f in found), [f.message for f in found if f.status == "fail"]

        def gradient_only(i, spec=spec, factory=factory):
            ctx = checks.setup(spec, factory, ex_of(i), oracle)
            found = []
            for check in engine.GRADIENT_CHECKS:
                found += check(ctx)
            found += checks.verdict(ctx, found)
            assert all(f.status != "fail" for f in found)

        def torch_inputs(i, name=name):
            ex = ex_of(i)
            if name == "TimeRNN":
                ins = [torch.tensor(ex.values[k], requires_grad=True) for k in ("Wx", "Wh", "b", "xs", "h0")]
                return torch_time_rnn, ins
            ts = torch.tensor(ex.values["ts"])
            return torch_softmax_ce(ts), [torch.tensor(ex.values["xs"], requires_grad=True)]

        def torch_fast(i):
            fn, ins = torch_inputs(i)
            assert torch.autograd.gradcheck(fn, ins, fast_mode=True)

        def torch_slow(i):
            fn, ins = torch_inputs(i)
            assert torch.autograd.gradcheck(fn, ins, fast_mode=False)

        t = {
            label: median_ms(time_calls(fn, args.examples, warmup=2))
            for label, fn in (
                ("full", full),
                ("grad", gradient_only),
                ("fast", torch_fast),
                ("slow", torch_slow),
            )
        }
        rows.append(
            [
                name,
                f"{t['full']:.2f}",
                f"{t['grad']:.2f}",
                f"{t['fast']:.2f}",
                f"{t['slow']:.2f}",
                f"{t['full'] / t['fast']:.1f}x",
                f"{t['grad'] / t['fast']:.1f}x",
            ]
        )
    print(
        table(
            rows,
            [
                "function",
                "gradcheck all checks",
                "gradcheck gradient checks",
                "torch fast_mode",
                "torch full",
                "all / fast",
                "gradient / fast",
            ],
        )
    )
    print(f"\n(machine at the end: {machine_line()})")


if __name__ == "__main__":
    main()
