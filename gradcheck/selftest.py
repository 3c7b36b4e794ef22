"""`gradcheck selftest`: every mutant of the catalogue must be caught by the layer
it names, and the unmodified reference must raise no alarm."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace

from .findings import SEVERITY
from .jaxcache import enable_compile_cache
from .oracle import Oracle
from .report import LayerReport, Report
from .runner import RunOptions, reference_targets, run, targets_in
from .specs import SPECS


def selftest(args, options: RunOptions, say) -> int:
    from . import mutants
    from .targets import TargetError

    catalogue = list(mutants.CATALOGUE)
    if getattr(args, "mutants", None):
        wanted = [m.strip() for m in args.mutants.split(",") if m.strip()]
        unknown = sorted(set(wanted) - {m.name for m in catalogue})
        if unknown:
            raise TargetError(f"--mutants: unknown mutant {', '.join(unknown)}")
        catalogue = [m for m in catalogue if m.name in wanted]
    for m in catalogue:  # every edit applied before anything runs: a stale one stops here, naming itself
        m.apply()
    started = time.perf_counter()
    opts = replace(options, shrink=False, progress=None)
    # The reference on the layers the mutants name: all of them for the whole
    # catalogue; with --mutants, the layers those mutants were tried on.
    layers = (
        [t.name for t in reference_targets()]
        if len(catalogue) == len(mutants.CATALOGUE)
        else [n for n in SPECS if any(n in m.layers for m in catalogue)]
    )
    units = [("reference", name) for name in layers] + [("mutant", m.name) for m in catalogue]
    jobs = min(getattr(args, "jobs", 1) or (os.cpu_count() or 1), len(layers))
    results = (
        _in_parallel(units, opts, jobs, {m.name: m.layers[0] for m in catalogue}) if jobs > 1 else _here(units, opts)
    )
    compiles: dict[int, int] = {}  # each process's JAX compiles (its oracle's count only grows)
    ref_layers: list[LayerReport] = []
    for _ in layers:
        found, _, pid, count = next(results)
        compiles[pid] = max(count, compiles.get(pid, 0))
        ref_layers += found
    ref = Report(ref_layers)
    false_alarms = [r for r in ref.layers if r.status != "pass"]
    rows, missed = [], 0
    for m in catalogue:
        found, seconds, pid, count = next(results)
        compiles[pid] = max(count, compiles.get(pid, 0))
        rep = Report(found)
        caught = all(_caught(r, m.expect) for r in rep.layers)
        missed += not caught
        by = sorted(
            {
                c.check
                for r in rep.layers
                for c in r.checks.values()
                if c.status in ("fail", "warn") and SEVERITY[c.status] >= SEVERITY[m.expect]
            }
        )
        first = [r.first_failure if m.expect == "fail" else (r.first_failure or r.first_warning) for r in rep.layers]
        after = max((f or r.examples) for f, r in zip(first, rep.layers, strict=True))
        rows.append((m, caught, by, after, seconds))
        if options.progress:
            options.progress(f"{m.name}: {'caught' if caught else 'MISSED'}")
    say(f"{'mutant':<34} {'layers':<26} {'expect':<6} {'result':<7} {'examples':>8}  caught by")
    for m, caught, by, after, _ in rows:
        say(
            f"{m.name:<34} {','.join(m.layers):<26} {m.expect:<6} {'caught' if caught else 'MISSED':<7} {after:>8}  {', '.join(by)}"
        )
    say("")
    say(
        "reference (unmodified rnnref): "
        + (
            "no alarm"
            if not false_alarms
            else "FALSE ALARM in "
            + ", ".join(
                f"{r.name} ({r.status}: {next((c.message for c in r.checks.values() if c.status != 'pass'), '')})"
                for r in false_alarms
            )
        )
    )
    kills: dict[str, int] = {}
    for _, caught, by, _, _ in rows:
        for check in by if caught else []:
            kills[check] = kills.get(check, 0) + 1
    say("kills by check: " + ", ".join(f"{k}: {v}" for k, v in sorted(kills.items(), key=lambda kv: -kv[1])))
    slowest = max(rows, key=lambda r: r[3], default=None)
    if slowest:
        say(f"slowest to catch: {slowest[0].name} after {slowest[3]} examples")
    n = len(rows)
    say(
        f"{'PASSED' if not missed and not false_alarms else 'FAILED'}: {n - missed}/{n} mutants caught, "
        f"{len(false_alarms)} false alarms, {time.perf_counter() - started:.1f} s, {sum(compiles.values())} JAX compiles"
        + (f" ({jobs} processes)" if jobs > 1 else "")
    )
    if getattr(args, "json", None):
        import json
        from pathlib import Path

        from .report import write_atomic

        write_atomic(
            Path(args.json),
            json.dumps(
                {
                    "passed": not missed and not false_alarms,
                    "reference": Report(ref.layers).to_dict(),
                    "mutants": [
                        {
                            "name": m.name,
                            "family": m.family,
                            "layers": list(m.layers),
                            "expect": m.expect,
                            "caught": caught,
                            "caught_by": by,
                            "examples": after,
                            "seconds": round(sec, 3),
                        }
                        for m, caught, by, after, sec in rows
                    ],
                },
                indent=2,
            )
            + "\n",
        )
    return 0 if not missed and not false_alarms else 1


def _caught(r: LayerReport, expect: str) -> bool:
    return SEVERITY[r.status] >= SEVERITY[expect]


# --- the units of work: the reference on one layer, or one mutant -------------------------

Unit = tuple[str, str]  # ("reference", layer name) or ("mutant", mutant name)
# Its layer reports, seconds, the process it ran in, and that process's JAX compiles so far.
Result = tuple[list[LayerReport], float, int, int]

_oracle: list[Oracle] = []  # one per process, made on first use (after the compilation cache is set)


def run_unit(unit: Unit, opts: RunOptions) -> Result:
    """Check one unit in this process: the unmodified reference's layer, or the
    layers a mutant names with the mutant in place."""
    from . import mutants

    if not _oracle:
        enable_compile_cache()  # off with GRADCHECK_NO_COMPILE_CACHE / --no-compile-cache
        _oracle.append(Oracle())
    kind, name = unit
    t0 = time.perf_counter()
    if kind == "reference":
        targets = reference_targets([name])
    else:
        m = next(m for m in mutants.CATALOGUE if m.name == name)
        targets = targets_in(m.apply(), m.layers)
    report = run(targets, opts, _oracle[0])
    return report.layers, time.perf_counter() - t0, os.getpid(), _oracle[0].compiles


def _here(units: list[Unit], opts: RunOptions) -> Iterator[Result]:
    for unit in units:
        yield run_unit(unit, opts)


def _in_parallel(units: list[Unit], opts: RunOptions, jobs: int, first_layer: dict[str, str]) -> Iterator[Result]:
    """run_unit over `units` in `jobs` processes (spawned: JAX must not be forked),
    yielded in the units' order, so the report is the one a single process gives:
    each unit is checked on the same derandomized examples wherever it runs. A
    layer's reference and the mutants tried first on that layer go to one process
    together, which then compiles (or loads) that layer's programs once: spread
    unit by unit, the two processes compiled the same programs twice and the
    mutants took 3x longer."""
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    from hypothesis import configuration

    groups: dict[str, list[int]] = {}  # layer -> the positions of its units in `units`
    for i, (kind, name) in enumerate(units):
        groups.setdefault(name if kind == "reference" else first_layer[name], []).append(i)
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_process,
        initargs=(str(configuration.storage_directory(intent_to_write=False).home_directory),),
    )
    try:
        futures: dict[int, tuple[Future[list[Result]], int]] = {}  # unit -> its group's future, its place there
        for positions in groups.values():
            future = pool.submit(_run_units, [units[i] for i in positions], opts)
            futures.update((i, (future, k)) for k, i in enumerate(positions))
        for i in range(len(units)):
            future, k = futures[i]
            yield future.result()[k]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_units(units: list[Unit], opts: RunOptions) -> list[Result]:
    return [run_unit(unit, opts) for unit in units]


def _start_process(hypothesis_home: str) -> None:
    """A spawned process keeps Hypothesis's files where the parent does."""
    from hypothesis import configuration

    configuration.set_hypothesis_home_dir(hypothesis_home)
