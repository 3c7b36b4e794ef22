"""How the book's protocol is driven: build a layer, run forward, run backward.

Everything that calls code under check goes through here, so that a crash in it
becomes a `LayerError` carrying the exception and the line of the checked code
that raised, never a traceback from gradcheck.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .examples import Example, onehot_labels
from .frames import user_frame_of
from .specs import Spec
from .specs.base import tie


class LayerError(Exception):
    """The checked layer raised (or returned something unusable) during `stage`."""

    def __init__(self, stage: str, exc: BaseException | None, detail: str = "") -> None:
        self.stage, self.exc = stage, exc
        self.where = user_frame_of(exc) if exc is not None else ""
        if exc is None:
            message = f"{stage}: {detail}"
        else:
            message = f"{stage} raised {type(exc).__name__}: {exc}" + (f" ({self.where})" if self.where else "")
        super().__init__(message)


def guarded(stage: str, fn: Callable, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except LayerError:
        raise
    except Exception as exc:  # anything the checked code raises is a finding
        raise LayerError(stage, exc) from exc


def method(layer: Layer, name: str, *args):
    """Call layer.<name>(*args); a missing method is a LayerError that says so, not
    an AttributeError raised from gradcheck's own frame."""
    fn = getattr(layer, name, None)
    if not callable(fn):
        raise LayerError(name, None, f"the layer has no {name}() method")
    return guarded(name, fn, *args)


Layer = Any
"""A user's layer: duck-typed, the book's protocol (forward/backward/params/grads,
reset_state/set_state for stateful layers), so no static type can describe it."""

Factory = Callable[..., Any]
"""Whatever builds a layer: a class or a function with the book's constructor signature."""


@dataclass
class Run:
    """The result of one forward and backward of a layer on an example."""

    out: np.ndarray
    grads: dict[str, np.ndarray | None]  # by spec arg name: params, returned input grads, state


def build(spec: Spec, factory: Factory, ex: Example, *, stateful: bool = True, exact: bool = False) -> Layer:
    """Construct the layer the way the book does and give it the example's params.

    Layers take their arrays (copies, so ours stay pristine); a stateful layer
    without set_state() is built with stateful=False unless `exact`; models are built
    from dims (`spec.sizes`: V, D, H for the language models) and the example's
    values are written into their params in place, cast to the dtype the model chose.
    """
    params = [ex.values[a.name].copy() for a in spec.params]
    if spec.sized:
        layer = guarded("constructor", factory, *spec.model_sizes(ex.dims), *spec.constructor_extra(ex.dims))
        plist = getattr(layer, "params", None)
        if not isinstance(plist, (list, tuple)) or tied_layout(spec, len(plist)) is None:
            n = len(plist) if isinstance(plist, (list, tuple)) else type(plist).__name__
            names = ", ".join(param_names(spec, len(params) + len(spec.tied)))
            also = f" (or {len(params)}, a tied weight listed once)" if spec.tied else ""
            raise LayerError(
                "constructor",
                None,
                f"params holds {n} arrays; the model has {len(params) + len(spec.tied)}{also}: {names}",
            )
        for arg, p, v in zip(spec.params, untied(spec, plist), params, strict=True):
            if not isinstance(p, np.ndarray) or p.shape != v.shape:
                got = p.shape if isinstance(p, np.ndarray) else type(p).__name__
                hint = "".join(
                    f"; a tied weight is listed where the book lists it (params[{pos}] is {entry})"
                    for pos, entry in spec.tied
                )
                raise LayerError("constructor", None, f"params[{arg.name}] is {got}, expected shape {v.shape}{hint}")
            p[...] = v
        if lists_tied(spec, plist):
            _check_tied(spec, plist)
        return layer
    if spec.state is not None:
        layer = guarded("constructor", factory, *params, stateful=stateful)
        if stateful and not exact and not has(layer, "set_state"):
            # No way to give it a state: stateful=False, so every forward starts from
            # zeros (the checks then run from zeros; `stateful` names the gap).
            layer = guarded("constructor", factory, *params, stateful=False)
        return layer
    return guarded("constructor", factory, *params, *spec.constructor_extra(ex.dims))


def tied_layout(spec: Spec, n: int) -> tuple[tuple[int, str], ...] | None:
    """The tied entries (position, what it is) of a params (or grads) list of n
    entries: each tied weight listed as the book lists it (`spec.tied`: BetterRnnlm's
    embed_W.T, CBOW's W_in once per context word and W_out once per EmbeddingDot) or
    once, its entry then the sum, or, where a spec ties several weights, some each
    way (a CBOW with the book's context layers over a loss that lists W_out once).
    None when no such listing has n entries."""
    full = len(spec.params) + len(spec.tied)
    if n == full:
        return spec.tied
    if n == len(spec.params):
        return ()
    if len({tie(entry)[0] for _, entry in spec.tied}) < 2:  # one tied weight: listed one way or the other
        return None
    return _partial_layouts(spec).get(n)


@functools.cache
def _partial_layouts(spec: Spec) -> dict[int, tuple[tuple[int, str], ...]]:
    """Listings where some tied weights are listed as the book lists them and the
    others once, by length (the first in the book's order where two have one)."""
    names = list(dict.fromkeys(tie(entry)[0] for _, entry in spec.tied))
    full = len(spec.params) + len(spec.tied)
    layouts: dict[int, tuple[tuple[int, str], ...]] = {}
    for k in range(len(names) - 1, 0, -1):
        for listed in itertools.combinations(names, k):
            dropped = {pos for pos, entry in spec.tied if tie(entry)[0] not in listed}
            index = {old: new for new, old in enumerate(i for i in range(full) if i not in dropped)}
            kept = tuple((index[pos], entry) for pos, entry in spec.tied if pos not in dropped)
            layouts.setdefault(len(index), kept)
    return layouts


def lists_tied(spec: Spec, seq: Any) -> bool:
    """Whether a params (or grads) list holds a tied weight more than once, as the
    book's BetterRnnlm does (else once, and its grads entry must already be the sum)."""
    return bool(tied_layout(spec, len(seq)))


def untied(spec: Spec, seq: Any) -> list:
    """A layer's params (or grads) list without its tied entries: one per spec param."""
    drop = {pos for pos, _ in tied_layout(spec, len(seq)) or ()}
    return [x for i, x in enumerate(seq) if i not in drop]


def param_names(spec: Spec, n: int) -> list[str]:
    """Names of the n entries of a layer's params list (a tied entry: `embed_W.T`)."""
    tied = dict(tied_layout(spec, n) or ())
    it = iter(a.name for a in spec.params)
    return [tied[i] if i in tied else next(it, f"params[{i}]") for i in range(n)]


def _check_tied(spec: Spec, plist: Any) -> None:
    """Weight tying: each tied entry of params is its param, or its transpose, in the
    same memory (what the book builds: BetterRnnlm's TimeAffine(embed_W.T, b),
    SimpleCBOW's two MatMul(W_in))."""
    by_name = dict(zip((a.name for a in spec.params), untied(spec, plist), strict=True))
    for pos, entry in tied_layout(spec, len(plist)) or ():
        name, transposed = tie(entry)
        p, q = plist[pos], by_name[name]
        view = q.T if transposed else q
        if not (isinstance(p, np.ndarray) and p.shape == view.shape and np.shares_memory(p, q)):
            raise LayerError(
                "tied",
                None,
                f"params[{pos}] must be {entry}, the same memory ({spec.name} ties the weights); "
                "it is a separate array, so the two are trained apart",
            )
        if not np.array_equal(p, view):
            raise LayerError("tied", None, f"params[{pos}] shares memory with {name} but is not {entry}")


def layer_values(spec: Spec, layer: Layer, ex: Example) -> dict[str, np.ndarray]:
    """The example's values as the layer holds them (a model may have cast them
    to float32): the oracle must see the numbers the layer really computes with.
    A model's float inputs are given in the dtype it holds its params in."""
    values = dict(ex.values)
    plist = getattr(layer, "params", None)
    if isinstance(plist, (list, tuple)) and len(untied(spec, plist)) == len(spec.params):
        for arg, p in zip(spec.params, untied(spec, plist), strict=True):
            if isinstance(p, np.ndarray) and p.shape == values[arg.name].shape:
                values[arg.name] = p.copy()
    own = chosen_dtype(spec, layer)
    if own is not None:
        for arg in spec.inputs:
            if arg.differentiable:
                values[arg.name] = values[arg.name].astype(own)
    return values


def chosen_dtype(spec: Spec, layer: Layer) -> np.dtype | None:
    """The dtype a layer built from sizes (a model, ch07's Encoder, ch08's
    AttentionDecoder) holds its params in, which it chooses: its float inputs
    (TwoLayerNet's x) and an array dout are given in it, as its own caller would,
    not in the example's (a float64 decoder handed a float32 dscore would sum it in
    float32 and be judged at float64's tolerance). None for other layers."""
    if not spec.sized:
        return None
    plist = getattr(layer, "params", None)
    held = [p.dtype for p in plist or () if isinstance(p, np.ndarray) and np.issubdtype(p.dtype, np.floating)]
    return held[0] if held else None


def inputs_for(spec: Spec, ex: Example, values: Mapping[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """forward's positional arguments (copies), labels one-hot if the example says so."""
    values = values or ex.values
    out = []
    for arg in spec.inputs:
        v = values[arg.name].copy()
        if arg.onehot_ok and ex.onehot:
            v = onehot_labels(v, ex.dims["V"])
        out.append(v)
    return out


def forward(
    spec: Spec,
    layer: Layer,
    inputs: list[np.ndarray],
    state: np.ndarray | None,
    *,
    copy_state: bool = True,
    carry: tuple[np.ndarray, ...] = (),
) -> Any:
    """Run forward from `state` (TimeRNN: set_state(h); TimeLSTM: set_state(h, *carry);
    a model: reset_state to zeros). copy_state=False hands `state` itself to
    set_state (to see whether it is mutated)."""
    if spec.kind == "model":
        reset(layer)
    elif spec.state is not None and state is not None:
        method(layer, "set_state", state.copy() if copy_state else state, *(c.copy() for c in carry))
    return packed(spec, method(layer, "forward", *inputs))


def packed(spec: Spec, out: Any) -> Any:
    """A cell with several results (LSTM: h_next, c_next) returns a tuple; the checks
    see them as the blocks of one array along the last axis, as the spec does."""
    if not spec.outputs:
        return out
    names = ", ".join(spec.outputs)
    if not isinstance(out, (tuple, list)) or len(out) != len(spec.outputs):
        raise LayerError("forward", None, f"returned {type(out).__name__}; expected a tuple ({names})")
    if not all(isinstance(o, np.ndarray) for o in out) or len({o.shape for o in out}) != 1:
        got = ", ".join(getattr(o, "shape", type(o).__name__).__str__() for o in out)
        raise LayerError("forward", None, f"returned ({got}); expected ({names}), arrays of one shape")
    return np.concatenate(out, axis=-1)


def unpacked(spec: Spec, dout: object) -> tuple:
    """backward's arguments: the upstream gradient, split per result for a cell with several."""
    if not spec.outputs or not isinstance(dout, np.ndarray):
        return (dout,)
    return tuple(np.split(dout, len(spec.outputs), axis=-1))


def backward(spec: Spec, layer: Layer, dout: object) -> dict[str, object]:
    """Run backward; map what it returns, its grads, and `.dh` to spec arg names."""
    ret = method(layer, "backward", *unpacked(spec, dout))
    grads: dict[str, object] = {}
    if len(spec.returns) == 1:
        grads[spec.returns[0]] = ret
    elif len(spec.returns) > 1:
        # A list unpacks like a tuple in the book's `dx, dh = layer.backward(...)`.
        if not isinstance(ret, (tuple, list)) or len(ret) != len(spec.returns):
            raise LayerError(
                "backward",
                None,
                f"returned {type(ret).__name__}; expected a tuple ({', '.join('d' + n for n in spec.returns)})",
            )
        grads.update(zip(spec.returns, ret, strict=True))
    glist = getattr(layer, "grads", None)
    if glist is None and spec.params:
        raise LayerError(
            "backward",
            None,
            f"the layer has no `grads` list; the book's protocol keeps `params` and `grads` lists "
            f"({', '.join(a.name for a in spec.params)}; d{', d'.join(a.name for a in spec.params)}), "
            "which optimizers and models read: attributes such as self.dW are not",
        )
    # A tuple of arrays written in place works with the book's optimizers too.
    plist = getattr(layer, "params", None)
    n_params = len(plist) if isinstance(plist, (list, tuple)) else len(spec.params)
    if not isinstance(glist, (list, tuple)) or len(glist) != n_params:
        n = len(glist) if isinstance(glist, (list, tuple)) else type(glist).__name__
        raise LayerError(
            "backward", None, f"grads holds {n} arrays; expected {n_params} ({', '.join(param_names(spec, n_params))})"
        )
    for arg, g in zip(spec.params, untied(spec, glist), strict=True):
        grads[arg.name] = g
    for pos, entry in tied_layout(spec, len(glist)) or ():
        # The gradient of a tied weight is the sum of its entries (the book's optimizer
        # sums duplicates, `remove_duplicate` in common/trainer.py).
        name, transposed = tie(entry)
        g, other = glist[pos], grads[name]
        if not isinstance(g, np.ndarray) or not isinstance(other, np.ndarray):
            raise LayerError("backward", None, f"grads[{pos}] ({entry}) has shape {np.shape(g)}")
        g = g.T if transposed else g
        if g.shape != other.shape:
            raise LayerError("backward", None, f"grads[{pos}] ({entry}) has shape {np.shape(glist[pos])}")
        grads[name] = other + g
    if spec.state is not None and spec.kind != "model":
        # None when backward left no `.dh`: check_output names it, the checks skip it.
        grads[spec.state.name] = getattr(layer, "dh", None)
    return grads


def dh_candidates(spec: Spec, layer: Layer, N: int, H: int) -> dict[str, np.ndarray]:
    """When `.dh` is not an array after backward: the layer's other attributes
    that could be the state gradient under another name (`d...`, shape (N, H))."""
    if spec.state is None or spec.kind == "model" or isinstance(getattr(layer, "dh", None), np.ndarray):
        return {}
    return {
        k: v
        for k, v in vars(layer).items()
        if isinstance(v, np.ndarray) and k.startswith("d") and k != "dh" and v.shape == (N, H)
    }


def has(layer: Layer, name: str) -> bool:
    return callable(getattr(layer, name, None))


def reset(layer: Layer) -> None:
    """A model's reset_state(); a model without one gets each of its stateful
    layers reset instead (what the book's reset_state does), so that the checks
    of its gradients still start every forward from zeros."""
    if has(layer, "reset_state"):
        method(layer, "reset_state")
        return
    parts = list(getattr(layer, "layers", None) or []) + list(vars(layer).values())
    # a layer both in `layers` and an attribute (the book's rnn_layer) is reset once
    for part in {id(p): p for p in parts if has(p, "reset_state")}.values():
        method(part, "reset_state")


def copied(x):
    """A copy of an array argument (dout may also be a plain number)."""
    return x.copy() if isinstance(x, np.ndarray) else x


def snapshot(grads: Mapping[str, object]) -> dict[str, np.ndarray | None]:
    """Copies of gradients, for comparing across calls."""
    return {k: np.array(v, dtype=np.float64, copy=True) if v is not None else None for k, v in grads.items()}


def objective(
    spec: Spec, layer: Layer, inputs: list[np.ndarray], state: np.ndarray | None, dout, carry: tuple = ()
) -> Callable[[], tuple[float, float]]:
    """f() = <forward output, dout> and sum |out * dout|, for finite differences.
    `inputs` and `state` are the very arrays the probes edit in place."""
    d = np.asarray(dout, dtype=np.float64)

    def f() -> tuple[float, float]:
        out = np.asarray(forward(spec, layer, inputs, state, carry=carry), dtype=np.float64)
        if out.shape != d.shape:
            raise LayerError("forward", None, f"returned shape {out.shape}; expected {d.shape}")
        terms = out * d
        return float(np.sum(terms)), float(np.sum(np.abs(terms)))

    return f
