"""Reproducers: a failing layer's example as a standalone pytest file and an .npz.

`save(...)` (the worker calls it for `--save-repro DIR`) runs the layer's primary
forward and backward on the failing example again (`checks.setup`, the same code
as the checks), compares the output and every gradient with the JAX spec at the
tolerance the checks used, and, when something differs, writes

    DIR/test_<Class>_repro.py    imports only NumPy, pytest and the user's module
    DIR/<Class>_repro.npz        params, inputs, state, dout, expected output and gradients

The test file rebuilds the layer as gradcheck does (the book's constructor
protocol), runs forward and backward, and asserts each tensor with the same
comparison (`compare.compare`, written out in NumPy below) and the same tolerance
(the number, with where it came from), naming the tensor and its worst entries.
A failure that is not a difference from the spec on one forward and backward (a
crash, a mutated input, a broken stateful chunk...) gets no reproducer, and the
report says why.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from . import checks
from .calling import Factory, LayerError
from .compare import compare
from .examples import Example
from .oracle import Oracle
from .specs import Arg, Spec
from .specs.base import tie


@dataclass
class Where:
    """How the reproducer imports the user's module: a file, a notebook, or a module
    name, after putting `paths` first on sys.path."""

    file: str | None = None
    notebook: str | None = None
    module: str | None = None
    paths: tuple[str, ...] = ()
    shown: str = ""  # the target as the user gave it


def where_of(target: str | None, paths: list[str], factory: Factory) -> Where:
    """Where for the target of `gradcheck check TARGET --path ...` (None: rnnref)."""
    from .targets import _package_of, looks_like_file

    dirs = tuple(str(Path(p).resolve()) for p in paths)
    if target is None:
        return Where(module=factory.__module__, shown="rnnref")
    if target.endswith(".ipynb"):
        return Where(notebook=str(Path(target).resolve()), paths=dirs, shown=target)
    if looks_like_file(target):
        path = Path(target).resolve()
        package = _package_of(path)
        if package:
            return Where(module=package[1], paths=(str(package[0]), *dirs), shown=target)
        return Where(file=str(path), paths=dirs, shown=target)
    return Where(module=target, paths=(*dirs, os.getcwd()), shown=target)


@dataclass
class Case:
    """One failing forward/backward: the arrays, what was expected, and what differed."""

    arrays: dict[str, np.ndarray]  # for the .npz
    tensors: list[tuple[str, tuple[str, ...]]]  # (name, axes) compared, output first
    rtol: float
    rtol_source: str
    differing: list[str]  # the checker's own message for each tensor that differs


def case_of(spec: Spec, factory: Factory, ex: Example, oracle: Oracle) -> Case | str:
    """The Case for `ex`, or why there is none."""
    if spec.fn is None:
        return f"{spec.name} is declared with shapes only: there are no expected values from a JAX function to save"
    if spec.drawn:
        return (
            f"{spec.name} draws its {', '.join(a.name for a in spec.drawn)} at random in forward: a reproducer would "
            "have to hold np.random fixed and record the draws as gradcheck does; replay with the command above"
        )
    try:
        ctx = checks.setup(spec, factory, ex, oracle)
    except LayerError as err:
        return f"the layer crashes ({err}): a crash replays with the command above, not with a reproducer"
    if ctx.ref is None:
        return "the layer modified its inputs or params in place (not-mutated): compare with the spec not possible"
    arrays: dict[str, np.ndarray] = {}
    for arg in spec.params:
        arrays[f"param_{arg.name}"] = ctx.values[arg.name]
    for arg, x in zip(spec.inputs, ctx.inputs, strict=True):
        arrays[f"input_{arg.name}"] = x
    if ctx.state is not None:
        arrays["state"] = ctx.state
    arrays["dout"] = np.asarray(ex.dout)
    tensors: list[tuple[str, tuple[str, ...]]] = [("out", spec.output_axes)]
    arrays["expected_out"] = np.asarray(ctx.ref.out)
    differing = []
    c = compare(ctx.out, ctx.ref.out, ctx.prec.analytic)
    if not c.ok:
        differing.append(_message("out", spec.output_axes, c))
    for arg in spec.grad_args:
        name = checks.grad_name(spec, arg.name)
        got = ctx.grads.get(arg.name)
        if arg is spec.state and ctx.state is None:  # no set_state(): the checks could not vary h0
            continue
        tensors.append((name, arg.axes))
        arrays[f"expected_{name}"] = np.asarray(ctx.ref.grads[arg.name])
        if got is None:
            differing.append(f"{name} is missing (backward gave None)")
            continue
        c = compare(got, ctx.ref.grads[arg.name], ctx.prec.analytic)
        if not c.ok:
            differing.append(_message(name, arg.axes, c))
    if not differing:
        return (
            "on its failing example the layer's output and gradients equal the spec's: the failure is in "
            "another check (reuse, stateful chunks, masks, ...), which a single forward and backward cannot show"
        )
    dtype = np.dtype(ctx.prec.dtype).name
    source = f"gradcheck/compare.py: PRECISIONS[{dtype}].analytic = 2**12 * eps({dtype}), the layer computes in {dtype}"
    return Case(arrays, tensors, ctx.prec.analytic, source, differing)


def _message(name: str, axes: tuple[str, ...], c) -> str:
    """What the reproducer's assertion says for this tensor (its `differences`)."""
    if c.shape_error:
        return f"{name} has {c.shape_error}"
    worst = "; ".join(f"{name}{e.where(axes)}: expected {e.expected:.9g}, got {e.actual:.9g}" for e in c.worst)
    return f"{name} differs from the spec at {c.bad_count} of {c.size} entries; worst {worst}"


def save(
    spec: Spec, factory: Factory, cls_name: str, ex: Example, oracle: Oracle, where: Where, directory: Path
) -> tuple[Path | None, str]:
    """Write the reproducer of `ex` into `directory`: (path of the test file, a line
    for the report), or (None, why there is none)."""
    case = case_of(spec, factory, ex, oracle)
    if isinstance(case, str):
        return None, f"no reproducer: {case}"
    stem = re.sub(r"\W", "_", cls_name)
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / f"{stem}_repro.npz"
    test = directory / f"test_{stem}_repro.py"
    np.savez(data, **cast(dict[str, Any], case.arrays))  # (mypy reads ** as possibly allow_pickle=)
    test.write_text(_source(spec, cls_name, ex, where, case, data.name), encoding="utf-8")
    return test, f"reproducer: {test} (run: pytest {test}; needs NumPy, pytest and {where.shown} only)"


def _source(spec: Spec, cls_name: str, ex: Example, where: Where, case: Case, data: str) -> str:
    state = cast(Arg, spec.state).name if spec.state is not None and "state" in case.arrays else None
    found = "\n".join("    " + line for line in case.differing)
    settings = {
        "CLASS": cls_name,
        "KIND": spec.kind,
        "PARAMS": [a.name for a in spec.params],
        "INPUTS": [a.name for a in spec.inputs],
        "RETURNS": [checks.grad_name(spec, n) for n in spec.returns],
        "STATE": state,
        "STATEFUL": spec.state is not None,
        "DIMS": dict(ex.dims),
        "SIZES": list(spec.model_sizes(ex.dims)) if spec.sized else [],
        "TIED": [(pos, *tie(entry)) for pos, entry in spec.tied],
        "TENSORS": [(n, list(axes)) for n, axes in case.tensors],
        "MODULE_FILE": where.file,
        "NOTEBOOK": where.notebook,
        "MODULE": where.module,
        "PATHS": list(where.paths),
    }
    lines = "\n".join(f"{k} = {v!r}" for k, v in settings.items())
    return _TEMPLATE.format(
        cls=cls_name,
        target=where.shown,
        found=found,
        settings=lines,
        rtol=repr(case.rtol),
        rtol_source=case.rtol_source,
        data=data,
    )


_TEMPLATE = '''"""Reproducer written by gradcheck for {cls} of {target}.

gradcheck found, on this example:
{found}

Needs only NumPy, pytest and the module: `pytest {{this file}}`. It fails while the
bug is there and passes once it is fixed. The arrays are in {data} next to it.
"""

import importlib
import importlib.util
import json
import os
import pathlib
import sys
import types

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE / {data!r}
{settings}
# The tolerance gradcheck used: {rtol_source}.
RTOL = {rtol}


def load_module():
    """The checked module, imported as gradcheck imported it."""
    for p in reversed(PATHS):
        sys.path.insert(0, p)
    if MODULE is not None:
        return importlib.import_module(MODULE)
    if MODULE_FILE is not None:
        sys.path.insert(0, str(pathlib.Path(MODULE_FILE).parent))
        spec = importlib.util.spec_from_file_location("checked_module", MODULE_FILE)
        module = importlib.util.module_from_spec(spec)
        sys.modules["checked_module"] = module
        spec.loader.exec_module(module)
        return module
    # a notebook: its code cells in order, from its directory, magics and shell lines left out
    module = types.ModuleType("checked_notebook")
    sys.modules["checked_notebook"] = module
    cwd = os.getcwd()
    os.chdir(pathlib.Path(NOTEBOOK).parent)
    sys.path.insert(0, str(pathlib.Path(NOTEBOOK).parent))
    try:
        for cell in json.loads(pathlib.Path(NOTEBOOK).read_text(encoding="utf-8"))["cells"]:
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            if cell.get("cell_type") != "code" or src.lstrip().startswith("%%"):
                continue
            lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines()]
            exec(compile("\\n".join(lines), NOTEBOOK, "exec"), module.__dict__)
    finally:
        os.chdir(cwd)
    return module


def build(cls, data):
    """The layer, built as gradcheck builds it (the book's constructors)."""
    params = [data["param_" + n].copy() for n in PARAMS]
    if SIZES:  # a model, or a layer built from its sizes (Encoder(V, D, H))
        layer = cls(*SIZES)
        for p, v in zip(untied(layer.params), params):
            p[...] = v  # a tied entry shares the memory: written through its param
        return layer
    if STATEFUL:
        layer = cls(*params, stateful=True)
        if not callable(getattr(layer, "set_state", None)):
            layer = cls(*params, stateful=False)  # no set_state(): gradcheck checked it from zeros
        return layer
    return cls(*params)


def untied(seq):
    """params or grads without a tied weight's second entry (when listed twice)."""
    if len(seq) != len(PARAMS) + len(TIED):
        return list(seq)
    return [x for i, x in enumerate(seq) if i not in {{pos for pos, _, _ in TIED}}]


def reset(layer):
    """A model's reset_state(), or each of its stateful layers' (what gradcheck does)."""
    if callable(getattr(layer, "reset_state", None)):
        layer.reset_state()
        return
    parts = list(getattr(layer, "layers", None) or []) + list(vars(layer).values())
    for part in dict((id(p), p) for p in parts if callable(getattr(p, "reset_state", None))).values():
        part.reset_state()


def run():
    """forward and backward on the saved example: every compared tensor by name."""
    data = dict(np.load(DATA))
    layer = build(getattr(load_module(), CLASS), data)
    inputs = [data["input_" + n].copy() for n in INPUTS]
    if KIND == "model":
        reset(layer)
    elif STATE is not None:
        layer.set_state(data["state"].copy())
    dout = data["dout"].copy()
    out = layer.forward(*inputs)
    ret = layer.backward(float(dout) if dout.ndim == 0 else dout)
    got = {{"out": out}}
    if len(RETURNS) == 1:
        got[RETURNS[0]] = ret
    elif RETURNS:
        got.update(zip(RETURNS, ret))
    got.update(zip(["d" + n for n in PARAMS], untied(layer.grads)))
    for pos, name, transposed in TIED if len(layer.grads) == len(PARAMS) + len(TIED) else ():
        # a weight listed twice: its gradient is the sum of its two entries, as gradcheck takes it
        got["d" + name] = got["d" + name] + (layer.grads[pos].T if transposed else layer.grads[pos])
    if STATE is not None and KIND != "model":
        got["dh"] = getattr(layer, "dh", None)
    return data, got


@pytest.fixture(scope="module")
def result():
    return run()


def where(index, axes):
    return "[" + ", ".join(f"{{a.lower()}}={{i}}" for a, i in zip(axes, index)) + "]"


def differences(name, actual, expected, axes, n_worst=3):
    """gradcheck's comparison: entrywise |a - e| <= RTOL * (|e| + scale), scale the
    largest magnitude of either tensor; the worst entries by error / allowed."""
    expected = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if a.shape != expected.shape:
        return f"{{name}} has shape {{a.shape}}, expected {{expected.shape}}"
    if a.size == 0:
        return None
    finite = np.isfinite(a) & np.isfinite(expected)
    same_nonfinite = ~finite & (a == expected)
    scale = max(float(np.max(np.abs(np.where(finite, a, 0)))), float(np.max(np.abs(np.where(finite, expected, 0)))))
    allowed = RTOL * (np.abs(np.where(finite, expected, 0)) + scale)
    err = np.where(finite, np.abs(a - expected), np.where(same_nonfinite, 0.0, np.inf))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(err == 0, 0.0, err / np.where(allowed > 0, allowed, np.finfo(float).tiny))
    bad = ratios > 1
    if not bad.any():
        return None
    order = np.argsort(ratios.ravel(), kind="stable")[::-1][:n_worst]
    worst = "; ".join(
        f"{{name}}{{where(np.unravel_index(k, a.shape), axes)}}: expected {{expected.flat[k]:.9g}}, got {{a.flat[k]:.9g}}"
        for k in order
        if ratios.flat[k] > 0
    )
    return f"{{name}} differs from the spec at {{int(bad.sum())}} of {{a.size}} entries; worst {{worst}}"


@pytest.mark.parametrize("tensor,axes", TENSORS, ids=[t for t, _ in TENSORS])
def test_equals_the_spec(result, tensor, axes):
    data, got = result
    assert got.get(tensor) is not None, f"{{tensor}} is missing (backward gave None)"
    problem = differences(tensor, got[tensor], data["expected_" + tensor], axes)
    assert problem is None, f"{{problem}} (rtol {{RTOL:.3g}})"
'''
