"""Your own layers' specs: `gradcheck.declare(...)`, and the one lookup every part
of gradcheck uses for a spec by name (`spec_named`, `known_specs`), so declared
layers join the book's.

    import jax.numpy as jnp
    import gradcheck

    def layer_norm(g, b, x):                       # the meaning, in JAX, float64
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return g * (x - mu) / jnp.sqrt(var + 1e-5) + b

    gradcheck.declare(
        "LayerNorm",
        params={"g": "D", "b": "D:bias"},          # the constructor's arrays, in params order
        inputs={"x": "N,D"},                       # forward's arguments
        output="N,D",
        fn=layer_norm,                             # None: shapes only (finite differences + protocol)
    )

Axes are letters of N T S D H V (batch, time, a second sequence's length (an
encoder's, which the layer reads beside its own T), input width, hidden width, vocabulary),
"N,T,D" or "NTD". A suffix `:kind` says how values are drawn: params default to
`weight` (2+ axes, scaled by 1/sqrt(fan-in)) or `bias` (1 axis); inputs to `float`
(in (-1, 1)); `tokens` are ids in [0, V); `labels` are targets with the book's
ignore_label -1. The layer is built as `Cls(*params)`; forward takes the inputs;
backward(dout) returns the gradients of the float inputs (in order, a tuple when
more than one; `returns=` to say otherwise); grads are written into `.grads` in place.

The oracle pads examples to shared shapes to save JAX compiles, which is exact for
the book's layers but not for a layer that normalizes or reduces over an axis (a
LayerNorm's mean over D): declared specs are evaluated unpadded unless
`padded=True` says padding with zeros (`Arg.pad`) leaves the result unchanged.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from .specs import LETTERS, SPECS, Arg, Spec  # (the names the specs package keeps exporting)

KINDS = ("weight", "table", "bias", "float", "tokens", "labels")


class DeclarationError(ValueError):
    """A declaration that cannot be checked: the message says which part and why."""


@dataclass(frozen=True)
class LayerSpec(Spec):
    """A Spec declared by a user (`declare`). fn may be None (shapes only);
    padded: whether the oracle may pad examples to shared shapes."""

    padded: bool = False
    source: str = ""  # where it was declared (file:line), for messages


USER_SPECS: dict[str, LayerSpec] = {}


def known_specs() -> dict[str, Spec]:
    """The book's specs, then the declared ones, by name."""
    return {**SPECS, **USER_SPECS}


def spec_named(name: str) -> Spec:
    """The spec called `name` (KeyError when there is none)."""
    return USER_SPECS[name] if name in USER_SPECS else SPECS[name]


def _arg(name: str, text: str | Arg, *, param: bool) -> Arg:
    if isinstance(text, Arg):
        return text
    axes_text, _, kind = str(text).partition(":")
    axes = tuple(a for a in axes_text.replace(",", "").replace(" ", "") if a)
    bad = [a for a in axes if a not in LETTERS]
    if bad or not axes and not param:
        raise DeclarationError(f"{name}: axes {text!r}: use letters of {' '.join(LETTERS)}, e.g. 'N,T,D'")
    kind = kind.strip() or ("weight" if param and len(axes) >= 2 else "bias" if param else "float")
    if kind not in KINDS:
        raise DeclarationError(f"{name}: kind {kind!r}: one of {', '.join(KINDS)}")
    if param and kind in ("tokens", "labels"):
        raise DeclarationError(f"{name}: a constructor array is a float array, not {kind}")
    return Arg(name, axes, cast(Any, kind))  # one of KINDS: checked above


def declare(
    name: str,
    *,
    params: Mapping[str, str | Arg],
    inputs: Mapping[str, str | Arg],
    output: str,
    fn: Callable[..., Any] | None = None,
    returns: list[str] | tuple[str, ...] | None = None,
    kind: Literal["layer", "loss"] = "layer",
    cell: str | None = None,
    padded: bool = False,
    min_dims: Mapping[str, int] | None = None,
) -> LayerSpec:
    """Declare layer `name` for gradcheck (see the module docstring); returns its spec.

    params / inputs: name -> axes (with an optional `:kind`), in order.
    output: the output's axes ("" for a loss, which returns a number).
    fn(*params, *inputs) -> output, in JAX; None checks with finite differences
      and the protocol only (the report's forward and backward-jax rows say skipped).
    returns: names of the inputs whose gradients backward returns, in order
      (default: every float input).
    kind: "loss" when forward returns a scalar and backward takes a number.
    cell: a known layer the declared one must equal at T=1 (it needs a T axis).
    min_dims: least extents where the layer means something, e.g. {"D": 3} for a
      LayerNorm: at D=2 its normalized x is +-1 whatever x is, so dx is pure rounding
      (O(1) terms cancelling to ~eps), which no relative tolerance can judge.
    """
    if name in SPECS:
        raise DeclarationError(f"{name} is one of the book's layers; declare yours under another name")
    p = tuple(_arg(n, t, param=True) for n, t in params.items())
    i = tuple(_arg(n, t, param=False) for n, t in inputs.items())
    out_axes = _arg("output", output or "N", param=False).axes if output else ()
    if kind == "loss" and out_axes:
        raise DeclarationError(f"{name}: a loss returns a number: output=''")
    if kind == "layer" and not out_axes:
        raise DeclarationError(f"{name}: output: give its axes, e.g. 'N,H' (or kind='loss')")
    float_inputs = tuple(a.name for a in i if a.differentiable)
    rets = tuple(returns) if returns is not None else float_inputs
    unknown = [r for r in rets if r not in float_inputs]
    if unknown:
        raise DeclarationError(f"{name}: returns {', '.join(unknown)}: not a float input ({', '.join(float_inputs)})")
    used = {a for arg in (*p, *i) for a in arg.axes}
    missing = [a for a in out_axes if a not in used]
    if missing:
        raise DeclarationError(f"{name}: output axis {', '.join(missing)} is not an axis of any param or input")
    if cell is not None and (cell not in known_specs() or "T" not in used):
        raise DeclarationError(f"{name}: cell={cell!r} needs a known layer and a T axis")
    for letter, n in (min_dims or {}).items():
        if letter not in used or not isinstance(n, int) or n < 1:
            raise DeclarationError(f"{name}: min_dims {letter}={n!r}: an axis of the layer and a whole number >= 1")
    if fn is not None and not callable(fn):
        raise DeclarationError(f"{name}: fn must be a JAX function or None")
    frame = sys._getframe(1)
    spec = LayerSpec(
        name,
        params=p,
        inputs=i,
        output_axes=out_axes,
        fn=cast(Any, fn),
        kind=kind,
        returns=rets,
        cell=cell,
        padded=padded,
        min_dims=tuple((min_dims or {}).items()),
        source=f"{frame.f_code.co_filename}:{frame.f_lineno}",
    )
    USER_SPECS[name] = spec
    return spec


def load_spec_file(path: str) -> None:
    """Run a file of declarations (`--spec FILE`); its `declare` calls register them."""
    file = Path(path)
    if not file.is_file():
        raise DeclarationError(f"--spec {path}: no such file")
    module_name = f"gradcheck_userspec_{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file.resolve())
    if spec is None or spec.loader is None:
        raise DeclarationError(f"--spec {path}: cannot load it as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(file.resolve().parent))
    spec.loader.exec_module(module)
