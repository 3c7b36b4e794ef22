"""Wall time of `gradcheck run` cold: a fresh interpreter each time, so the JAX
import and every compile are included.

    /work/venv/bin/python benchmarks/bench_run.py [--runs 5] [--profile PROFILE]
        [--layers A,B] [--compile-cache off|empty|warm|all] [--import-time]

Runs `python -m gradcheck run` (the default profile, unless --profile is given)
--runs times and prints median, min and max wall seconds, plus the CPU seconds
of the child (user + sys: what the run cost when the machine is shared). If the
CLI is not there (no gradcheck/cli.py or __main__.py), it times the equivalent
`python -c "...run(reference_targets(), RunOptions(profile='ci'))"` and says so.

--compile-cache says what JAX's persistent compilation cache holds (never the
user's own: every run gets XDG_CACHE_HOME in a temporary directory):
  off    `--no-compile-cache`: every program compiled, as before the cache;
  empty  a new empty cache directory for every run (a first run on a machine);
  warm   one cache directory, filled by an untimed run first;
  all    the three, one table each and a summary (default).
--import-time also times `python -c "import jax, gradcheck.cli"` alone: what
no cache can save.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, table  # noqa: E402

FALLBACK = (
    "from gradcheck.runner import run, reference_targets, RunOptions; "
    "r = run(reference_targets(), RunOptions(profile={profile!r})); "
    "raise SystemExit(0 if r.passed else 1)"
)


def command(python: str, profile: str | None, layers: str | None) -> tuple[list[str], str]:
    if all(importlib.util.find_spec(m) for m in ("gradcheck.cli", "gradcheck.__main__")):
        extra = (["--profile", profile] if profile else []) + (["--layers", layers] if layers else [])
        cmd = [python, "-m", "gradcheck", "run", *extra]
        return cmd, " ".join(["python", "-m", "gradcheck", "run", *extra])
    code = FALLBACK.format(profile=profile or "ci")
    return [python, "-c", code], f'python -c "{code}"  (the CLI is not there yet)'


def timed_runs(cmd: list[str], runs: int, env_of) -> tuple[list[list[object]], list[float], list[float]]:
    """Runs cmd `runs` times, env_of(i) giving each run's environment."""
    rows, walls, cpus = [], [], []
    for i in range(runs):
        env = env_of(i)
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
    return rows, walls, cpus


def summary(walls: list[float], cpus: list[float]) -> list[str]:
    return [
        f"{statistics.median(walls):.2f}",
        f"{min(walls):.2f}",
        f"{max(walls):.2f}",
        f"{statistics.median(cpus):.2f}",
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--profile", default=None, help="passed as --profile (default: the CLI's default)")
    p.add_argument("--layers", default=None, help="passed as --layers (default: every layer)")
    p.add_argument("--compile-cache", choices=("off", "empty", "warm", "all"), default="all")
    p.add_argument("--import-time", action="store_true", help="also time the imports alone")
    args = p.parse_args()
    cmd, shown = command(sys.executable, args.profile, args.layers)
    base = {k: v for k, v in os.environ.items() if k not in ("HYPOTHESIS_PROFILE", "JAX_COMPILATION_CACHE_DIR")}
    base.pop("GRADCHECK_NO_COMPILE_CACHE", None)
    print(f"# bench_run  ({machine_line()})\n\ncommand: {shown}\n")
    modes = ("off", "empty", "warm") if args.compile_cache == "all" else (args.compile_cache,)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_run_") as tmp:

        def env_of(mode: str):
            def env(i: int) -> dict[str, str]:
                home = {"off": "off", "empty": f"empty-{i}", "warm": "warm"}[mode]
                return {**base, "XDG_CACHE_HOME": os.path.join(tmp, home)}

            return env

        for mode in modes:
            run_cmd = cmd + (["--no-compile-cache"] if mode == "off" and "gradcheck" in cmd else [])
            if mode == "warm":  # fill the cache, untimed
                subprocess.run(run_cmd, env=env_of(mode)(0), capture_output=True)
            rows, walls, cpus = timed_runs(run_cmd, args.runs, env_of(mode))
            print(f"compile cache: {mode}\n")
            print(table(rows, ["run", "wall s", "cpu s", "exit", "last line of output"]) + "\n")
            results.append([mode, *summary(walls, cpus)])
        if args.import_time:
            imp = [sys.executable, "-c", "import jax, gradcheck.cli"]
            _, walls, cpus = timed_runs(imp, args.runs, lambda i: base)
            results.append(["imports only (`import jax, gradcheck.cli`)", *summary(walls, cpus)])
    print(table(results, ["compile cache", "median wall s", "min", "max", "median cpu s"]))
    print(f"\n(machine at the end: {machine_line()})")


if __name__ == "__main__":
    main()
