"""Protocol invariants of the book's layer protocol (no finite differences needed).

Each check builds fresh instances of the layer so that one broken invariant does
not leak into another check's result.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from . import calling
from .checks import Context, differing, grad_name
from .examples import make_example
from .findings import Finding
from .specs import Arg


def check_output(ctx: Context) -> list[Finding]:
    """Output shape, dtype and finiteness (dtype follows the parameters)."""
    spec, ex = ctx.spec, ctx.ex
    want = tuple(ex.dims[a] for a in spec.output_axes)
    out_dtype = ctx.out_dtype
    findings = []
    if ctx.out.shape != want:
        findings.append(
            Finding(
                "output",
                "fail",
                f"forward returned shape {ctx.out.shape}; expected {want} "
                f"({', '.join(spec.output_axes) or 'a scalar'})",
            )
        )
    elif not np.isfinite(ctx.out).all():
        findings.append(
            Finding(
                "output",
                "fail",
                f"forward returned {int((~np.isfinite(ctx.out)).sum())} non-finite values on ordinary inputs",
            )
        )
    else:
        bad = [grad_name(spec, k) for k, g in ctx.grads.items() if g is not None and not np.isfinite(g).all()]
        findings.append(
            Finding("output", "fail", f"backward returned non-finite values in {', '.join(bad)}")
            if bad
            else Finding("output", "pass", f"shape {want}, finite")
        )
    if ctx.prec.dtype.itemsize < ctx.requested.itemsize:
        findings.append(
            Finding(
                "dtype",
                "warn",
                f"computes in {ctx.prec.dtype.name} although given {ctx.requested.name} "
                f"(downcast); checked at {ctx.prec.dtype.name} tolerances",
            )
        )
    elif np.issubdtype(out_dtype, np.floating) and out_dtype.itemsize > ctx.requested.itemsize and spec.kind != "model":
        findings.append(
            Finding(
                "dtype",
                "warn",
                f"output is {out_dtype.name} for {ctx.requested.name} parameters: dtype does not follow the parameters",
            )
        )
    else:
        findings.append(Finding("dtype", "pass", f"computes in {ctx.prec.dtype.name}"))
    return findings


def check_not_mutated(ctx: Context) -> list[Finding]:
    """forward and backward leave the inputs, the params and dout as they were."""
    layer = ctx.fresh()
    inputs = [x.copy() for x in ctx.inputs]
    dout = calling.copied(ctx.ex.dout)
    params = list(getattr(layer, "params", []))
    before = [x.copy() for x in inputs], [p.copy() for p in params], np.copy(dout)
    state = None if ctx.state is None else ctx.state.copy()
    calling.forward(ctx.spec, layer, inputs, state, copy_state=False)
    calling.backward(ctx.spec, layer, dout)
    changed = (
        # a state only when the spec has one (setup)
        [f"{cast(Arg, ctx.spec.state).name} (given to set_state)"]
        if state is not None and not _same(state, ctx.state)
        else []
    )
    changed += [a.name for a, x, b in zip(ctx.spec.inputs, inputs, before[0], strict=True) if not _same(x, b)]
    changed += [
        f"params[{a.name}]" for a, p, b in zip(ctx.spec.params, params, before[1], strict=False) if not _same(p, b)
    ]
    if not _same(np.asarray(dout), before[2]):
        changed.append("dout")
    if changed:
        return [Finding("not-mutated", "fail", f"forward/backward modified {', '.join(changed)} in place")]
    return [Finding("not-mutated", "pass", "inputs, params and dout untouched")]


def _same(a, b) -> bool:
    return np.asarray(a).shape == np.asarray(b).shape and np.array_equal(
        a, b, equal_nan=np.issubdtype(np.asarray(a).dtype, np.floating)
    )


def check_grads_in_place(ctx: Context) -> list[Finding]:
    """backward writes into the arrays of `grads` (same objects, shapes, dtypes as params)."""
    layer = ctx.fresh()
    before = list(getattr(layer, "grads", []))
    ctx.run(layer)
    after = list(getattr(layer, "grads", []))
    problems = []
    for i, arg in enumerate(ctx.spec.params):
        if i >= len(before) or i >= len(after):
            break
        if before[i] is not after[i]:
            problems.append(
                f"grads[{i}] ({grad_name(ctx.spec, arg.name)}) was replaced by a new array; write into it with g[...] = ..."
            )
        p = layer.params[i]
        if not isinstance(after[i], np.ndarray) or after[i].shape != p.shape:
            problems.append(f"grads[{i}] has shape {np.shape(after[i])}; params[{i}] has {p.shape}")
    if ctx.spec.kind == "model":
        problems += _model_aliasing(layer)
    if problems:
        return [Finding("grads-in-place", "fail", "; ".join(problems))]
    return [Finding("grads-in-place", "pass", "grads written in place")]


def _model_aliasing(model) -> list[str]:
    """A model's params/grads must be its layers' very arrays (the optimizer updates them)."""
    layers = list(getattr(model, "layers", [])) + [getattr(model, "loss_layer", None)]
    owned_p = [id(p) for lay in layers if lay is not None for p in getattr(lay, "params", [])]
    owned_g = [id(g) for lay in layers if lay is not None for g in getattr(lay, "grads", [])]
    problems = []
    if layers[:-1] and [id(p) for p in model.params] != owned_p:
        problems.append("model.params are not its layers' params arrays (in order)")
    if layers[:-1] and [id(g) for g in model.grads] != owned_g:
        problems.append("model.grads are not its layers' grads arrays (in order)")
    return problems


def check_repeatable(ctx: Context) -> list[Finding]:
    """Two backwards after one forward agree (a backward that edits its cache does not)."""
    layer = ctx.fresh()
    first = ctx.run(layer)
    second = calling.snapshot(calling.backward(ctx.spec, layer, calling.copied(ctx.ex.dout)))
    # second[k] may be None: array_equal takes it (unequal), numpy's stubs do not.
    diff = [
        grad_name(ctx.spec, k)
        for k, g in first.grads.items()
        if g is not None and not np.array_equal(g, second[k])  # type: ignore[arg-type]
    ]
    if diff:
        return [
            Finding(
                "repeatable",
                "warn",
                f"a second backward gives different {', '.join(diff)} (does backward modify its cache or accumulate?)",
            )
        ]
    return [Finding("repeatable", "pass", "backward repeatable")]


def check_grads_replaced(ctx: Context) -> list[Finding]:
    """Each backward replaces the grads: example B after example A through one
    instance gives what a fresh instance gives on B (no stale gradients)."""
    other = make_example(ctx.spec, ctx.ex.dims, ctx.ex.seed + 7919, ctx.ex.dtype)
    layer = ctx.fresh()
    ctx.run(layer)
    inputs_b = calling.inputs_for(ctx.spec, other, calling.layer_values(ctx.spec, layer, other))
    state_b = other.values[ctx.spec.state.name] if ctx.spec.state is not None and ctx.spec.kind != "model" else None
    after = ctx.run(layer, inputs_b, state_b, other.dout)
    fresh = ctx.run(ctx.fresh(), inputs_b, state_b, other.dout)
    stale = differing(ctx.spec, after.grads, fresh.grads, ctx.prec.analytic)
    if stale:
        return [
            Finding(
                "grads-replaced",
                "fail",
                "after a first example, backward on a second one leaves stale "
                f"gradients in {', '.join(stale)}: grads must be replaced, not accumulated",
            )
        ]
    return [Finding("grads-replaced", "pass", "each backward replaces the grads")]


def check_linear_in_dout(ctx: Context) -> list[Finding]:
    """backward(c * dout) == c * backward(dout), each after its own forward (the
    first is the primary run's)."""
    c = 2.5
    scaled = ctx.run(ctx.fresh(), dout=ctx.ex.dout * c)
    bad = differing(ctx.spec, scaled.grads, ctx.grads, ctx.prec.analytic, scale=c)
    if bad:
        return [
            Finding(
                "linear-in-dout",
                "fail",
                f"backward({c} * dout) != {c} * backward(dout) for {', '.join(bad)} "
                "(is dout ignored or used non-linearly?)",
            )
        ]
    return [Finding("linear-in-dout", "pass", "backward linear in dout")]
