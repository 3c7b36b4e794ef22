"""Evaluate a spec and its vector-Jacobian product (or its output alone) with JAX,
compiled once per bucket.

JAX compiles a new program for every new shape (a few hundred ms each), so random
shapes would mean a compile per example. Instead every example is padded up to a
fixed *bucket* shape with values that provably leave the real part unchanged
(`Arg.pad`: zero rows and columns of weights and inputs feed nothing into the real
units; padded time steps come after the real ones and get a zero cotangent; padded
vocabulary classes get logit -inf, so probability 0; padded labels are ignored),
then the result is sliced back. One compile per (spec, bucket) instead of per shape.
`property_tests/test_oracle_padding.py` checks padded == unpadded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
# Every oracle result is read at once (np.asarray), so dispatching the computation
# to JAX's own thread only adds a hand-off between threads; on a loaded machine the
# hand-off waits for a scheduler slice. Measured on TimeRNN (2,3,4,5), load ~14 on
# 2 cores: median 0.20 ms per oracle call synchronous, 0.27-2.8 ms asynchronous.
jax.config.update("jax_cpu_enable_async_dispatch", False)

from .specs import Spec  # noqa: E402  (x64 must be on before any JAX array exists)
from .specs.base import axis_terms, shape_of  # noqa: E402

# Dims above this are not padded: a model at PTB size compiles once at its own
# shape rather than computing up to 2x its work per dim (T=35 -> 64) in padding.
PAD_LIMIT = 16


@dataclass
class OracleResult:
    """The spec's output and the gradient of <output, dout> w.r.t. each differentiable arg."""

    out: np.ndarray
    grads: dict[str, np.ndarray]


class Oracle:
    """Compiled evaluation of specs. Counts compiles so benchmarks can report them.

    Two programs per spec, each compiled once per bucket: `__call__` (output and
    vjp) and `forward` (output only: where the gradients are not read it costs
    1/2.6 of the vjp's time for TimeRNN at N=2,T=3,D=4,H=5, 1/4.7 at N=20,T=35,
    D=H=100, 1/9.7 at H=256, and 1/2.9 for SimpleRnnlm at PTB size).
    """

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, str], Callable[..., Any]] = {}
        self.compiles = 0
        self._seen: set[tuple] = set()

    def __call__(
        self,
        spec: Spec,
        values: Mapping[str, np.ndarray],
        dout: np.ndarray | float,
        dims: Mapping[str, int],
        bucket: Mapping[str, int] | None = None,
        dtype: type = np.float64,
    ) -> OracleResult:
        """values: every arg of spec by name (float args are upcast to float64).
        dims: the example's extents by letter. bucket: extents to pad to (default:
        `default_bucket(dims)`). dtype: what the float args are cast to, float64
        except for `rounding` (its own compile)."""
        _float64_on()
        bucket = _bucket_for(dims, bucket, spec) if getattr(spec, "padded", True) else dict(dims)
        args = self._args("vjp", spec, values, dims, bucket, dtype)
        dout_p = _pad(np.asarray(dout), spec.output_axes, dims, bucket, 0.0, True, dtype)
        out, grads = self._function(spec)(args, dout_p)
        out = _unpad(np.asarray(out), spec.output_axes, dims, bucket)
        by_name = {}
        for arg, g in zip(spec.args, grads, strict=True):
            if arg.differentiable:
                by_name[arg.name] = _unpad(np.asarray(g), arg.axes, dims, bucket)
        return OracleResult(out=out, grads=by_name)

    def forward(
        self,
        spec: Spec,
        values: Mapping[str, np.ndarray],
        dims: Mapping[str, int],
        bucket: Mapping[str, int] | None = None,
    ) -> np.ndarray:
        """The spec's output alone: `self(spec, values, dout, dims, bucket).out`
        without the vjp. Same arguments and padding as `__call__`; its own compile."""
        _float64_on()
        bucket = _bucket_for(dims, bucket, spec) if getattr(spec, "padded", True) else dict(dims)
        args = self._args("forward", spec, values, dims, bucket)
        fn = self._compiled.get(("forward", spec.name))
        if fn is None:
            fn = self._compiled["forward", spec.name] = jax.jit(spec.fn)
        return _unpad(np.asarray(fn(*args)), spec.output_axes, dims, bucket)

    def final(
        self,
        spec: Spec,
        values: Mapping[str, np.ndarray],
        dims: Mapping[str, int],
        bucket: Mapping[str, int] | None = None,
    ) -> tuple[np.ndarray, ...]:
        """The state a stateful spec carries on after the sequence: `spec.final`,
        (state, *carry). Padded like the others except in time: padded steps come
        after the real ones and would move the state on. So that T does not compile
        a program per length (a stateful check's chunks have every length from 1 to
        T - 1), the sequence is run in pieces whose lengths are powers of two, each
        starting from the state the one before it left (13 steps: 8, then 4, then 1):
        at most log2(T) + 1 compiles for all lengths up to T."""
        _float64_on()
        assert spec.final is not None, f"{spec.name} has no state"
        if "T" not in dims:
            return self._final(spec, values, dims, bucket)
        state: tuple[np.ndarray, ...] = ()
        start = 0
        for length in _powers_of_two(dims["T"]):
            # the pieces after the first start where the one before ended
            piece = time_steps(spec, values, start, length, state)
            state = self._final(spec, piece, {**dims, "T": length}, bucket)
            start += length
        return state

    def _final(
        self, spec: Spec, values: Mapping[str, np.ndarray], dims: Mapping[str, int], bucket: Mapping[str, int] | None
    ) -> tuple[np.ndarray, ...]:
        assert spec.final is not None
        bucket = {**_bucket_for(dims, bucket, spec), **({"T": dims["T"]} if "T" in dims else {})}
        args = self._args("final", spec, values, dims, bucket)
        fn = self._compiled.get(("final", spec.name))
        if fn is None:
            fn = self._compiled["final", spec.name] = jax.jit(spec.final)
        return tuple(_unpad(np.asarray(s), a.axes, dims, bucket) for s, a in zip(fn(*args), spec.states, strict=True))

    def _args(
        self,
        program: str,
        spec: Spec,
        values: Mapping[str, np.ndarray],
        dims: Mapping[str, int],
        bucket: dict,
        dtype: type = np.float64,
    ) -> list[np.ndarray]:
        """The spec's args padded to the bucket; counts a compile for a new shape."""
        args = [
            _pad(np.asarray(values[a.name]), a.axes, dims, bucket, a.pad, a.differentiable, dtype) for a in spec.args
        ]
        key = (program, spec.name, tuple((a.shape, a.dtype) for a in args))
        if key not in self._seen:
            self._seen.add(key)
            self.compiles += 1
        return args

    def _function(self, spec: Spec):
        fn = self._compiled.get(("vjp", spec.name))
        if fn is None:
            diff = [a.differentiable for a in spec.args]

            def out_and_vjp(args, dout):
                def f(*float_args):
                    it = iter(float_args)
                    return spec.fn(*(next(it) if d else a for a, d in zip(args, diff, strict=True)))

                out, pull = jax.vjp(f, *(a for a, d in zip(args, diff, strict=True) if d))
                gs = iter(pull(dout))
                return out, [next(gs) if d else None for d in diff]

            fn = self._compiled["vjp", spec.name] = jax.jit(out_and_vjp)
        return fn


def _powers_of_two(n: int) -> list[int]:
    """n as a sum of distinct powers of two, largest first: 13 -> [8, 4, 1]."""
    return [1 << k for k in range(n.bit_length() - 1, -1, -1) if n >> k & 1]


def time_steps(
    spec: Spec, values: Mapping[str, np.ndarray], start: int, length: int, states: Sequence[np.ndarray] = ()
) -> dict[str, np.ndarray]:
    """The spec's args for steps [start, start + length) of a sequence: params and
    inputs with a time axis sliced, the others whole; the state (state, *carry) is
    `states` when given, else the one in `values`."""
    out = {}
    for a in (*spec.params, *spec.inputs):
        arr = np.asarray(values[a.name])
        if "T" in a.axes:
            k = a.axes.index("T")
            arr = arr[(slice(None),) * k + (slice(start, start + length),)]
        out[a.name] = arr
    given = states or tuple(values[a.name] for a in spec.states)
    out.update((a.name, v) for a, v in zip(spec.states, given, strict=True))
    return out


def _bucket_for(dims: Mapping[str, int], bucket: Mapping[str, int] | None, spec: Spec) -> dict[str, int]:
    """The bucket to pad to: the given one (default `default_bucket(dims)`), grown
    on any axis where the example is larger; the spec's `unpadded` dims as they are."""
    out = dict(bucket or default_bucket(dims))
    for letter, n in dims.items():
        out[letter] = max(out.get(letter, n), n)
    for letter in spec.unpadded:
        if letter in dims:
            out[letter] = dims[letter]
    return out


def _float64_on() -> None:
    """The oracle is a float64 computation: a checked module that turned JAX's x64
    off (jax.config.update("jax_enable_x64", False)) must not make it float32."""
    if not jax.config.jax_enable_x64:  # type: ignore[attr-defined]
        jax.config.update("jax_enable_x64", True)


def sub_bucket(bucket: Mapping[str, int], dims: Mapping[str, int]) -> dict[str, int]:
    """The bucket for a call smaller than its example (a stateful chunk, a thin
    batch): an extent of at most PAD_LIMIT is padded to the next power of two, at
    least 4 (few buckets, so few compiles; at PTB size each costs about a second),
    where that at least halves the example's extent (at H=256 a 2-step chunk padded
    to the example's 16 steps cost 8x its work); else it keeps the example's (no
    compile)."""
    out = {}
    for k, b in bucket.items():
        n = dims.get(k, b)
        own = max(4, 1 << (int(n) - 1).bit_length())
        out[k] = own if n <= PAD_LIMIT and 2 * own <= b else b
    return out


def default_bucket(dims: Mapping[str, int]) -> dict[str, int]:
    """Round each extent up to a power of two (at least 4) so that nearby shapes share
    a compile; extents above PAD_LIMIT are left as they are."""
    return {k: n if n > PAD_LIMIT else max(4, 1 << (int(n) - 1).bit_length()) for k, n in dims.items()}


def _pad(
    arr: np.ndarray,
    axes: Sequence[str],
    dims: Mapping[str, int],
    bucket: Mapping[str, int],
    fill: float,
    is_float: bool,
    dtype: type = np.float64,
) -> np.ndarray:
    """`arr` padded to the bucket with `fill`. A block axis ("4H": an LSTM's gates
    side by side) is padded block by block, so that each gate keeps its columns; a
    sum axis ("H+D": PeekyDecoder's h next to each word) part by part, so that each
    part keeps its own. An arg already at the bucket's shape (and float64) is
    passed as it is: the compiled call reads it and returns before the layer runs
    again (dispatch is synchronous)."""
    if is_float:
        arr = arr.astype(dtype, copy=False)
    target, _, index = _layout(axes, dims, bucket)
    if arr.shape == target:
        return arr
    padded = np.full(target, fill, dtype=arr.dtype)
    padded[index] = arr
    return padded


def _unpad(arr: np.ndarray, axes: Sequence[str], dims: Mapping[str, int], bucket: Mapping[str, int]) -> np.ndarray:
    """The real part of a result padded to `bucket` (block by block, part by part)."""
    _, real, index = _layout(axes, dims, bucket)
    if arr.shape == real:
        return arr
    return arr[index]


def _layout(
    axes: Sequence[str], dims: Mapping[str, int], bucket: Mapping[str, int]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple]:
    """(the padded shape, the real shape, the index of the real entries in the padded
    array) of `axes` at `dims` padded to `bucket`. Worked out once per axes, dims and
    bucket (`_layout_of`): every oracle call pads and unpads each of its args, and at
    small sizes doing it afresh cost 3/4 of a call (180 of 240 us, TimeRNN at N=2,
    T=3, D=4, H=5)."""
    return _layout_of(tuple(axes), tuple(dims.items()), tuple(bucket.items()))


@functools.lru_cache(maxsize=4096)
def _layout_of(
    axes: tuple[str, ...], dims: tuple[tuple[str, int], ...], bucket: tuple[tuple[str, int], ...]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple]:
    real, padded = dict(dims), dict(bucket)
    return shape_of(axes, padded), shape_of(axes, real), _real(axes, real, padded)


def _real(axes: Sequence[str], dims: Mapping[str, int], bucket: Mapping[str, int]) -> tuple:
    """The index of the real entries in an array padded to `bucket`: a slice per
    axis when they come first, else (a block or part after the first is padded) the
    positions of every axis, for np.ix_. At H=2 padded to 4, "2H" is [0, 1, 4, 5]."""
    index: list[slice | np.ndarray] = []
    for a in axes:
        runs: list[np.ndarray] = []
        start = 0
        for count, letter in axis_terms(a):
            real, padded = (dims[letter], bucket[letter]) if letter else (1, 1)
            for _ in range(count):
                runs.append(np.arange(start, start + real))
                start += padded
        positions = np.concatenate(runs) if runs else np.arange(0)
        contiguous = positions.size == 0 or positions[-1] == positions.size - 1
        index.append(slice(0, positions.size) if contiguous else positions)
    if all(isinstance(i, slice) for i in index):
        return tuple(index)
    return np.ix_(*(np.arange(i.stop) if isinstance(i, slice) else i for i in index))
