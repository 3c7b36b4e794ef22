"""`gradcheck selftest`: every mutant of the catalogue must be caught by the layer
it names, and the unmodified reference must raise no alarm."""

from __future__ import annotations

import time
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
    enable_compile_cache()  # off with GRADCHECK_NO_COMPILE_CACHE / --no-compile-cache
    oracle = Oracle()
    started = time.perf_counter()
    opts = replace(options, shrink=False, progress=None)
    # The reference on the layers the mutants name: all of them for the whole
    # catalogue; with --mutants, the layers those mutants were tried on.
    layers = (
        None
        if len(catalogue) == len(mutants.CATALOGUE)
        else [n for n in SPECS if any(n in m.layers for m in catalogue)]
    )
    ref = run(reference_targets(layers), opts, oracle)
    false_alarms = [r for r in ref.layers if r.status != "pass"]
    rows, missed = [], 0
    for m in catalogue:
        ns = m.apply()
        targets = targets_in(ns, m.layers)
        t0 = time.perf_counter()
        rep = run(targets, opts, oracle)
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
        rows.append((m, caught, by, after, time.perf_counter() - t0))
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
        f"{len(false_alarms)} false alarms, {time.perf_counter() - started:.1f} s, {oracle.compiles} JAX compiles"
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
