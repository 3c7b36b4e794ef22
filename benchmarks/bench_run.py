"""Wall time of `gradcheck run` cold: a fresh interpreter each time, so the JAX
import and every compile are included.

    /work/venv/bin/python benchmarks/bench_run.py [--runs 5] [--profile PROFILE]

Runs `python -m gradcheck run` (the default profile, unless --profile is given)
--runs times and prints median, min and max wall seconds, plus the CPU seconds
of the child (user + sys: what the run cost when the machine is shared). If the
CLI is not there (no gradcheck/cli.py or __main__.py), it times the equivalent
`python -c "...run(reference_targets(), RunOptions(profile='ci'))"` and says so.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, table  # noqa: E402

FALLBACK = (
    "from gradcheck.runner import run, reference_targets, RunOptions; "
    "r = run(reference_targets(), RunOptions(profile={profile!r})); "
    "raise SystemExit(0 if r.passed else 1)"
)


def command(python: str, profile: str | None) -> tuple[list[str], str]:
    if all(importlib.util.find_spec(m) for m in ("gradcheck.cli", "gradcheck.__main__")):
        cmd = [python, "-m", "gradcheck", "run"] + (["--profile", profile] if profile else [])
        return cmd, " ".join(["python", "-m", "gradcheck", "run"] + cmd[4:])
    code = FALLBACK.format(profile=profile or "ci")
    return [python, "-c", code], f'python -c "{code}"  (the CLI is not there yet)'


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--profile", default=None, help="passed as --profile (default: the CLI's default)")
    args = p.parse_args()
    cmd, shown = command(sys.executable, args.profile)
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}  # the CLI's own default
    print(f"# bench_run  ({machine_line()})\n\ncommand: {shown}\n")
    rows, walls, cpus = [], [], []
    for i in range(args.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        last = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
        walls.append(wall)
        cpus.append(cpu)
        rows.append([i + 1, f"{wall:.2f}", f"{cpu:.2f}", proc.returncode, last[:70]])
        if proc.returncode not in (0, 1):
            print(proc.stderr[-2000:], file=sys.stderr)
    print(table(rows, ["run", "wall s", "cpu s", "exit", "last line of output"]))
    print(
        f"\nwall: median {statistics.median(walls):.2f} s, min {min(walls):.2f} s, max {max(walls):.2f} s"
        f"\ncpu:  median {statistics.median(cpus):.2f} s, min {min(cpus):.2f} s, max {max(cpus):.2f} s"
        f"\n(machine at the end: {machine_line()})"
    )


if __name__ == "__main__":
    main()
