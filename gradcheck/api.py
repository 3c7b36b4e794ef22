"""`gradcheck.check(...)`: the Python entry point, for scripts and notebooks.

    import gradcheck
    report = gradcheck.check(TimeRNN)                      # a class defined here (a notebook cell)
    report = gradcheck.check(MyRNN, layers="MyRNN=TimeRNN")  # any name, checked under a known spec
    report = gradcheck.check("my_layers.py")               # a file or module: run in a worker process
    report                                                 # in Jupyter: an HTML table; print(report): text
    assert report.passed

A class or a module object is checked in this process (it already lives here: a
notebook's classes cannot be sent to another process); a layer that calls
sys.exit or hangs then stops the caller too, where `gradcheck check` (and a path
given here) would report it as a crash. A path or module name runs in a worker,
exactly as `gradcheck check` does.

In IPython, `%load_ext gradcheck` (or importing gradcheck inside IPython) adds the
`%gradcheck` line magic: `%gradcheck TimeRNN --layers TimeRNN --profile quick`.
"""

from __future__ import annotations

import shlex
import sys
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .report import Report


def check(
    target: Any,
    *,
    layers: str | list[str] | None = None,
    spec: str | Path | None = None,
    profile: str | None = None,
    max_examples: int | None = None,
    seed: int | None = None,
    strict: bool = False,
    paths: list[str] | None = None,
    save_repro: str | Path | None = None,
) -> Report:
    """Check the layers of `target` and return the Report (`.passed`, `str()`, HTML).

    target: a class, a module object, or a path / module name (as `gradcheck check`).
    layers: which classes, as --layers: "TimeRNN,TimeAffine" or "MyRNN=TimeRNN"
      (a class whose name is not a known layer needs `MINE=KNOWN`).
    spec: a file of user declarations (`gradcheck.declare`), as --spec.
    profile, max_examples, seed, strict, paths, save_repro: as the CLI options.
    """
    # The caller's np.random stream is theirs: JAX's first use moves it (backend
    # start-up), and stochastic layers run with it seeded; it is put back as it was.
    saved = np.random.get_state()  # noqa: NPY002
    try:
        return _check(target, layers, spec, profile, max_examples, seed, strict, paths, save_repro)
    finally:
        np.random.set_state(saved)  # noqa: NPY002


def _check(target, layers, spec, profile, max_examples, seed, strict, paths, save_repro) -> Report:
    from .targets import TargetError, parse_layers

    items = parse_layers(",".join(layers) if isinstance(layers, list) else layers)
    module: ModuleType | None
    if isinstance(target, (str, Path)):
        return _check_path(str(target), items, spec, profile, max_examples, seed, strict, paths, save_repro)
    if isinstance(target, ModuleType):
        module, shown = target, target.__name__
    elif isinstance(target, type):
        module = sys.modules.get(target.__module__)
        if module is None or getattr(module, target.__name__, None) is not target:
            module = ModuleType(target.__module__)  # a class made elsewhere: checked on its own
            setattr(module, target.__name__, target)
        assert module is not None
        shown = target.__qualname__
        if not items:
            from .userspecs import known_specs

            if target.__name__ not in known_specs():
                raise TargetError(
                    f"{target.__name__} is not a known layer's name: say which spec it follows, e.g. "
                    f"gradcheck.check({target.__name__}, layers='{target.__name__}=TimeRNN'), "
                    "or declare it (gradcheck.declare)"
                )
            items = [target.__name__]
    else:
        raise TargetError(f"gradcheck.check: give a class, a module or a path, not {type(target).__name__}")
    return _check_here(module, shown, items, spec, profile, max_examples, seed, strict, save_repro)


def _check_here(module, shown, items, spec, profile, max_examples, seed, strict, save_repro) -> Report:
    from . import profiles
    from .runner import RunOptions, run
    from .targets import discover
    from .userspecs import load_spec_file

    if spec is not None:
        load_spec_file(str(spec))
    found = discover(module, items)
    options = RunOptions(
        profile=profile,
        max_examples=max_examples,
        seed=seed,
        strict=strict,
        replay_command=f"gradcheck.check({shown})",
    )
    with _hypothesis_files_in_cache():
        report = run(found.targets, options)
    report.not_checked = found.not_checked
    report.meta.update(target=shown, profile=profile or profiles.DEFAULT)
    if save_repro is not None:
        _save_all(report, found.targets, None, [], Path(save_repro))
    return report


@contextmanager
def _hypothesis_files_in_cache():
    """Hypothesis's few files under gradcheck's cache, not in the notebook's directory
    (as the worker does), unless the caller chose a home for them; put back after."""
    from hypothesis import configuration

    from .jaxcache import cache_home

    key = "__hypothesis_home_directory"  # module-level: not name-mangled; None = the default .hypothesis
    if vars(configuration).get(key) is not None:
        yield
        return
    configuration.set_hypothesis_home_dir(cache_home() / "hypothesis")
    try:
        yield
    finally:
        configuration.set_hypothesis_home_dir(None)


def _save_all(report: Report, targets, target: str | None, paths: list[str], directory: Path) -> None:
    from .engine import default_oracle
    from .repro import save, where_of
    from .userspecs import spec_named

    for layer, t in zip(report.layers, targets, strict=True):
        if layer.status != "fail":
            continue
        if layer.failing is None:
            layer.repro = "no reproducer: no failing example was kept (a hang?)"
            continue
        module = sys.modules.get(t.factory.__module__)
        file = getattr(module, "__file__", None)
        if target is None and (file is None or t.factory.__module__ == "__main__"):
            layer.repro = (
                "no reproducer: the class was defined in this session, not in a file; "
                "check the file or notebook it is in: gradcheck check FILE --save-repro DIR"
            )
            continue
        where = where_of(target if target is not None else str(file), paths, t.factory)
        cls = t.cls_name or t.name
        _, layer.repro = save(spec_named(t.name), t.factory, cls, layer.failing, default_oracle(), where, directory)


def _check_path(target, items, spec, profile, max_examples, seed, strict, paths, save_repro) -> Report:
    from .supervisor import Session, WorkerError
    from .targets import TargetError

    paths = list(paths or [])
    replay = shlex.join(["gradcheck", "check", target, *(x for p in paths for x in ("--path", p))])
    load = {"target": target, "paths": paths, "layers": items, "spec": str(spec) if spec else None}
    options = {
        "profile": profile,
        "max_examples": max_examples,
        "seed": seed,
        "strict": strict,
        "replay_command": replay,
        "save_repro": str(Path(save_repro).resolve()) if save_repro else None,
    }
    session = Session(load=load, options=options)
    try:
        infos = session.open()
        report = Report([session.run_layer(i) for i in range(len(infos))], strict=strict)
        report.not_checked = session.not_checked
        report.meta.update(target=target, profile=profile)
        return report
    except WorkerError as exc:
        raise TargetError(str(exc)) from None
    finally:
        session.close()


# --- IPython -------------------------------------------------------------------------------------


def gradcheck_magic(line: str, namespace: dict | None = None) -> Report:
    """`%gradcheck NAME [--layers A,MINE=KNOWN] [--profile P] [--max-examples N] [--strict]`:
    NAME is a class of the notebook's namespace, or a path."""
    import argparse

    p = argparse.ArgumentParser(prog="%gradcheck", add_help=False, exit_on_error=False)
    p.add_argument("target")
    p.add_argument("--layers", default=None)
    p.add_argument("--spec", default=None)
    p.add_argument("--profile", default=None)
    p.add_argument("--max-examples", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--strict", action="store_true")
    p.add_argument("--save-repro", default=None)
    args = p.parse_args(shlex.split(line))
    target = (namespace or {}).get(args.target, args.target)
    return check(
        target,
        layers=args.layers,
        spec=args.spec,
        profile=args.profile,
        max_examples=args.max_examples,
        seed=args.seed,
        strict=args.strict,
        save_repro=args.save_repro,
    )


def load_ipython_extension(shell) -> None:
    """`%load_ext gradcheck`: registers `%gradcheck` (IPython calls this; no IPython import here)."""

    def magic(line: str):
        return gradcheck_magic(line, shell.user_ns)

    magic.__doc__ = gradcheck_magic.__doc__
    shell.register_magic_function(magic, magic_kind="line", magic_name="gradcheck")
