"""What the supervisor/worker split costs, and how fast a misbehaving layer ends.

    /work/venv/bin/python benchmarks/bench_worker.py [--runs 5]

1. Worker start: from `Session.open()` to the worker's "loaded" answer, loading
   rnnref (a fresh interpreter importing NumPy, JAX, Hypothesis and gradcheck):
   what every `gradcheck run` / `check` pays once more than an in-process run,
   and what a crashed layer costs the next one.
2. The three limit cases of issue 10, each a whole `gradcheck check` command,
   timed alone: a bare-`except` loop (--timeout 2), a forward that raises after
   5 s (--budget 20), a forward that eats memory (--budget 20, --memory-limit
   3000). Each must end within its limit + 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, table  # noqa: E402

CASES = {
    "hang (bare except)": (
        """
        while True:
            try:
                while True:
                    pass
            except:  # noqa: E722
                pass
        """,
        ["--timeout", "2"],
        2,
    ),
    "raises after 5 s": ("time.sleep(5)\nraise ValueError('slow and wrong')", ["--budget", "20"], 20),
    "eats memory": (
        "keep = []\nwhile True:\n    keep.append(np.ones(10**8))",
        ["--budget", "20", "--memory-limit", "3000"],
        20,
    ),
}


def target(body: str) -> str:
    return (
        "import time\nimport numpy as np\nimport rnnref\n\n\nclass TimeAffine(rnnref.TimeAffine):\n"
        "    def forward(self, xs):\n" + textwrap.indent(textwrap.dedent(body).strip(), "        ") + "\n"
    )


def worker_start(runs: int) -> list[float]:
    from gradcheck.supervisor import Session

    out = []
    for _ in range(runs):
        s = Session(load={"target": None, "paths": [], "layers": None}, options={})
        t = time.perf_counter()
        s.open()
        out.append(time.perf_counter() - t)
        s.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    print(f"# bench_worker  ({machine_line()})\n")
    starts = worker_start(args.runs)
    print(
        f"worker start (spawn, imports, load rnnref), {args.runs} runs: median {statistics.median(starts):.2f} s, "
        f"min {min(starts):.2f} s, max {max(starts):.2f} s\n"
    )
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, (body, opts, limit) in CASES.items():
            path = Path(d) / "case.py"
            path.write_text(target(body), encoding="utf-8")
            cmd = [sys.executable, "-m", "gradcheck", "check", str(path), "--max-examples", "5", *opts]
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=d)
            wall = time.perf_counter() - t
            finding = next((x.strip() for x in proc.stdout.splitlines() if x.strip().startswith("[crash]")), "")
            stopped = "shrinking stopped at the budget" in proc.stdout
            rows.append(
                [
                    name,
                    " ".join(opts),
                    f"{wall:.1f}",
                    f"{limit + 10}",
                    proc.returncode,
                    ("[budget] " if stopped else "") + finding[8:110],
                ]
            )
    print(table(rows, ["case", "limits", "wall s", "must be <", "exit", "finding"]))
    print(f"\n(machine at the end: {machine_line()})")


if __name__ == "__main__":
    main()
