"""Protocol invariants of the book's layer protocol (no finite differences needed).

Most read the primary run (checks.setup watches it) or continue on the primary
instance, in the engine's order: repeatable (a second backward), linear in dout
(a third), reuse (other shapes). Only `reuse` builds fresh instances, as the
reference for what the reused one must give.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import calling
from .calling import LayerError
from .checks import Context, differing, grad_name
from .compare import compare, not_greedy
from .examples import Example, make_example
from .findings import Finding
from .specs.base import shape_of, tie


def check_output(ctx: Context) -> list[Finding]:
    """Output shape, type, dtype and finiteness (dtype follows the parameters), and
    the `.dh` a stateful layer must leave after backward."""
    spec, ex = ctx.spec, ctx.ex
    want = shape_of(spec.output_axes, ex.dims)
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
    elif bad := non_finite_grads(ctx):
        findings.append(Finding("output", "fail", f"backward returned non-finite values in {', '.join(bad)}"))
    findings += [Finding("output", "fail", problem) for problem in ctx.not_arrays]
    if ctx.dh_problem is not None:
        findings.append(ctx.dh_problem)
    if not any(f.status == "fail" for f in findings):
        findings.insert(0, Finding("output", "pass", f"shape {want}, finite"))
    if ctx.prec.dtype.itemsize < ctx.requested.itemsize:
        findings.append(
            Finding(
                "dtype",
                "warn",
                f"computes in {ctx.prec.dtype.name} although given {ctx.requested.name} "
                f"(downcast); checked at {ctx.prec.dtype.name} tolerances",
            )
        )
    elif np.issubdtype(out_dtype, np.floating) and out_dtype.itemsize > ctx.requested.itemsize and not spec.sized:
        findings.append(
            Finding(
                "dtype",
                "warn",
                f"output is {out_dtype.name} for {ctx.requested.name} {'parameters' if spec.params else 'inputs'}: "
                f"dtype does not follow the {'parameters' if spec.params else 'inputs'}",
            )
        )
    else:
        findings.append(Finding("dtype", "pass", f"computes in {ctx.prec.dtype.name}"))
    return findings


def non_finite_grads(ctx: Context) -> list[str]:
    """The gradients of the primary backward that hold NaN or inf."""
    return [grad_name(ctx.spec, k) for k, g in ctx.grads.items() if g is not None and not np.isfinite(g).all()]


def check_not_mutated(ctx: Context) -> list[Finding]:
    """forward and backward leave the inputs, the params, the state handed to
    set_state and dout as they were (read from the primary run)."""
    if ctx.mutated:
        return [Finding("not-mutated", "fail", f"modified in place: {', '.join(ctx.mutated)}")]
    return [Finding("not-mutated", "pass", "inputs, params and dout untouched")]


def check_grads_in_place(ctx: Context) -> list[Finding]:
    """backward writes into the arrays of `grads` (same objects, shapes, dtypes as
    params), read from the primary run."""
    spec = ctx.spec
    before, after = calling.untied(spec, ctx.grads_before), calling.untied(spec, ctx.grads_after)
    params = calling.untied(spec, getattr(ctx.layer, "params", None) or [])
    problems = []
    for i, arg in enumerate(ctx.spec.params):
        if i >= len(before) or i >= len(after) or i >= len(params):
            break
        if before[i] is not after[i]:
            problems.append(
                f"grads[{i}] ({grad_name(ctx.spec, arg.name)}) was replaced by a new array; write into it with g[...] = ..."
            )
        p = params[i]
        if not isinstance(after[i], np.ndarray) or after[i].shape != np.shape(p):
            problems.append(f"grads[{i}] has shape {np.shape(after[i])}; params[{i}] has {np.shape(p)}")
    if ctx.spec.kind == "model":
        problems += _model_aliasing(spec, ctx.layer)
    layout = calling.tied_layout(spec, len(ctx.grads_after)) or ()
    if any(ctx.grads_before[p] is not ctx.grads_after[p] for p, _ in layout):
        problems.append("a tied weight's grads entry was replaced by a new array; write into it with g[...] = ...")
    # Weight tying is said in the report, whatever the result.
    # One line a tied param (NegativeSamplingLoss's W has five more entries).
    by_param: dict[str, list[tuple[int, str]]] = {}
    for _, entry in spec.tied:
        by_param.setdefault(tie(entry)[0], [])
    for pos, entry in layout:
        by_param[tie(entry)[0]].append((pos, entry))
    extra = {name: sum(tie(e)[0] == name for _, e in spec.tied) for name in by_param}  # entries beyond the first
    tied = []
    for name, entries in by_param.items():
        if not entries:  # listed once (in this layer's params, whatever the book does)
            uses = f"all {extra[name] + 1} uses" if extra[name] > 1 else "both uses"
            tied.append(
                Finding(
                    "tied",
                    "pass",
                    f"{name} is tied and listed once in params: its grads entry must be the sum of {uses}",
                )
            )
            continue
        (pos, entry), more = entries[0], len(entries) > 1
        if more:  # NegativeSamplingLoss's W: params[1..5] are W too
            where = f"params[{', '.join(str(p) for p, _ in entries)}] are {entry} too"
            how = f"the sum of its {len(entries) + 1} grads entries"
        else:
            where = f"params[{pos}] is {entry}"
            how = f"grads[{pos}]{'.T' if tie(entry)[1] else ''} plus its other entry"
        tied.append(
            Finding(
                "tied",
                "pass",
                f"{name} is tied: {where}; its gradient is checked as {how}, the sum the book's optimizer takes",
            )
        )
    if problems:
        return [Finding("grads-in-place", "fail", "; ".join(problems)), *tied]
    return [Finding("grads-in-place", "pass", "grads written in place"), *tied]


def _model_aliasing(spec, model) -> list[str]:
    """A model's params/grads must be its layers' very arrays (the optimizer updates
    them); a tied weight may be listed once (the layers hold it twice)."""
    layers = list(getattr(model, "layers", [])) + [getattr(model, "loss_layer", None)]
    owned_p = [id(p) for lay in layers if lay is not None for p in getattr(lay, "params", [])]
    owned_g = [id(g) for lay in layers if lay is not None for g in getattr(lay, "grads", [])]
    if spec.tied and not calling.lists_tied(spec, getattr(model, "params", [])):
        owned_p, owned_g = calling.untied(spec, owned_p), calling.untied(spec, owned_g)
    elif spec.tied and len(model.params) != len(owned_p):  # some tied weights listed once: fewer times
        return [
            f"model.{what} are not its layers' {what} arrays"
            for what, mine, owned in (("params", model.params, owned_p), ("grads", model.grads, owned_g))
            if layers[:-1] and not set(map(id, mine)) <= set(owned)
        ]
    problems = []
    if layers[:-1] and [id(p) for p in model.params] != owned_p:
        problems.append("model.params are not its layers' params arrays (in order)")
    if layers[:-1] and [id(g) for g in model.grads] != owned_g:
        problems.append("model.grads are not its layers' grads arrays (in order)")
    return problems


# backward(2 * dout) == 2 * backward(dout) holds bit for bit in a backward that is
# linear in dout and repeatable: scaling by a power of two is exact in binary
# floating point (short of overflow and subnormals), and every operation of such a
# backward (products, sums, division by a count) commutes with it exactly.
EXACT_SCALE = 2.0
# The scale of the fallback linearity check (a tolerance, not bits): not a power of two.
LINEAR_SCALE = 2.5


def check_repeatable(ctx: Context) -> list[Finding]:
    """A second backward after the primary one agrees with it (a backward that
    edits its cache does not). Runs on the primary instance.

    One backward for both this check and linear-in-dout: with EXACT_SCALE * dout.
    When it gives exactly EXACT_SCALE times the primary's gradients the backward
    is repeatable and linear; otherwise a second backward with dout itself tells
    which of the two is broken (and linear-in-dout runs as its own check)."""
    spec = ctx.spec
    scaled = calling.snapshot(calling.backward(spec, ctx.layer, calling.copied(ctx.ex.dout) * EXACT_SCALE))
    if all(g is None or np.array_equal(EXACT_SCALE * g, scaled[k]) for k, g in ctx.grads.items()):  # type: ignore[arg-type]
        ctx.repeatable = True
        ctx.scaled = (EXACT_SCALE, scaled)
        return [Finding("repeatable", "pass", "backward repeatable")]
    second = calling.snapshot(calling.backward(spec, ctx.layer, calling.copied(ctx.ex.dout)))
    # second[k] may be None: array_equal takes it (unequal), numpy's stubs do not.
    diff = [
        grad_name(spec, k)
        for k, g in ctx.grads.items()
        if g is not None and not np.array_equal(g, second[k], equal_nan=True)  # type: ignore[arg-type]
    ]
    ctx.repeatable = not diff
    if diff:
        return [
            Finding(
                "repeatable",
                "warn",
                f"a second backward gives different {', '.join(diff)} (does backward modify its cache or accumulate?)",
            )
        ]
    return [Finding("repeatable", "pass", "backward repeatable")]


def check_linear_in_dout(ctx: Context) -> list[Finding]:
    """backward(c * dout) == c * backward(dout). Read from check_repeatable's
    backward when that was exactly EXACT_SCALE times the primary's; else on the
    primary instance, another backward, when backward is repeatable; else on a
    fresh instance (a backward that edits its cache or accumulates would look
    non-linear: one root cause, named by `repeatable` / `grads-replaced`)."""
    if ctx.scaled is not None:
        c, scaled = ctx.scaled
    elif ctx.repeatable:
        c = LINEAR_SCALE
        scaled = calling.snapshot(calling.backward(ctx.spec, ctx.layer, calling.copied(ctx.ex.dout) * c))
    else:
        c = LINEAR_SCALE
        scaled = ctx.run(ctx.fresh(), dout=ctx.ex.dout * c).grads
    bad = differing(ctx.spec, scaled, ctx.grads, ctx.prec.analytic, scale=c)
    if bad:
        return [
            Finding(
                "linear-in-dout",
                "fail",
                f"backward({c:g} * dout) != {c:g} * backward(dout) for {', '.join(bad)} "
                "(is dout ignored or used non-linearly?)",
            )
        ]
    return [Finding("linear-in-dout", "pass", "backward linear in dout")]


def check_reuse(ctx: Context) -> list[Finding]:
    """One instance, many examples: after the primary example the same instance
    runs a longer example (T+1) and a shorter one (T-1), each with another N (and
    for a layer of two sequences, an example that changes the encoder's length S
    alone: `other_shapes`), then the primary example again, which must give the
    primary run's output and gradients. A crash on the other shapes (that a fresh
    instance does not have) or a different output on the way back means state
    kept from the first call, e.g. per-step layers built once for the first T
    ("reuse"); the same output with other gradients means grads accumulated across
    calls ("grads-replaced"). On each other example a fresh instance runs too
    (unless the layer already failed against the spec), and the reused one must
    give what it gives: a buffer kept for an earlier size need not crash to be
    wrong (`_kept_from_before`)."""
    spec = ctx.spec
    sized = [k for k in ("N", "T", "S") if k in ctx.ex.dims]
    kept, others = _listing(sized, "or"), _listing(sized, "and")  # "N, T or S", "N, T and S"
    for i, other in enumerate(other_shapes(ctx)):
        what = ", ".join(f"{k}={other.dims[k]}" for k in sized)
        inputs = calling.inputs_for(spec, other, other.values)
        state = None if ctx.state is None else other.values[spec.state.name]  # type: ignore[union-attr]
        carry = tuple(other.values[a.name] for a in spec.carry) if ctx.carry else ()
        held = _held_grads(ctx)  # what an accumulating backward would add to
        try:
            reused = ctx.run(ctx.layer, inputs, state, calling.copied(other.dout), carry)
        except LayerError as err:
            try:
                ctx.run(ctx.fresh(), inputs, state, other.dout, carry)
            except LayerError as fresh_err:
                return [
                    Finding("crash", "fail", f"{fresh_err} (on an example with {what}, also on a fresh instance)"),
                    Finding("reuse", "skip", "skipped: see crash"),
                    Finding("grads-replaced", "skip", "skipped: see crash"),
                ]
            return [
                Finding(
                    "reuse",
                    "fail",
                    f"{err}, on a second example with {what} through the same instance (a fresh instance runs "
                    f"it: is something built once for the first {kept}?)",
                ),
                Finding("grads-replaced", "skip", "skipped: see reuse"),
            ]
        # A fresh instance on the same example gives what the same instance must: a
        # buffer kept from an earlier call need not crash to be wrong. (Not for a layer
        # already wrong against the spec: that is its finding, one root cause.) On the
        # first, longer example its forward only: what a layer keeps from a shorter
        # call mostly crashes a longer one's backward, or shows in its output (a loop
        # over the first T), and a backward is most of a run's cost (at H=256, 1.7 of
        # TimeRNN's 1.9 ms); the shorter examples that follow are where a kept buffer
        # fits and is silently wrong, so they get the whole run.
        if ctx.gradient_failed:
            continue
        try:
            if i == 0:
                fresh_out = calling.forward(spec, ctx.fresh(), [x.copy() for x in inputs], state, carry=carry)
                fresh = calling.Run(np.array(fresh_out, dtype=np.float64), {})
            else:
                fresh = ctx.run(ctx.fresh(), inputs, state, calling.copied(other.dout), carry)
        except LayerError as err:
            return [
                Finding("crash", "fail", f"{err} (on an example with {what}, on a fresh instance)"),
                Finding("reuse", "skip", "skipped: see crash"),
                Finding("grads-replaced", "skip", "skipped: see crash"),
            ]
        kept_wrong = _kept_from_before(ctx, reused, fresh, held)
        if kept_wrong:
            return [
                Finding(
                    "reuse",
                    "fail",
                    f"on a second example with {what}, the same instance gives other {', '.join(kept_wrong)} than a "
                    f"fresh instance: state kept from an earlier call (something built for the first {kept}, "
                    "reused at another size?)",
                ),
                Finding("grads-replaced", "skip", "skipped: see reuse"),
            ]
    back = ctx.run(ctx.layer)  # the primary example again, on the same instance
    c = compare(back.out, ctx.out, ctx.prec.analytic)
    if not c.ok:
        return [
            Finding(
                "reuse",
                "fail",
                f"after examples of other {others} through the same instance, the primary example's output differs "
                f"from its first run ({c.ratio:.3g}x the tolerance): state kept from earlier calls?",
                ratio=c.ratio,
            ),
            Finding("grads-replaced", "skip", "skipped: see reuse"),
        ]
    # only the gradients that are not bit for bit the primary's need a tolerance
    first = ctx.grads
    changed = {k: g for k, g in back.grads.items() if g is not None and not np.array_equal(g, first.get(k))}  # type: ignore[arg-type]
    stale = differing(spec, changed, first, ctx.prec.analytic)
    findings = [Finding("reuse", "pass", f"the same instance runs other {others}")]
    if stale:
        findings.append(
            Finding(
                "grads-replaced",
                "fail",
                "after other examples, backward on the first one again leaves stale "
                f"gradients in {', '.join(stale)}: grads must be replaced, not accumulated",
            )
        )
    else:
        findings.append(Finding("grads-replaced", "pass", "each backward replaces the grads"))
    return findings


def _listing(words: Sequence[str], last: str) -> str:
    """["N", "T", "S"], "or" -> "N, T or S"; a single word as it is."""
    return f"{', '.join(words[:-1])} {last} {words[-1]}" if len(words) > 1 else words[0]


def _held_grads(ctx: Context) -> dict[str, np.ndarray]:
    """Copies of the params' gradients the layer holds now, by spec name ({} where
    its grads list does not line up with the spec's params)."""
    glist = getattr(ctx.layer, "grads", None)
    held = calling.untied(ctx.spec, glist) if isinstance(glist, (list, tuple)) else []
    if len(held) != len(ctx.spec.params):
        return {}
    return {
        a.name: np.array(g, dtype=np.float64, copy=True)
        for a, g in zip(ctx.spec.params, held, strict=True)
        if isinstance(g, np.ndarray)
    }


def _kept_from_before(ctx: Context, reused: calling.Run, fresh: calling.Run, previous: dict) -> list[str]:
    """What a reused instance's run gets wrong against a fresh instance's on the same
    example: the output and each gradient, beyond the analytic tolerance. A param's
    gradient that is the fresh one plus what the instance held before the call
    (`previous`: grads accumulated, not replaced) is left to grads-replaced: one
    root cause, one finding."""
    rtol = ctx.prec.analytic
    c = compare(reused.out, fresh.out, rtol)
    wrong = [] if c.ok else [f"output ({c.ratio:.3g}x the tolerance)"]
    accumulated = set()  # previous holds the params' gradients only
    for k, before in previous.items():
        got, want = reused.grads.get(k), fresh.grads.get(k)
        if got is not None and want is not None and before.shape == want.shape and compare(got, want + before, rtol).ok:
            accumulated.add(k)
    return wrong + differing(
        ctx.spec, {k: g for k, g in reused.grads.items() if k not in accumulated}, fresh.grads, rtol
    )


def other_shapes(ctx: Context) -> list[Example]:
    """Examples with the primary's parameters but another batch size and length:
    one step longer than the primary in every length (what a layer built for the
    first T cannot run), then shorter. The batch is 1 (2 when the primary's is 1)
    so that a PTB-size example pays for a thin slice, not a second full pass.

    A layer of two sequences (an attention decoder's T, its encoder's S) gets each
    length changed alone after the longer example: S (to S - 1, or S + 2 at the
    least S), then T - 1, each keeping the other dims of the call before it, so
    that something built for the first S and rebuilt only when N or T change (or
    the reverse) is seen."""
    dims = ctx.ex.dims
    n = 1 if dims["N"] > 1 else 2
    least = dict(ctx.spec.min_dims)  # Seq2seq needs T >= 2
    lengths: list[str] = [k for k in ("T", "S") if k in dims]  # a declared layer may have S alone
    if lengths:
        longer = {**dims, "N": n, **{k: dims[k] + 1 for k in lengths}}
        shapes = [longer]
        if len(lengths) == 2:
            shapes.append({**longer, "S": dims["S"] - 1 if dims["S"] > least.get("S", 1) else dims["S"] + 2})
            if dims["T"] > least.get("T", 1):
                shapes.append({**shapes[-1], "T": dims["T"] - 1})
        elif dims[lengths[0]] > least.get(lengths[0], 1):
            shapes.append({**dims, "N": n, lengths[0]: dims[lengths[0]] - 1})
    else:
        shapes = [{**dims, "N": dims["N"] + 1}, {**dims, "N": n}] if dims["N"] > 1 else [{**dims, "N": 2}]
    out = []
    for i, d in enumerate(shapes):
        # the instance holds the primary's parameters
        params = {arg.name: ctx.values[arg.name] for arg in ctx.spec.params}
        out.append(
            make_example(ctx.spec, d, ctx.ex.seed + 7919 * (i + 1), ctx.ex.dtype, onehot=ctx.ex.onehot, given=params)
        )
    return out


def check_generate(ctx: Context) -> list[Finding]:
    """generate(source, start_id, sample_size) of a model (Seq2seq, ch07: source xs,
    the start id ts' first word) or a decoder (source h, start id xs' first word):
    on the primary instance, from each row of the primary example (generate takes
    one): each call returns sample_size word ids in [0, V), a second call on the
    first row the same ids (greedy decoding from a fixed start id draws nothing),
    and params hold the same arrays with the same values (generating trains
    nothing). Then each id must be an argmax of the spec's scores at its step
    (`Spec.decoding`, padded to the example's bucket as the other checks: one
    compile a bucket), fed the start id and the ids before it: within the analytic
    tolerance (`compare.not_greedy`), so a near-tie between float32 and float64
    scores is no failure, while a generate that decodes from something other than
    what forward does (the encoder's h not fed to every step) is. Every row, as a
    small h may move no argmax on one of them.

    Each row is also generated one word long (sample_size 1) and that word checked
    the same way: greedy decoding's first word does not depend on how many follow,
    while a generate that reads sample_size where it means the source's length (the
    encoder's states cut to sample_size steps, the start state taken at step
    sample_size - 1) decodes its first word from something else at 1 than at T,
    often enough for an argmax to move that a sample of T words alone missed."""
    spec, ex = ctx.spec, ctx.ex
    if not spec.generates:
        return []
    source_arg, fed_arg = spec.generate_inputs  # (Seq2seq's xs, its ts), (a decoder's h, its xs)
    # T ids, so that the ids fed have the example's shape and the spec its padding.
    sources, starts, size = ctx.values[source_arg.name], ctx.values[fed_arg.name][:, 0], ex.dims["T"]
    params = list(getattr(ctx.layer, "params", None) or [])
    before = [np.array(p, copy=True) for p in params]
    problems: list[str] = []
    lengths = tuple(dict.fromkeys((size, 1)))  # T = 1: one run
    runs: dict[int, list[np.ndarray]] = {length: [] for length in lengths}
    for length in lengths:
        for n in range(len(sources)):
            call = f"generate({source_arg.name}[{n}:{n + 1}], {int(starts[n])}, {length})"
            first = calling.method(ctx.layer, "generate", sources[n : n + 1].copy(), int(starts[n]), length)
            ids = np.asarray(first)
            numeric = ids.shape == (length,) and ids.dtype.kind in "iuf"
            if not (numeric and np.all(ids == np.round(ids)) and ids.min() >= 0 and ids.max() < ex.dims["V"]):
                problems.append(f"{call} returned {first!r}: expected {length} word ids in [0, {ex.dims['V']})")
                break
            if n == 0 and length == size:
                second = calling.method(ctx.layer, "generate", sources[:1].copy(), int(starts[0]), size)
                if not np.array_equal(ids, np.asarray(second)):
                    problems.append(f"two calls of {call} differ: {list(first)} then {list(second)}")
                    break
            runs[length].append(ids.astype(np.int64))
        if problems:
            break
    after = list(getattr(ctx.layer, "params", None) or [])
    changed = [
        a.name
        for a, p, q, b in zip(spec.params, params, after, before, strict=False)
        if p is not q or not np.array_equal(q, b)
    ]
    if changed or len(after) != len(params):
        problems.append(f"generate changed params ({', '.join(changed) or 'the list'}): generating must not train")
    elif not problems and ctx.oracle is not None:
        for length in lengths:
            wrong = _not_greedy_by_the_spec(ctx, source_arg.name, fed_arg.name, starts, np.stack(runs[length]))
            if wrong:
                problems.append(wrong)
                break
    if problems:
        return [Finding("generate", "fail", "; ".join(problems))]
    return [Finding("generate", "pass", "generate: word ids, deterministic, greedy by the spec, params untouched")]


def _not_greedy_by_the_spec(ctx: Context, source: str, fed_name: str, starts: np.ndarray, ids: np.ndarray) -> str:
    """The first row of `ids` (N, L: generate's words from each row of the source,
    L of them) with a word that is not an argmax of the spec's scores, fed the
    start id and the words before it, said in a sentence ('' if none)."""
    oracle, length = ctx.oracle, ids.shape[1]
    assert oracle is not None  # the caller's condition
    fed = np.concatenate((starts[:, None], ids[:, :-1]), axis=1)
    scores = oracle.forward(ctx.spec.decoding, {**ctx.values, fed_name: fed}, {**ctx.ex.dims, "T": length}, ctx.bucket)
    for n, (row, row_ids) in enumerate(zip(scores, ids, strict=True)):
        wrong = not_greedy(row, row_ids, ctx.prec.analytic)
        if wrong:
            e = wrong[0]
            step, best = e.index
            return (
                f"generate({source}[{n}:{n + 1}], {int(starts[n])}, {length}) returned "
                f"{list(map(int, row_ids))}: at step {step} it chose {int(row_ids[step])}, whose score "
                f"{e.actual:.6g} is {e.error:.3g} below word {best}'s {e.expected:.6g} (allowed "
                f"{e.allowed:.3g}) by the spec fed the ids before it ({len(wrong)} of {length} steps): "
                "generate does not decode greedily what forward scores (is the encoder's h fed to every "
                "step as in forward? is sample_size read where the source's length is meant?)"
            )
    return ""
