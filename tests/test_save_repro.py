"""`--save-repro DIR` (issue 13): a failing layer's example as a standalone pytest
file + .npz that fails on the same tensor and entries, with only NumPy, pytest and
the user's module, and passes once the bug is fixed."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import buggy_layers as B
import notebooks
import numpy as np
import pytest
import seed_notebook as seed
from cli_jobs import GC, TIMEOUT, gc_in_process, no_traceback

import rnnref
from gradcheck.compare import compare
from gradcheck.examples import make_example
from gradcheck.oracle import Oracle
from gradcheck.repro import case_of
from gradcheck.specs import SPECS

# Runs the reproducer the way a bug report's reader would (pytest, no plugins), then
# asserts that neither JAX nor Hypothesis was imported in that process.
RUNNER = """
import sys, pytest
rc = pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[1]])
leaked = [m for m in ("jax", "hypothesis", "gradcheck") if m in sys.modules]
assert not leaked, f"the reproducer imported {leaked}"
sys.exit(int(rc))
"""


def seed_time_rnn(*fixes) -> str:
    """The seed notebook's RNN and TimeRNN as a module, past its crashes (bias, `dype`,
    `self.layer` fixed): TimeRNN.backward still overwrites the per-step grads."""
    cells = [src for kind, src in notebooks.seed_cells() if kind == "code"][:2]
    src = "import numpy as np\n\n" + "\n\n".join(cells)
    for old, new in (seed.FIX_BIAS, seed.FIX_DYPE, *seed.FIX_SELF_LAYER, *fixes):
        src = src.replace(old, new)
    return src


def run_repro(test: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # as where gradcheck is not installed
    return subprocess.run(
        [sys.executable, "-c", RUNNER, str(test)], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("repro")
    (root / "src").mkdir()
    module = root / "src" / "my_rnn.py"
    module.write_text(seed_time_rnn())
    out, report = root / "bug-report", root / "report.json"
    r = subprocess.run(
        [*GC, "check", "src/my_rnn.py", "--layers", "TimeRNN", "--save-repro", str(out), "--json", str(report)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return root, module, out, r, json.loads(report.read_text())


def test_a_failing_layer_gets_a_reproducer(saved):
    root, _, out, r, report = saved
    no_traceback(r)
    assert r.returncode == 1, r.stderr
    test = out / "test_TimeRNN_repro.py"
    assert sorted(p.name for p in out.iterdir()) == ["TimeRNN_repro.npz", "test_TimeRNN_repro.py"]
    (layer,) = report["layers"]
    assert layer["repro"].startswith(f"reproducer: {test} (run: pytest {test}")
    assert f"reproducer: {test}" in r.stdout
    data = np.load(out / "TimeRNN_repro.npz")
    assert {"param_Wx", "param_Wh", "param_b", "input_xs", "state", "dout", "expected_out", "expected_dWx"} <= set(
        data.files
    )
    source = test.read_text()
    assert "RTOL = " in source and "gradcheck/compare.py: PRECISIONS[" in source  # the number, and where it came from
    imports = {line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"importlib", "importlib.util", "json", "os", "pathlib", "sys", "types", "numpy", "pytest"}


def test_reproducer_fails_on_the_bug_with_the_checkers_tensors_and_entries(saved, tmp_path):
    root, _, out, _, report = saved
    r = run_repro(out / "test_TimeRNN_repro.py", tmp_path)  # from elsewhere: it finds the module by its path
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the reproducer imported" not in r.stdout
    (layer,) = report["layers"]
    failed = [f for f in layer["findings"] if f["check"] == "backward-jax" and f["status"] == "fail"]
    assert {f["tensor"] for f in failed} == {"dWx", "dWh", "db"}  # the seed's bug: weight grads not summed
    for f in failed:
        assert "FAILED" in r.stdout and f"test_equals_the_spec[{f['tensor']}]" in r.stdout
        for e in f["entries"]:  # the same worst entries, with the same expected and actual values
            assert f"{f['tensor']}{e['where']}: expected {e['expected']:.9g}, got {e['actual']:.9g}" in r.stdout
    assert "3 failed, 3 passed" in r.stdout  # out, dxs and dh are right


def test_reproducer_passes_once_the_bug_is_fixed(saved, tmp_path):
    root, module, out, _, _ = saved
    module.write_text(seed_time_rnn(seed.FIX_SUM))
    try:
        r = run_repro(out / "test_TimeRNN_repro.py", tmp_path)
    finally:
        module.write_text(seed_time_rnn())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "6 passed" in r.stdout


def test_reproducers_comparison_is_gradchecks(saved):
    """The file's NumPy comparison says what gradcheck.compare says, on near-misses."""
    _, _, out, _, _ = saved
    spec = importlib.util.spec_from_file_location("repro_under_test", out / "test_TimeRNN_repro.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(0)
    verdicts = set()
    for _ in range(200):
        e = rng.normal(size=(3, 4))
        a = e + rng.normal(size=e.shape) * mod.RTOL * rng.choice([0.1, 1.0, 3.0])
        ok = compare(a, e, mod.RTOL).ok
        assert (mod.differences("x", a, e, ("N", "D")) is None) == ok
        verdicts.add(ok)
    assert verdicts == {True, False}


# --- no reproducer where a forward and backward cannot show the failure -------------------------


def test_reproducer_only_where_output_or_gradients_differ_from_the_spec():
    dims = {"N": 2, "D": 3, "H": 4}
    ex = make_example(SPECS["Affine"], dims, 0)
    assert "equal the spec's" in case_of(SPECS["Affine"], rnnref.Affine, ex, Oracle())
    assert "modified its inputs" in case_of(SPECS["Affine"], B.AffineMutatesInput, ex, Oracle())
    wrong = case_of(SPECS["Affine"], B.AffineDoubleBias, ex, Oracle())
    assert not isinstance(wrong, str) and [m.split()[0] for m in wrong.differing] == ["out", "db"]


def test_save_repro_on_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "taken").write_text("")
    r = gc_in_process("run", "--save-repro", str(tmp_path / "taken"))  # found before a worker starts
    assert r.returncode == 2 and "--save-repro" in r.stderr and "not a directory" in r.stderr


def test_a_notebooks_reproducer_runs_its_cells(tmp_path):
    nb = notebooks.write_notebook(
        tmp_path / "study.ipynb",
        [("markdown", "# RNN\n"), ("code", "%matplotlib inline\n" + seed_time_rnn()), ("code", "%%timeit\n1 +\n")],
    )
    r = subprocess.run(
        [*GC, "check", nb.name, "--layers", "TimeRNN", "--save-repro", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 1, r.stderr
    failed = run_repro(tmp_path / "out" / "test_TimeRNN_repro.py", tmp_path / "out")
    assert failed.returncode == 1 and "3 failed, 3 passed" in failed.stdout, failed.stdout + failed.stderr


def test_gradcheck_check_in_process_saves_a_reproducer_for_a_class_from_a_file(tmp_path):
    import gradcheck

    (tmp_path / "mine_rnn.py").write_text(seed_time_rnn())
    spec = importlib.util.spec_from_file_location("mine_rnn", tmp_path / "mine_rnn.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mine_rnn"] = module
    try:
        spec.loader.exec_module(module)
        report = gradcheck.check(module.TimeRNN, max_examples=20, save_repro=tmp_path / "out")
    finally:
        del sys.modules["mine_rnn"]
    assert report.layers[0].repro.startswith("reproducer: "), report.layers[0].repro
    r = run_repro(tmp_path / "out" / "test_TimeRNN_repro.py", tmp_path)
    assert r.returncode == 1 and "3 failed, 3 passed" in r.stdout, r.stdout + r.stderr


def test_gradcheck_check_in_process_says_why_a_session_class_gets_no_reproducer(tmp_path):
    import gradcheck

    Interactive = type("AffineDoubleBias", (B.AffineDoubleBias,), {"__module__": "__main__"})
    sys.modules["__main__"].AffineDoubleBias = Interactive
    try:
        report = gradcheck.check(
            Interactive, layers="AffineDoubleBias=Affine", max_examples=3, save_repro=tmp_path / "out"
        )
    finally:
        del sys.modules["__main__"].AffineDoubleBias
    assert report.layers[0].repro.startswith("no reproducer: the class was defined in this session")
    assert not (tmp_path / "out").exists()


def test_no_reproducer_for_a_layer_declared_with_shapes_only(clean_user_specs):
    from gradcheck.userspecs import declare

    spec = declare("AffineShapes", params={"W": "D,H", "b": "H"}, inputs={"x": "N,D"}, output="N,H")
    ex = make_example(spec, {"N": 2, "D": 3, "H": 4}, 0)
    assert "declared with shapes only" in case_of(spec, B.AffineDoubleBias, ex, Oracle())
