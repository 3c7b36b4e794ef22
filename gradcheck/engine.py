"""One layer, one example, every check: `check_example`; and the public
`check_layer` for a class (or factory) the caller hands us."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import numpy as np

from . import checks, protocol, sampling, stochastic, timing
from .calling import Factory, LayerError
from .examples import Example, make_example
from .findings import Finding
from .oracle import Oracle
from .report import LayerReport, Report
from .specs import Spec
from .userspecs import known_specs

# In order. Each takes a Context; the gradient checks come first because the
# verdict reads their findings.
GRADIENT_CHECKS = (checks.check_forward, checks.check_backward_jax, checks.check_backward_fd)
# The protocol checks that read the primary run; they also run when a root cause
# (below) makes every check of values meaningless.
STRUCTURE_CHECKS = (protocol.check_output, protocol.check_not_mutated, protocol.check_grads_in_place)
# In this order on the primary instance: a second backward, a third, other shapes.
OTHER_CHECKS = (
    protocol.check_repeatable,
    protocol.check_linear_in_dout,
    protocol.check_reuse,
    timing.check_cell,
    timing.check_stateful,
    timing.check_state_methods,
    timing.check_mask,
    timing.check_extreme,
    protocol.check_generate,
)
CHECK_NAMES = {
    "forward": "output equals the spec's",
    "backward-jax": "gradients equal JAX's vjp",
    "backward-fd": "gradients equal finite differences of the layer's own forward",
    "verdict": "layer vs JAX vs finite differences",
    "output": "output shape and finiteness",
    "dtype": "computes in the parameters' dtype",
    "not-mutated": "inputs, params, dout untouched",
    "grads-in-place": "grads written in place",
    "repeatable": "backward repeatable",
    "grads-replaced": "each backward replaces the grads",
    "reuse": "one instance runs other sizes as a fresh one does",
    "linear-in-dout": "backward linear in dout",
    "cell": "T=1 equals the cell",
    "stateful": "stateful chunks equal the spec from the carried state",
    "state-reset": "reset_state / stateful=False start from zeros",
    "non-stateful": "stateful=False ignores old state",
    "mask": "ignore_label and one-hot labels",
    "extreme": "finite with logits of +-1e4",
    "tied": "a tied weight's gradient is the sum of its entries",
    "eval": "evaluation mode (train_flg=False) equals the spec",
    "dropout": "training mode: one mask, its kept fraction and scale, backward = dout * mask",
    "sampler": "negatives held fixed and recorded; drawn from count ** 0.75, never the target",
    "crash": "the layer runs",
    "generate": "generate: word ids, deterministic, greedy by the spec, params untouched",
}


def check_example(
    spec: Spec,
    factory: Factory,
    ex: Example,
    *,
    oracle: Oracle | None = None,
    cell_factory: Factory | None = None,
    bucket: Mapping[str, int] | None = None,
    use_spec: bool = True,
) -> list[Finding]:
    """Run every check of `spec` on one example; a crash of the layer is a finding.

    One root cause, one finding: when the primary run mutated what it was given,
    or returned non-finite values on ordinary inputs, every check that compares
    values is reported as skipped ("see not-mutated" / "see output") instead of
    failing for the same reason; a crash that an earlier check already reported
    (the same stage and line, or the same missing method) is "see" that check.
    A layer that draws randomness when training is checked in both modes
    (`stochastic.py`); one that draws its inputs (negative sampling) with them held
    fixed and recorded (`sampling.py`)."""
    if spec.drawn:
        return sampling.check_example(
            spec,
            factory,
            ex,
            oracle if use_spec else None,
            _check_all,
            cell_factory=cell_factory,
            bucket=bucket,
        )
    if spec.train_flag is not None:
        return stochastic.check_example(
            spec,
            factory,
            ex,
            oracle if use_spec else None,
            check_example,
            cell_factory=cell_factory,
            bucket=bucket,
        )
    return _check_all(spec, factory, ex, oracle=oracle if use_spec else None, cell_factory=cell_factory, bucket=bucket)


def _check_all(
    spec: Spec,
    factory: Factory,
    ex: Example,
    *,
    oracle: Oracle | None = None,
    cell_factory: Factory | None = None,
    bucket: Mapping[str, int] | None = None,
) -> list[Finding]:
    """check_example's checks, on a layer whose randomness (if any) is held fixed."""
    try:
        ctx = checks.setup(
            spec,
            factory,
            ex,
            oracle,
            cell_factory=cell_factory,
            bucket=dict(bucket) if bucket else None,
        )
    except LayerError as err:
        return [checks.crash_finding(err)]
    except Exception as exc:  # gradcheck could not even drive the layer: never a pass
        return [Finding("crash", "fail", f"could not run the layer: {type(exc).__name__}: {exc}")]
    findings: list[Finding] = []
    for check in STRUCTURE_CHECKS:
        findings += _guard(check, ctx)
    root = _root_cause(ctx)
    if root is not None:
        return findings + [Finding(name, "skip", f"skipped: see {root}") for name in value_checks(spec)]
    for check in GRADIENT_CHECKS:
        findings += _guard(check, ctx)
    findings = checks.confirmed_by_jax(checks.explained_by_forward(findings + checks.verdict(ctx, findings)))
    ctx.gradient_failed = any(f.status == "fail" for f in findings if f.check in ("forward", "backward-jax"))
    seen: dict[str, str] = {}  # a LayerError's message -> the first check that reported it
    for check in OTHER_CHECKS:
        for f in _guard(check, ctx):
            key = f.message if f.status == "fail" and f.check in _CRASHABLE else None
            if key is not None and key in seen:
                f = Finding(f.check, "skip", f"skipped: see {seen[key]} ({f.message})")
            elif key is not None and f.message.startswith(_CRASH_PREFIXES):
                seen[key] = f.check
            findings.append(f)
    return findings


# Checks whose crash (a LayerError: a stage raised, a method is missing) may repeat
# one that an earlier check already reported.
_CRASHABLE = frozenset(("stateful", "state-reset", "non-stateful", "cell", "mask", "extreme", "reuse", "repeatable"))
_CRASH_PREFIXES = ("forward", "backward", "set_state", "reset_state", "constructor")


def _root_cause(ctx: checks.Context) -> str | None:
    """The check whose failure explains every value check: inputs or params
    modified in place (not-mutated), or non-finite results on ordinary inputs
    (output)."""
    if ctx.mutated:
        return "not-mutated"
    if not np.isfinite(ctx.out).all() or protocol.non_finite_grads(ctx):
        return "output"
    return None


def value_checks(spec: Spec) -> list[str]:
    """The checks that compare values and apply to `spec` (skipped under a root cause)."""
    names = ["forward", "backward-jax", "backward-fd", "verdict", "repeatable", "linear-in-dout", "reuse"]
    names.append("grads-replaced")
    if spec.cell:
        names.append("cell")
    if spec.state is not None:
        names += ["stateful", "state-reset"]
    if spec.kind in ("loss", "model") and spec.labels is not None and spec.labels.onehot_ok:
        names.append("mask")
    if spec.kind == "loss":
        names.append("extreme")
    return names


# The documented name (a key of CHECK_NAMES) a check's crash is reported under.
_CHECK_IDS = {timing.check_state_methods: "state-reset"}


def _guard(check, ctx) -> list[Finding]:
    name = _CHECK_IDS.get(check) or check.__name__.removeprefix("check_").replace("_", "-")
    try:
        with np.errstate(all="ignore"):  # overflow in the layer shows up as non-finite values, reported
            return check(ctx)
    except LayerError as err:
        return [Finding(name, "fail", str(err))]
    except Exception as exc:  # what the layer returned broke the check itself (odd shapes, types)
        return [Finding(name, "fail", f"could not run on what the layer returned: {type(exc).__name__}: {exc}")]


def check_layer(
    layer: Factory,
    spec: str | Spec | None = None,
    *,
    dims: Mapping[str, int] | None = None,
    seed: int = 0,
    dtype: np.dtype | type = np.float64,
    example: Example | None = None,
    cell: Factory | None = None,
    oracle: Oracle | None = None,
    use_spec: bool = True,
) -> Report:
    """Check one layer class (or factory with the book's constructor signature) on
    one example and return a Report.

    spec: the spec's name (default: the class's __name__, e.g. "TimeRNN").
    dims: N, T, S, D, H, V (defaults small: N=2, T=3, S=4, D=4, H=5, V=6).
    dtype: of the generated params and inputs (float64, or float32 as the book).
    cell: the single-step class for the T=1 check (RNN for TimeRNN, ...).
    use_spec: False checks with finite differences and the protocol only.
    """
    name = spec.name if isinstance(spec, Spec) else (spec or getattr(layer, "__name__", None))
    known = known_specs()
    if name not in known and not isinstance(spec, Spec):
        raise ValueError(f"no spec named {name!r}; known: {', '.join(known)}")
    spec_obj = spec if isinstance(spec, Spec) else known[cast(str, name)]  # a known name: checked above
    dims = {**{"N": 2, "T": 3, "S": 4, "D": 4, "H": 5, "V": 6}, **(dims or {})}
    ex = example or make_example(spec_obj, dims, seed, dtype)
    findings = check_example(
        spec_obj, layer, ex, oracle=oracle or default_oracle(), cell_factory=cell, use_spec=use_spec
    )
    report = LayerReport(spec_obj.name)
    report.add(findings, ex)
    return Report([report])


_ORACLE: Oracle | None = None


def default_oracle() -> Oracle:
    """One process-wide oracle, so compiled functions are shared between calls."""
    global _ORACLE
    if _ORACLE is None:
        _ORACLE = Oracle()
    return _ORACLE
