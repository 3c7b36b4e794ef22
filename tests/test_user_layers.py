"""Layers of your own (issue 13): `gradcheck.declare` with and without a JAX
function, in the target or in `--spec FILE`; `gradcheck.check(...)` from Python
with `layers="MINE=KNOWN"`; the report as HTML; the `%gradcheck` magic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_jobs import GC, PYTEST, TIMEOUT, gc_in_process, no_traceback

import gradcheck
import rnnref
from gradcheck.report import CheckSummary, LayerReport, Report
from gradcheck.targets import TargetError
from gradcheck.userspecs import USER_SPECS, DeclarationError, declare

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SHAPES_ONLY = """
import gradcheck

gradcheck.declare("LayerNormShapes", params={"g": "D", "b": "D:bias"}, inputs={"x": "N,D"}, output="N,D",
                  min_dims={"D": 3})
"""


# --- declarations that cannot be checked are refused, with the reason --------------------------


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(name="TimeRNN"), "one of the book's layers"),
        (dict(inputs={"x": "N,Q"}), "use letters of N T S D H V"),
        (dict(inputs={"x": "N,D:weird"}), "kind 'weird'"),
        (dict(params={"g": "D:tokens"}), "not tokens"),
        (dict(output="N,H"), "output axis H"),
        (dict(output=""), "give its axes"),
        (dict(returns=["g"]), "not a float input"),
        (dict(min_dims={"T": 2}), "min_dims T=2"),
        (dict(cell="RNN"), "needs a known layer and a T axis"),
    ],
)
def test_a_declaration_that_cannot_be_checked_says_why(clean_user_specs, kw, message):
    args = dict(name="Mine", params={"g": "D"}, inputs={"x": "N,D"}, output="N,D")
    args.update(kw)
    with pytest.raises(DeclarationError, match=message):
        declare(args.pop("name"), **args)
    assert "Mine" not in USER_SPECS


def test_declared_axes_kinds_and_returns(clean_user_specs):
    s = declare("Mine", params={"W": "D,H", "b": "H"}, inputs={"x": "NTD", "ids": "N,T:tokens"}, output="N,T,H")
    assert [(a.name, a.axes, a.kind) for a in s.args] == [
        ("W", ("D", "H"), "weight"),
        ("b", ("H",), "bias"),
        ("x", ("N", "T", "D"), "float"),
        ("ids", ("N", "T"), "tokens"),
    ]
    assert s.returns == ("x",) and s.letters == ("N", "T", "D", "H", "V")[:4] and not s.padded


# --- the example: caught with the bug, passing without, and with shapes only ----------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The CLI on examples/, started together."""
    tmp = tmp_path_factory.mktemp("user")
    (tmp / "shapes.py").write_text(SHAPES_ONLY)
    shapes = ["--spec", str(tmp / "shapes.py"), "--layers", "LayerNorm=LayerNormShapes"]
    argv = {
        "right": ["layernorm.py"],
        "buggy": ["layernorm_buggy.py"],
        "shapes-right": ["layernorm.py", *shapes],
        "shapes-buggy": ["layernorm_buggy.py", *shapes],
    }
    plugin = [f"--gradcheck-spec={tmp / 'shapes.py'}", "--gradcheck-layers=LayerNorm=LayerNormShapes"]
    argv["plugin-right"] = ["--gradcheck-target=layernorm.py", *plugin]
    argv["plugin-buggy"] = ["--gradcheck-target=layernorm_buggy.py", *plugin]
    procs = {}
    for key, args in argv.items():
        report = tmp / f"{key}.json"
        cmd = [*PYTEST, *args] if key.startswith("plugin") else [*GC, "check", *args, "--json", str(report)]
        procs[key] = (
            subprocess.Popen(cmd, cwd=EXAMPLES, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            report,
        )
    out = {}
    for key, (p, report) in procs.items():
        stdout, stderr = p.communicate(timeout=TIMEOUT)
        out[key] = (subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr), report)
    return out


def _layer(report: Path) -> dict:
    (layer,) = json.loads(report.read_text())["layers"]
    return layer


def _checks(layer: dict) -> dict[str, tuple[str, str]]:
    return {c["check"]: (c["status"], c["message"]) for c in layer["checks"]}


def test_declared_layernorm_passes_every_check(runs):
    r, report = runs["right"]
    no_traceback(r)
    assert r.returncode == 0, r.stdout + r.stderr
    checks = _checks(_layer(report))
    assert {c for c, (s, _) in checks.items() if s != "pass"} == set()
    assert {"forward", "backward-jax", "backward-fd", "not-mutated", "linear-in-dout", "reuse"} <= set(checks)


def test_declared_layernorm_with_a_planted_bug_is_caught_on_dx(runs):
    r, report = runs["buggy"]
    no_traceback(r)
    assert r.returncode == 1
    layer = _layer(report)
    failed = {(f["check"], f["tensor"]) for f in layer["findings"] if f["status"] == "fail"}
    assert {("backward-jax", "dx"), ("backward-fd", "dx")} <= failed
    assert _checks(layer)["forward"][0] == "pass"  # only the backward is wrong
    assert "dx: backward wrong" in r.stdout


def test_shapes_only_declaration_skips_the_jax_comparison_and_says_so(runs):
    r, report = runs["shapes-right"]
    no_traceback(r)
    assert r.returncode == 0, r.stdout + r.stderr
    checks = _checks(_layer(report))
    for name in ("forward", "backward-jax"):
        status, message = checks[name]
        assert status == "skip" and message.startswith("not run: no JAX function to compare with")
    assert checks["backward-fd"][0] == "pass"
    assert "LayerNorm as LayerNormShapes: PASS" in r.stdout


def test_shapes_only_declaration_still_catches_the_bug_by_finite_differences(runs):
    r, report = runs["shapes-buggy"]
    no_traceback(r)
    assert r.returncode == 1
    layer = _layer(report)
    assert {f["tensor"] for f in layer["findings"] if f["check"] == "backward-fd" and f["status"] == "fail"} == {"dx"}
    assert _checks(layer)["backward-jax"][0] == "skip"


def test_pytest_plugin_takes_a_spec_file_and_mine_known(runs):
    right, _ = runs["plugin-right"]
    assert right.returncode == 0 and "1 passed" in right.stdout, right.stdout + right.stderr
    buggy, _ = runs["plugin-buggy"]
    assert buggy.returncode == 1 and "1 failed" in buggy.stdout, buggy.stdout + buggy.stderr
    assert "gradcheck[LayerNorm=LayerNormShapes]" in buggy.stdout and "[backward-fd] dx" in buggy.stdout


def test_spec_file_that_does_not_exist_is_a_usage_error(tmp_path):
    # found before a worker starts: in this process (see gc_in_process)
    r = gc_in_process("check", str(EXAMPLES / "layernorm.py"), "--spec", str(tmp_path / "nope.py"))
    assert r.returncode == 2 and "--spec" in r.stderr and "no such file" in r.stderr


def test_a_bad_declaration_in_the_target_is_an_input_error_naming_its_line(tmp_path):
    (tmp_path / "mine.py").write_text(
        "import gradcheck\n\nclass Mine:\n    pass\n\n"
        'gradcheck.declare("Mine", params={}, inputs={"x": "N,Q"}, output="N")\n'
    )
    r = subprocess.run([*GC, "check", "mine.py"], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
    no_traceback(r)
    assert r.returncode == 2
    assert "DeclarationError: x: axes 'N,Q'" in r.stderr and "mine.py:6" in r.stderr


# --- gradcheck.check from Python ----------------------------------------------------------------


class MyRNN(rnnref.TimeRNN):
    """rnnref's TimeRNN under a name of my own."""


class MyRNNOverwrites(rnnref.TimeRNN):
    def backward(self, dhs):
        dxs = super().backward(dhs)
        self.grads[1][...] = self.layers[0].grads[1]  # BUG: dWh of step 0 only, not the sum
        return dxs


def test_check_a_class_under_another_name_with_layers_mine_known():
    report = gradcheck.check(MyRNN, layers="MyRNN=TimeRNN", max_examples=6)
    assert report.passed, str(report)
    assert [r.label for r in report.layers] == ["MyRNN as TimeRNN"]
    bad = gradcheck.check(MyRNNOverwrites, layers="MyRNNOverwrites=TimeRNN", max_examples=6)
    assert not bad.passed
    assert "dWh" in {f.tensor for f in bad.layers[0].failures}


def test_check_a_class_with_an_unknown_name_says_how_to_name_its_spec():
    with pytest.raises(TargetError, match="layers='MyRNN=TimeRNN'"):
        gradcheck.check(MyRNN, max_examples=2)


def test_check_a_declared_class_in_process(clean_user_specs):
    sys.path.insert(0, str(EXAMPLES))
    try:
        import layernorm_buggy
    finally:
        sys.path.remove(str(EXAMPLES))
    report = gradcheck.check(layernorm_buggy.LayerNorm, max_examples=5)
    assert not report.passed and report.layers[0].checks["backward-jax"].status == "fail"
    assert gradcheck.check(layernorm_buggy.RightLayerNorm, max_examples=5).passed  # its own name: LayerNorm


def test_check_a_path_runs_in_a_worker_with_layers():
    report = gradcheck.check(str(EXAMPLES / "layernorm_buggy.py"), layers="LayerNorm", max_examples=5)
    assert not report.passed and report.layers[0].label == "LayerNorm"


# --- how a report shows --------------------------------------------------------------------------


def test_html_report_highlights_failing_rows_and_escapes_text():
    lr = LayerReport("TimeRNN", examples=3, example="xs <N, T> & more")
    lr.checks = {
        "forward": CheckSummary("forward", "pass", 0.1, ""),
        "backward-jax": CheckSummary("backward-jax", "fail", 5.0, "dWh <wrong> & bad"),
        "dtype": CheckSummary("dtype", "warn", None, "downcast"),
    }
    from gradcheck.findings import Finding

    lr.failures = [Finding("backward-jax", "fail", "dWh <wrong> & bad", tensor="dWh")]
    page = Report([lr])._repr_html_()
    assert '<tr class="gradcheck-fail" style="background:#f8d0d0"><td>backward-jax</td>' in page
    assert '<tr class="gradcheck-pass"><td>forward</td>' in page  # not highlighted
    assert 'class="gradcheck-warn" style="background:#fbefc4"' in page
    assert "dWh &lt;wrong&gt; &amp; bad" in page and "<wrong>" not in page
    assert "xs &lt;N, T&gt; &amp; more" in page
    assert "FAILED: 1 layer, 1 failed" in page
    assert str(Report([lr])) == Report([lr]).render()


def test_magic_registers_on_a_shell_and_checks_a_class_of_its_namespace():
    registered = {}

    class Shell:
        user_ns = {"MyRNN": MyRNN}

        def register_magic_function(self, fn, magic_kind, magic_name):
            registered[magic_name] = (fn, magic_kind)

    gradcheck.load_ipython_extension(Shell())
    fn, kind = registered["gradcheck"]
    assert kind == "line"
    report = fn("MyRNN --layers MyRNN=TimeRNN --max-examples 3")
    assert report.passed and report.layers[0].label == "MyRNN as TimeRNN"


def test_import_gradcheck_registers_the_magic_only_inside_ipython():
    """IPython is not a dependency: a stand-in module plays it, in a fresh process."""
    code = """
import sys, types
calls = []
class Shell:
    user_ns = {}
    def register_magic_function(self, fn, magic_kind, magic_name):
        calls.append(magic_name)
fake = types.ModuleType("IPython")
fake.get_ipython = lambda: Shell()
sys.modules["IPython"] = fake
import gradcheck
assert calls == ["gradcheck"], calls
assert "jax" not in sys.modules  # the magic costs nothing until used
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, gradcheck; assert 'IPython' not in sys.modules and 'jax' not in sys.modules",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, r.stderr


def test_check_from_python_leaves_nothing_in_the_working_directory(tmp_path):
    """A notebook's directory: the layer's module is local code there, whose constants
    Hypothesis would cache in ./.hypothesis."""
    (tmp_path / "mine.py").write_text("import rnnref\n\nclass MyRNN(rnnref.TimeRNN):\n    SCALE = 0.731\n")
    code = "import gradcheck, mine\nassert gradcheck.check(mine.MyRNN, layers='MyRNN=TimeRNN').passed\n"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert r.returncode == 0, r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["mine.py"]  # Hypothesis's files: under ~/.cache/gradcheck
