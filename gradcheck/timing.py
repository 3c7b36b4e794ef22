"""Time structure, stateful truncated BPTT, masks and extreme logits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

import numpy as np

from . import calling
from .calling import LayerError
from .checks import Context, SpecComparison, convention_of, differing, grad_name
from .compare import Comparison, compare
from .examples import THIN_N, Example, make_example, shape_of, thin
from .findings import Finding, from_comparison, pair
from .oracle import default_bucket, sub_bucket, time_steps
from .specs import IGNORE_LABEL, Arg, axis_parts
from .userspecs import spec_named


def check_cell(ctx: Context) -> list[Finding]:
    """A Time layer at T=1 equals the spec at T=1 and, when the target has one
    that passes its own comparison with the spec, its single-step cell.

    The cell is consulted only when it is right: a broken `Affine` in the same
    file must not make a correct `TimeAffine` fail. Without a spec the cell is
    the only reference (then it is trusted as given)."""
    spec = ctx.spec
    if spec.cell is None:
        return []
    if ctx.gradient_failed:  # forward or backward already failed against the spec on this example
        return [Finding("cell", "skip", "skipped: see backward-jax (the layer is wrong at every T)")]
    cell = spec_named(spec.cell)
    # Two rows (examples.thin): each row of a Time layer at T=1 is the cell on that row.
    dims = {**ctx.ex.dims, "T": 1, "N": min(ctx.ex.dims["N"], THIN_N)}
    ex = make_example(spec, dims, ctx.ex.seed, ctx.ex.dtype)
    if ctx.no_set_state:  # such a layer runs from zeros: the cell gets h_prev = 0 (and c_prev)
        for arg in spec.states:
            ex.values[arg.name] = np.zeros_like(ex.values[arg.name])
    time_args = [*spec.params, *spec.inputs, *spec.states]
    cell_args = [*cell.params, *cell.inputs]
    at0 = {c.name: _step0(t, ex.values[t.name]) for t, c in zip(time_args, cell_args, strict=True)}
    # The cell's letters may name other dims (TimeAffine's H, V are Affine's D, H).
    letter = {
        axis_parts(c_ax)[1]: axis_parts(t_ax)[1]
        for t, c in zip(time_args, cell_args, strict=True)
        for t_ax, c_ax in zip([a for a in t.axes if a != "T"], c.axes, strict=True)
    }
    cell_dims = {c_ax: dims[t_ax] for c_ax, t_ax in letter.items()}
    bucket = sub_bucket(ctx.bucket or default_bucket(ctx.ex.dims), dims)
    cell_bucket = {c_ax: bucket.get(t_ax, cell_dims[c_ax]) for c_ax, t_ax in letter.items()}
    cell_ex = Example(cell.name, cell_dims, at0, _cell_dout(cell, _step0_out(spec, ex.dout)), ex.seed, ex.dtype)
    t_run = Context.run(_ctx_for(ctx, ex), calling.build(spec, ctx.factory, ex))
    t_grads = {
        c.name: None if t_run.grads.get(t.name) is None else _step0(t, t_run.grads[t.name])
        for t, c in zip(time_args, cell_args, strict=True)
    }
    t_out = _step0_out(spec, t_run.out)
    # (what, output, grads by cell arg name, how to compare with it)
    refs: list[tuple[str, np.ndarray, dict, Callable]] = []
    note = ""
    if ctx.oracle is not None:
        r = ctx.oracle(cell, at0, cell_ex.dout, cell_dims, cell_bucket)
        first = functools.partial(_first_output, cell)  # the Time layer outputs only this part
        against = SpecComparison(ctx.oracle, cell, at0, cell_ex.dout, cell_dims, r, ctx.prec, cell_bucket, first)
        refs.append((f"the spec of {cell.name}", first(r.out), r.grads, against))
    if ctx.cell_factory is not None:
        try:
            c_layer = calling.build(cell, ctx.cell_factory, cell_ex)
            inputs = calling.inputs_for(cell, cell_ex)
            c_out = np.asarray(calling.forward(cell, c_layer, inputs, None), dtype=np.float64)
            c_grads = calling.snapshot(calling.backward(cell, c_layer, cell_ex.dout))
        except LayerError as err:  # the cell's own check reports it; this layer is not to blame
            if not refs:
                return [
                    Finding("cell", "skip", f"the target's {cell.name} cannot run ({err}): nothing to compare with")
                ]
            note = f"; the target's {cell.name} was not consulted: it cannot run ({err})"
        else:
            c_out = _first_output(cell, c_out)
            broken = refs and _disagree(c_out, c_grads, refs[0][1], refs[0][2], refs[0][3])
            if broken:
                note = f"; the target's {cell.name} was not consulted: it differs from its spec ({broken})"
            else:
                refs.append((f"{cell.name}.forward/backward", c_out, c_grads, _plain(ctx.prec.analytic)))
    if not refs:
        return [Finding("cell", "skip", f"no spec and no {spec.cell} class to compare with")]
    findings = []
    for what, r_out, r_grads, against_ref in refs:
        findings.append(from_comparison("cell", "out[t=0]", cell.output_axes, against_ref(t_out, "out", r_out), what))
        for t, c in zip(time_args, cell_args, strict=True):
            got, want = t_grads.get(c.name), r_grads.get(c.name)
            if not t.differentiable or got is None or want is None:
                continue
            cmp = against_ref(got, c.name, want)
            findings.append(from_comparison("cell", grad_name(spec, t.name), c.axes, cmp, f"{what} (d{c.name})"))
        if any(f.status != "pass" for f in findings):
            break  # against the spec first: the cell adds nothing to a layer already wrong at T=1
    done = _one("cell", findings, f"T=1 equals {' and '.join(w for w, _, _, _ in refs)}{note}")
    return done


def _plain(rtol: float) -> Callable:
    """A comparer like SpecComparison's, for a reference that is no spec (the target's cell)."""

    def against(actual, name: str, expected: np.ndarray) -> Comparison:
        return compare(actual, expected, rtol)

    return against


def _disagree(out, grads, ref_out, ref_grads, against: Callable) -> str:
    """Which of a cell's results differ from its spec's ('' if none)."""
    bad = [] if against(out, "out", ref_out).ok else ["out"]
    bad += ["d" + k for k, g in ref_grads.items() if grads.get(k) is not None and not against(grads[k], k, g).ok]
    bad += ["d" + k for k in ref_grads if grads.get(k) is None]
    return ", ".join(bad)


def _step0(arg, v):
    """The t=0 slice of an array whose axes include T."""
    v = np.asarray(v)
    return v[(slice(None),) * arg.axes.index("T") + (0,)] if "T" in arg.axes else v


def _first_output(cell, out: np.ndarray) -> np.ndarray:
    """A Time layer outputs its cell's first result (an LSTM's h_next of h_next,
    c_next): that block of the cell's output."""
    if not cell.outputs:
        return out
    return out[..., : out.shape[-1] // len(cell.outputs)]


def _cell_dout(cell, dout: np.ndarray) -> np.ndarray:
    """The cell's upstream gradient at T=1: the Time layer's for the first result,
    zero for the others (the state they carry goes nowhere after the last step)."""
    if not cell.outputs:
        return dout
    return np.concatenate([dout, *(np.zeros_like(dout) for _ in cell.outputs[1:])], axis=-1)


def _step0_out(spec, out):
    out = np.asarray(out)
    return out[:, 0] if "T" in spec.output_axes else out


def _ctx_for(ctx: Context, ex: Example) -> Context:
    """A context like ctx but on another example (only what `Context.run` reads)."""
    sub = Context.__new__(Context)
    sub.__dict__.update(ctx.__dict__)
    sub.ex = ex
    sub.inputs = calling.inputs_for(ctx.spec, ex)
    has_state = ctx.spec.state is not None and ctx.spec.kind != "model" and not ctx.no_set_state
    sub.state = ex.values[cast(Arg, ctx.spec.state).name] if has_state else None
    sub.carry = tuple(ex.values[a.name] for a in ctx.spec.carry) if has_state else ()
    return sub


def _one(check: str, findings: list[Finding], ok_message: str) -> list[Finding]:
    """Collapse per-tensor findings to the failures, or one pass."""
    bad = [f for f in findings if f.status != "pass"]
    return bad or [
        Finding(check, "pass", ok_message, ratio=max((f.ratio or 0) for f in findings) if findings else None)
    ]


def check_stateful(ctx: Context) -> list[Finding]:
    """Run the example's stateful plan (chunks of xs, reset_state, set_state) on
    one stateful instance; each chunk's output and gradients must equal the spec's
    from the carried state, held constant (truncated BPTT), and `.dh` the gradient
    w.r.t. that state."""
    spec, ex = ctx.spec, ctx.ex
    if spec.state is None or not ex.plan:
        return []
    if ctx.oracle is None:
        return [Finding("stateful", "skip", "no spec to compare chunks with")]
    # Two rows of the example (examples.thin): the chunks test state across calls,
    # which is the same logic in every row.
    values = thin(spec, ex, ctx.values).values  # as the primary layer holds them
    ex = thin(spec, ex)
    layer = calling.build(spec, ctx.factory, ex, stateful=True, exact=True)
    can_reset, can_set = calling.has(layer, "reset_state"), calling.has(layer, "set_state")
    if can_reset:
        calling.method(layer, "reset_state")
    N, H = ex.dims["N"], ex.dims["H"]
    zeros = tuple(np.zeros(shape_of(a, ex.dims)) for a in spec.states)
    states, pos, rng, sets = zeros, 0, np.random.default_rng(ex.seed + 3), 0
    # The chunk whose end state the next chunk starts from, asked of the spec only
    # when a next chunk comes (not after the last, nor before set_state/reset_state).
    pending: tuple | None = None
    bucket = ctx.bucket or default_bucket(ctx.ex.dims)
    findings = []
    plan = list(ex.plan)
    if spec.carry and can_set and not any(step[0] == "set_state" for step in plan):
        # A layer with a carry (TimeLSTM's c) always meets set_state(h) alone once: back
        # to t=0, h given, c must start from zeros (the book's set_state(h, c=None)).
        plan += [("rewind",), ("set_state", 0), ("forward", min(ex.dims["T"], 2))]
    for i, step in enumerate(plan):
        if step[0] == "rewind":
            pos = 0
            continue
        if step[0] == "reset":
            if can_reset:  # without it the state carries on: so does h
                calling.method(layer, "reset_state")
                states, pending = zeros, None
            continue
        if step[0] == "set_state":
            if spec.kind == "model" or not can_set:
                continue
            # h, and the carry too (TimeLSTM's set_state(h, c)), so that both are used; every
            # other time h alone: set_state(h, c=None) starts c from zeros (seq2seq decoders rely on it)
            states = tuple(rng.uniform(-0.9, 0.9, size=(N, H)).astype(ex.dtype) for _ in spec.states)
            sets += 1
            pending = None
            if spec.carry and sets % 2:  # the first set_state of a plan: h alone
                states = (states[0], *(np.zeros_like(s) for s in states[1:]))
                calling.method(layer, "set_state", states[0].copy())
            else:
                calling.method(layer, "set_state", *(s.copy() for s in states))
            continue
        k = step[1]
        if k <= 0 or pos + k > ex.dims["T"]:
            continue
        sl = slice(pos, pos + k)
        pos += k
        if pending is not None:
            states, pending = _final_state(*pending), None
        chunk = chunk_values(spec, values, sl, states)
        dims = {**ex.dims, "T": k}
        dout = ex.dout[:, sl] if isinstance(ex.dout, np.ndarray) else ex.dout
        inputs = [chunk[a.name].copy() for a in spec.inputs]
        if ex.onehot:
            inputs = calling.inputs_for(
                spec, Example(spec.name, dims, chunk, dout, ex.seed, ex.dtype, onehot=True), chunk
            )
        out = np.asarray(calling.method(layer, "forward", *inputs), dtype=np.float64)
        grads = calling.snapshot(calling.backward(spec, layer, dout))
        if "ts" in chunk and (chunk["ts"] == IGNORE_LABEL).all() and not np.isfinite(out).all():
            # 0/0 for a chunk whose labels are all ignored: the convention the mask
            # check names once; the state still carries on to the next chunk.
            pending = (spec, chunk, dims, ctx, sub_bucket(bucket, dims))
            continue
        ref = ctx.oracle(spec, chunk, dout, dims, sub_bucket(bucket, dims))
        against = SpecComparison(ctx.oracle, spec, chunk, dout, dims, ref, ctx.prec, sub_bucket(bucket, dims))
        label = f"chunk {i + 1} (t={sl.start}..{sl.stop - 1})"
        c = _in_sequence(against(out, "out"), spec.output_axes, sl.start)
        if not c.ok:
            findings.append(
                from_comparison(
                    "stateful", f"out of {label}", spec.output_axes, c, "the spec run from the carried state"
                )
            )
        for arg in spec.grad_args:
            if grads.get(arg.name) is None:
                continue
            c = _in_sequence(against(grads[arg.name], arg.name), arg.axes, sl.start)
            if not c.ok:
                findings.append(
                    from_comparison(
                        "stateful",
                        f"{grad_name(spec, arg.name)} of {label}",
                        arg.axes,
                        c,
                        "JAX's with the carried state held constant",
                    )
                )
        if findings:
            break
        pending = (spec, chunk, dims, ctx, sub_bucket(bucket, dims))
    if not can_set and spec.kind != "model":
        findings.append(
            Finding(
                "stateful",
                "warn",
                "no set_state(h) method: the book's protocol starts a stateful layer's next forward from h with it "
                "(seq2seq decoders do); chunks were checked from the carried state, the other checks from zeros",
            )
        )
    return findings or [Finding("stateful", "pass", f"{len(plan)}-step plan matches the spec chunk by chunk")]


def chunk_values(spec, values, sl: slice, states) -> dict[str, np.ndarray]:
    """The spec's args for the steps `sl` of a sequence (params whole, inputs with a
    T axis sliced), starting from `states` (state, *carry)."""
    return time_steps(spec, values, sl.start, sl.stop - sl.start, states)


def _in_sequence(c, axes: tuple[str, ...], start: int):
    """Entries of a chunk are indexed within the chunk; report t in the whole sequence.
    Only a failing comparison's (the entries of a passing one are never read, and
    finding them is the costly part of a comparison)."""
    if "T" in axes and not c.ok:
        k = axes.index("T")
        for e in c.worst:
            e.index = (*e.index[:k], e.index[k] + start, *e.index[k + 1 :])
    return c


def _final_state(spec, chunk, dims, ctx: Context, bucket: dict[str, int]) -> tuple[np.ndarray, ...]:
    """The state after a chunk, from the spec: (h, *carry) as `spec.final` says
    (a forward-only program, no vjp)."""
    assert ctx.oracle is not None  # check_stateful, the only caller, returns early without one
    return ctx.oracle.final(spec, chunk, dims, bucket)


def check_state_methods(ctx: Context) -> list[Finding]:
    """reset_state starts from zeros; stateful=False ignores any old state."""
    spec, ex = ctx.spec, ctx.ex
    if spec.state is None or ctx.ref is None:
        return []
    if spec.kind == "model":
        return _model_reset(ctx)
    assert ctx.oracle is not None  # setup() sets ctx.ref only from the oracle
    sub = thin(spec, ex, ctx.values)  # two rows: starting from zeros is the same logic in every row
    bucket = sub_bucket(ctx.bucket or default_bucket(ex.dims), sub.dims)
    zeros = {a.name: np.zeros(shape_of(a, sub.dims)) for a in spec.states}
    zeros_ref = ctx.oracle.forward(spec, {**sub.values, **zeros}, sub.dims, bucket)
    inputs = calling.inputs_for(spec, sub, sub.values)
    state = None if ctx.state is None else sub.values[spec.state.name]
    carry = tuple(sub.values[a.name] for a in spec.carry) if state is not None else ()

    def run_then_set_state_or_forward(layer) -> None:
        calling.method(layer, "forward", *[x.copy() for x in inputs])
        if state is not None:
            calling.method(layer, "set_state", state.copy(), *(c.copy() for c in carry))

    def starts_from_zeros(check: str, stateful: bool, prepare, message: str) -> list[Finding]:
        layer = ctx.fresh(stateful=stateful)
        prepare(layer)
        out = calling.method(layer, "forward", *[x.copy() for x in inputs])
        c = compare(out, zeros_ref, ctx.prec.analytic)
        return [] if c.ok else [Finding(check, "fail", f"{message} ({c.ratio:.3g}x the tolerance)")]

    def run_then_reset(layer) -> None:
        calling.forward(spec, layer, [x.copy() for x in inputs], state, carry=carry)
        calling.method(layer, "reset_state")

    if not calling.has(ctx.layer, "reset_state"):
        return [
            Finding(
                "state-reset", "warn", "no reset_state() method: the book's protocol clears a layer's state with it"
            )
        ] + starts_from_zeros(
            "non-stateful",
            False,
            run_then_set_state_or_forward,
            "with stateful=False, forward does not start from zeros after an earlier forward",
        )

    findings = starts_from_zeros(
        "state-reset", True, run_then_reset, "after reset_state() forward does not start from zeros"
    )
    findings += starts_from_zeros(
        "non-stateful",
        False,
        run_then_set_state_or_forward,
        "with stateful=False, forward does not start from zeros after an earlier forward or set_state",
    )
    return findings or [Finding("state-reset", "pass", "reset_state and stateful=False start from zeros")]


def _model_reset(ctx: Context) -> list[Finding]:
    """A model's reset_state: forward, reset_state, forward again starts from zeros."""
    assert ctx.ref is not None  # check_state_methods, the only caller, returns early without it
    layer = ctx.fresh()
    if not calling.has(layer, "reset_state"):
        return [
            Finding(
                "state-reset",
                "warn",
                "no reset_state() method: the book's trainers and eval call model.reset_state(); "
                "its stateful layers were reset one by one for the other checks",
            )
        ]
    # Two rows (examples.thin), unless their labels are all ignored (a 0/0 loss);
    # the reference is this fresh instance's first forward, which starts from zeros.
    sub = thin(ctx.spec, ctx.ex, ctx.values)
    if (sub.values["ts"] == IGNORE_LABEL).all():
        sub = ctx.ex
    inputs = calling.inputs_for(ctx.spec, sub, sub.values if sub is not ctx.ex else ctx.values)
    first = np.asarray(calling.forward(ctx.spec, layer, [x.copy() for x in inputs], None))  # resets, then runs
    calling.method(layer, "reset_state")
    out = calling.method(layer, "forward", *[x.copy() for x in inputs])
    c = compare(out, first, ctx.prec.analytic)
    if not c.ok:
        return [
            Finding(
                "state-reset",
                "fail",
                "after forward and reset_state(), the next forward does not start from zeros: loss {1}, "
                "expected {0} (the first forward's)".format(*pair(float(first), float(np.asarray(out)))),
            )
        ]
    return [Finding("state-reset", "pass", "reset_state starts the next forward from zeros")]


def check_mask(ctx: Context) -> list[Finding]:
    """Ignored positions: zero gradient, no effect on the loss; all ignored gives
    loss 0 and zero gradient; one-hot labels mean the same as their int labels.
    Asks the spec's label arg: the ignore-label probes need kind "labels", the
    one-hot probe any class ids; binary labels have neither."""
    spec, ex = ctx.spec, ctx.ex
    lab = spec.labels
    if spec.kind not in ("loss", "model") or lab is None or not lab.onehot_ok:
        return []
    if not lab.has_ignore_label:
        return _onehot_same(ctx) or [Finding("mask", "pass", "one-hot labels give the same as int labels")]
    logits = spec.inputs[0].name
    ts = ctx.values[lab.name]
    ignored = ts == IGNORE_LABEL
    findings = []
    if spec.kind == "loss" and ignored.any():
        g = cast(np.ndarray, ctx.grads[logits])  # None (backward gave no dxs) fails below, as before
        rows = np.abs(g).max(axis=-1) * ignored
        if rows.max() > 0:
            n, t = (int(i) for i in np.unravel_index(np.argmax(rows), rows.shape))
            findings.append(
                Finding(
                    "mask", "fail", f"dxs is non-zero at ignored position (n={n}, t={t}): max |dxs| {rows.max():.3g}"
                )
            )
        xs2 = ctx.values[logits].copy()
        xs2[ignored] += np.asarray(3.0, dtype=xs2.dtype)
        loss2 = calling.forward(spec, ctx.fresh(), [xs2, *calling.inputs_for(spec, ex, ctx.values)[1:]], None)
        c = compare(loss2, ctx.out, ctx.prec.analytic)
        if not c.ok:
            findings.append(
                Finding(
                    "mask",
                    "fail",
                    "changing logits at ignored positions changes the loss ({} -> {})".format(
                        *pair(float(ctx.out), float(loss2))
                    ),
                )
            )
    if spec.kind == "loss" and ignored.any() and hasattr(ctx.layer, "ignore_label"):
        findings += _other_ignore_label(ctx, ignored)
    findings += _all_ignored(ctx)
    if not ignored.any():
        findings += _onehot_same(ctx)
    return findings or [Finding("mask", "pass", "ignore_label masked; all-ignored gives 0; one-hot same as ints")]


def _onehot_same(ctx: Context) -> list[Finding]:
    """The example's int labels passed one-hot give the same loss and gradients."""
    spec, ex = ctx.spec, ctx.ex
    if ex.onehot:
        return []
    sub = Example(spec.name, ex.dims, ctx.values, ex.dout, ex.seed, ex.dtype, onehot=True)
    r = Context.run(_ctx_for(ctx, sub), ctx.fresh(), inputs=calling.inputs_for(spec, sub, ctx.values))
    c = compare(r.out, ctx.out, ctx.prec.analytic)
    bad = ([] if c.ok else ["loss"]) + differing(spec, r.grads, ctx.grads, ctx.prec.analytic)
    if bad:
        return [Finding("mask", "fail", f"one-hot labels give a different {', '.join(bad)} than the same int labels")]
    return []


def _all_ignored(ctx: Context) -> list[Finding]:
    """Every label ignored: rnnref gives loss 0 and zero gradients. Loss 0/0 = NaN
    (NaN gradients with it) is the book's and PyTorch's mean over no positions: a
    convention, one warning; anything else finite and non-zero is wrong."""
    spec, ex = ctx.spec, ctx.ex
    ts = cast(Arg, spec.labels).name
    values = {**ctx.values, ts: np.full_like(ctx.values[ts], IGNORE_LABEL)}
    inputs = [values[a.name].copy() for a in spec.inputs]
    layer = ctx.fresh()
    loss = np.asarray(calling.forward(spec, layer, inputs, None), dtype=np.float64)
    grads = calling.snapshot(calling.backward(spec, layer, calling.copied(ex.dout)))
    finite_nonzero = [
        grad_name(spec, k) for k, g in grads.items() if g is not None and np.isfinite(g).all() and (g != 0).any()
    ]
    non_finite = [grad_name(spec, k) for k, g in grads.items() if g is not None and not np.isfinite(g).all()]
    shown = Example(spec.name, ex.dims, values, ex.dout, ex.seed, ex.dtype)
    if np.isnan(loss).all() and not finite_nonzero:
        return [
            Finding(
                "mask",
                "warn",
                "with every position ignored the loss is 0/0 = nan"
                + (f" (and {', '.join(non_finite)} non-finite)" if non_finite else "")
                + ": the book's and PyTorch's convention; rnnref returns 0 with zero gradients",
                example=shown,
            )
        ]
    problems = [] if np.isfinite(loss).all() and (loss == 0).all() else [f"the loss is {float(loss):.6g}"]
    problems += [f"{name} is non-zero" for name in finite_nonzero] + [f"{name} is non-finite" for name in non_finite]
    if problems:
        return [
            Finding(
                "mask", "fail", f"with every position ignored {' and '.join(problems)} (should be 0)", example=shown
            )
        ]
    return []


# Not -1, so a hard-coded -1 shows; and not PyTorch's -100: code like the book's
# indexes the softmax with the label before masking, which NumPy wraps for labels
# in [-V, 0) (V >= 2 here) but not for -100, a crash that is no wrong gradient.
OTHER_IGNORE_LABEL = -2


def _other_ignore_label(ctx: Context, ignored: np.ndarray) -> list[Finding]:
    """The layer's `ignore_label` attribute, not a hard-coded -1, decides what is ignored."""
    layer = ctx.fresh()
    layer.ignore_label = OTHER_IGNORE_LABEL
    xs, ts = (a.name for a in ctx.spec.inputs)
    ts_other = np.where(ignored, OTHER_IGNORE_LABEL, ctx.values[ts])
    loss = calling.forward(ctx.spec, layer, [ctx.values[xs].copy(), ts_other], None)
    c = compare(loss, ctx.out, ctx.prec.analytic)
    if c.ok:
        return []
    return [
        Finding(
            "mask",
            "fail",
            f"with ignore_label = {OTHER_IGNORE_LABEL} and those labels, the loss is "
            "{1}, not {0}: is the ignore label hard-coded?".format(*pair(float(ctx.out), float(np.asarray(loss)))),
        )
    ]


def check_extreme(ctx: Context) -> list[Finding]:
    """Logits of +-1e4: the loss and its gradient stay finite and right (log-sum-exp)."""
    spec, ex = ctx.spec, ctx.ex
    if spec.kind != "loss" or ctx.oracle is None or spec.labels is None:
        return []  # NegativeSamplingLoss: its first input is h, not logits
    logits, labels = spec.inputs[0], cast(Arg, spec.labels)
    big = make_example(spec, ex.dims, ex.seed, ex.dtype, labels=ctx.values[labels.name], extreme=True)
    big.dout = ex.dout
    layer = ctx.fresh()
    with np.errstate(all="ignore"):  # the layer's own overflow is what we report
        loss = np.asarray(calling.forward(spec, layer, calling.inputs_for(spec, big), None), dtype=np.float64)
        grads = calling.snapshot(calling.backward(spec, layer, calling.copied(ex.dout)))
    if not np.isfinite(loss).all() or not all(np.isfinite(g).all() for g in grads.values() if g is not None):
        return [
            Finding(
                "extreme",
                "warn",
                "logits of +-1e4 give a non-finite loss or gradient (use log-sum-exp: subtract the row max)",
            )
        ]
    ref = ctx.oracle(spec, big.values, ex.dout, ex.dims, ctx.bucket)
    c = compare(loss, ref.out, ctx.prec.analytic)
    conv = None if c.ok else convention_of(ctx, loss, big.values)
    findings = [] if conv is not None else [from_comparison("extreme", "loss", (), c, "the spec with +-1e4 logits")]
    findings.append(
        from_comparison(
            "extreme",
            grad_name(spec, logits.name),
            logits.axes,
            compare(grads[logits.name], ref.grads[logits.name], ctx.prec.analytic),
            "JAX's vjp with +-1e4 logits",
        )
    )
    if conv is not None:
        # The convention is plainest here: the loss stops at -log(1e-7) where the exact one is ~1e4.
        return [Finding("extreme", "warn", f"convention {conv.name}: {conv.message}")] + [
            f for f in findings if f.status != "pass"
        ]
    return _one("extreme", findings, "finite and right with logits of +-1e4")
