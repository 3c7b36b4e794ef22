"""pytest plugin (registered through the pytest11 entry point).

Two ways to gate a project's CI on gradcheck:

1. On the command line, no test code at all:
       pytest --gradcheck-target=my_layers.py [--gradcheck-layers=TimeRNN,TimeAffine]
   adds one test per layer found in the target.

2. One line in the project's own test suite:
       from gradcheck.pytest_plugin import gradcheck_tests
       test_my_layers = gradcheck_tests("my_layers.py")

`--gradcheck-layers` / `layers=` take `A,B` and `MINE=KNOWN` (check class MINE under
the spec of KNOWN); `--gradcheck-spec FILE` / `spec=` a file of declarations of your
own layers (`gradcheck.declare`). A failing layer's test fails with gradcheck's report for that
layer (verdict, tensor, entries, the smallest example).

The layers run as under `gradcheck check`: in a worker process (one per target,
reused from test to test), never in pytest's own process. A layer that kills its
worker (sys.exit, os._exit, a segfault, out of memory) or overruns its time is a
failed test that says how; the next test gets a fresh worker. Nothing heavy is
imported until a gradcheck test actually runs.
"""

from __future__ import annotations

import shlex

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "check hand-written layers with gradcheck")
    group.addoption(
        "--gradcheck-target",
        default=None,
        metavar="TARGET",
        help="a .py file or module whose book-named layers get one test each",
    )
    group.addoption(
        "--gradcheck-layers", default=None, metavar="A,B", help="only these layers; MINE=KNOWN checks MINE as KNOWN"
    )
    group.addoption("--gradcheck-profile", default=None, metavar="NAME", help="quick | ci | thorough (default ci)")
    group.addoption("--gradcheck-path", action="append", default=[], metavar="DIR", help="prepend DIR to sys.path")
    group.addoption("--gradcheck-strict", action="store_true", help="warnings fail too")
    group.addoption(
        "--gradcheck-spec", default=None, metavar="FILE", help="a file of layer declarations (gradcheck.declare)"
    )


class GradcheckItem(pytest.Item):
    def __init__(self, *, target: str, layer: str, options: dict, **kw) -> None:
        super().__init__(**kw)
        self.target, self.layer, self.options = target, layer, options

    def runtest(self) -> None:
        check_target(self.target, self.layer, **self.options)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, GradcheckFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.target, None, f"gradcheck[{self.layer}]"


class GradcheckFailure(AssertionError):
    """A layer failed gradcheck; the message is its report."""


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    target = config.getoption("--gradcheck-target")
    if not target:
        return
    layers = _layers(config.getoption("--gradcheck-layers"))
    paths = config.getoption("--gradcheck-path")
    spec = config.getoption("--gradcheck-spec")
    options = dict(
        profile=config.getoption("--gradcheck-profile"),
        paths=paths,
        strict=config.getoption("--gradcheck-strict"),
        spec=spec,
    )
    for name in _found_layers(target, layers, paths, spec):
        items.append(
            GradcheckItem.from_parent(session, name=f"gradcheck[{name}]", target=target, layer=name, options=options)
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    for s in _SESSIONS.values():
        s.close()
    _SESSIONS.clear()


def _layers(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


# Supervised workers by (target, paths, layers loaded), reused by the tests of their
# layers (the one that listed the layers at collection runs them too); closed at exit.
_SESSIONS: dict = {}


def _session(target: str, paths: list[str], layers: list[str] | None, spec: str | None = None):
    """The open session for the target loaded with `layers` (WorkerError if it cannot load)."""
    from .supervisor import Session

    key = (target, tuple(paths), tuple(layers or ()), spec)
    if key not in _SESSIONS:
        with_spec = ["--spec", spec] if spec else []
        replay = shlex.join(["gradcheck", "check", target, *(x for p in paths for x in ("--path", p)), *with_spec])
        load = {"target": target, "paths": list(paths), "layers": layers, "spec": spec}
        s = Session(load=load, options={"replay_command": replay})
        try:
            s.open()
        except BaseException:
            s.close()
            raise
        _SESSIONS[key] = s
    return _SESSIONS[key]


def _found_layers(target: str, layers: list[str] | None, paths: list[str], spec: str | None = None) -> list[str]:
    """The layers of `target` to check, as --layers items (`TimeRNN`, `Mine=TimeRNN`);
    loaded in a worker, never in this process."""
    from .supervisor import WorkerError

    try:
        return [i.layers_arg for i in _session(target, list(paths), layers, spec).layers]
    except WorkerError as exc:
        raise pytest.UsageError(f"gradcheck: {exc}") from None


def check_target(
    target: str,
    layer: str,
    *,
    profile: str | None = None,
    paths: list[str] | None = None,
    strict: bool = False,
    max_examples: int | None = None,
    spec: str | None = None,
) -> None:
    """Run gradcheck on one layer of `target` (`TimeRNN` or `Mine=TimeRNN`) in a
    worker process; raise GradcheckFailure with the report."""
    from .report import Report
    from .supervisor import WorkerError

    paths = list(paths or [])
    # A worker that already has the layer (the one of collection, say); else one with the
    # target's default layers; else one loading just this layer (an imported class, MINE=KNOWN).
    opened = [s for (t, p, _, sp), s in _SESSIONS.items() if t == target and list(p) == paths and sp == spec]
    loaders = [lambda s=s: s for s in opened] + [
        lambda: _session(target, paths, None, spec),
        lambda: _session(target, paths, [layer], spec),
    ]
    error: WorkerError | None = None
    for load in loaders:
        try:
            s = load()
        except WorkerError as exc:
            error = exc
            continue
        # By the exact --layers item: `TimeAffine` is the file's class TimeAffine, never
        # another class checked under that spec (`Mine=TimeAffine`).
        index = next((i for i, info in enumerate(s.layers) if info.layers_arg == layer), None)
        if index is not None:
            break
    else:
        raise GradcheckFailure(f"gradcheck: {error or f'{target} has no layer {layer}'}")
    options = {"profile": profile, "strict": strict, "max_examples": max_examples}
    report = Report([s.run_layer(index, options)], strict=strict)
    if not report.passed:
        raise GradcheckFailure(report.render())


def gradcheck_tests(
    target: str,
    *,
    layers: list[str] | None = None,
    profile: str | None = None,
    paths: list[str] | None = None,
    strict: bool = False,
    max_examples: int | None = None,
    spec: str | None = None,
):
    """A pytest test function, parametrized over the layers of `target`:
    `test_layers = gradcheck_tests("my_layers.py")` in a test module; `spec` is a
    file of declarations (`gradcheck.declare`), as `gradcheck check --spec`."""
    names = _found_layers(target, layers, paths or [], spec)

    @pytest.mark.parametrize("layer", names)
    def test_gradcheck(layer: str) -> None:
        check_target(target, layer, profile=profile, paths=paths, strict=strict, max_examples=max_examples, spec=spec)

    return test_gradcheck
