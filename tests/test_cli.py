"""End-to-end tests of the `gradcheck` command, run as a real subprocess; the usage
errors found before a worker starts (the parser, the option checks) call its `main`
in this process instead (`cli_jobs.gc_in_process`).

The slow commands (those that shrink a failing layer) are all started at once by
the module-scoped `jobs` fixture and collected by the tests that need them, so
the suite's wall time is about that of the slowest command, not their sum.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from cli_jobs import GC, PYTEST, Job, gc_in_process, no_traceback

SEED = Path(__file__).resolve().parent / "seed_notebook.py"

# --- fixture modules ----------------------------------------------------------

BUGGY = """
import numpy as np
import rnnref


class TimeRNN(rnnref.TimeRNN):
    # BUG (on purpose): the grads of each step overwrite those of the later steps
    # instead of being summed over time.
    def backward(self, dhs):
        Wx, Wh, b = self.params
        N, T, H = dhs.shape
        D = Wx.shape[0]
        dxs = np.empty((N, T, D), dtype=dhs.dtype)
        dh = 0
        grads = [0, 0, 0]
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for i, grad in enumerate(layer.grads):
                grads[i] = grad
        for i, grad in enumerate(grads):
            self.grads[i][...] = grad
        self.dh = dh
        return dxs


class TimeAffine(rnnref.TimeAffine):
    pass
"""

CORRECT = """
import rnnref


class TimeAffine(rnnref.TimeAffine):
    pass
"""

FINDINGS = """
import numpy as np
import rnnref


class TimeAffine:  # rejects the book's constructor arguments
    def __init__(self):
        self.params, self.grads = [], []


class TimeEmbedding(rnnref.TimeEmbedding):
    def forward(self, xs):
        raise ValueError("boom in forward")


class Affine(rnnref.Affine):
    def forward(self, x):
        out = super().forward(x)
        return out * np.nan


class RNN(rnnref.RNN):  # correct: still checked, still passes
    pass
"""

HANG = """
import rnnref


class TimeAffine(rnnref.TimeAffine):
    def forward(self, xs):
        while True:
            pass
"""

DOWNCAST = """
import numpy as np
import rnnref


class TimeAffine(rnnref.TimeAffine):
    def forward(self, xs):
        return super().forward(xs).astype(np.float32)
"""

FILES = {
    "buggy.py": BUGGY,
    "correct.py": CORRECT,
    "findings.py": FINDINGS,
    "hang.py": HANG,
    "downcast.py": DOWNCAST,
    "syntax_bad.py": "import rnnref\n\nclass TimeAffine(rnnref.TimeAffine:\n    pass\n",
    "import_bad.py": "import common.time_layers\n\n\nclass TimeAffine:\n    pass\n",
    "no_layers.py": "class Foo:\n    pass\n",
}


# The slow commands, started together. name -> argv (cwd: the fixture directory)
JOBS = {
    # --jobs 1: run's default is a worker per CPU, and xdist already keeps the CPUs busy (jobs: seed_jobs2)
    "run": [*GC, "run", "--layers", "Affine,TimeAffine", "--max-examples", "3", "--jobs", "1"],
    "buggy": [*GC, "check", "buggy.py", "--max-examples", "3", "--json", "buggy1.json", "--junit", "buggy1.xml"],
    "buggy_again": [*GC, "check", "buggy.py", "--max-examples", "3", "--json", "buggy2.json"],
    "seed": [*GC, "check", str(SEED), "--layers", "RNN,TimeRNN,SimpleRnnlm", "--max-examples", "3"],
    "seed_jobs1": [*GC, "check", str(SEED), "--max-examples", "3", "--json", "seedj1.json", "--jobs", "1"],
    "seed_jobs2": [*GC, "check", str(SEED), "--max-examples", "3", "--json", "seedj2.json", "--jobs", "2"],
    "findings": [
        *GC,
        "check",
        "findings.py",
        "--max-examples",
        "3",
        "--json",
        "findings.json",
        "--junit",
        "findings.xml",
    ],
    # 0.1 s rather than 1 s: shrinking replays the hanging example ~100 times (see report).
    "hang": [*GC, "check", "hang.py", "--max-examples", "3", "--timeout", "1"],
    "downcast": [*GC, "check", "downcast.py", "--max-examples", "3"],
    "downcast_strict": [*GC, "check", "downcast.py", "--max-examples", "3", "--strict", "--json", "strict.json"],
    "plugin_buggy": [
        *PYTEST,
        "--gradcheck-target=buggy.py",
        "--gradcheck-layers=TimeRNN",
        "--gradcheck-profile=quick",
    ],
    "plugin_correct": [
        *PYTEST,
        "--gradcheck-target=correct.py",
        "--gradcheck-profile=quick",
    ],
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    for name, text in FILES.items():
        (d / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def jobs(workdir):
    started = {name: Job(argv, workdir) for name, argv in JOBS.items()}
    yield started
    for job in started.values():
        job.close()


def gc(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*GC, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def section(out: str, layer: str) -> str:
    """The table of one layer in the text report (from 'Layer: STATUS' to the next blank/layer line)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{layer}: "))
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(" ")), len(lines))
    return "\n".join(lines[start:end])


# --- 1. run -------------------------------------------------------------------


def test_run_passes(jobs):
    r = jobs["run"].result()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Affine: PASS" in r.stdout and "TimeAffine: PASS" in r.stdout
    assert "check" in r.stdout and "status" in r.stdout and "err/tol" in r.stdout  # the table header
    assert "backward-jax" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("PASSED: 2 layers, 0 failed")
    no_traceback(r)


# --- 2. check on a module with a known bug -----------------------------------


def test_check_buggy_module(jobs):
    r = jobs["buggy"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    assert "TimeRNN: FAIL" in out
    assert "TimeAffine: PASS" in out
    assert "== TimeRNN failed ==" in out
    assert "== TimeAffine failed ==" not in out
    failed = out.split("== TimeRNN failed ==", 1)[1]
    assert "dWx" in failed and "dWh" in failed and "db" in failed
    assert "backward wrong" in failed
    assert "smallest failing example:" in failed
    assert "replay: gradcheck check buggy.py --layers TimeRNN" in failed
    assert "FAILED: 2 layers, 1 failed" in out
    no_traceback(r)


# --- 3. the seed notebook -----------------------------------------------------


def test_seed_notebook_layer_by_layer(jobs):
    r = jobs["seed"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    rnn = section(out, "RNN")
    assert rnn.startswith("RNN: FAIL")
    assert any(line.split()[:2] == ["forward", "fail"] for line in rnn.splitlines()), rnn
    assert "forward wrong" in out
    time_rnn = section(out, "TimeRNN")
    assert time_rnn.startswith("TimeRNN: FAIL")
    assert "AttributeError" in time_rnn
    assert f"{SEED}:151" in time_rnn  # self.layer.append(layer)
    model = section(out, "SimpleRnnlm")
    assert model.startswith("SimpleRnnlm: FAIL")
    assert "parmas" in model and "AttributeError" in model
    assert "FAILED: 3 layers, 3 failed" in out
    no_traceback(r)


# --- 4. bad input: one message on stderr, exit 2 ------------------------------


def usage_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, r.stdout + r.stderr
    no_traceback(r)
    assert r.stdout == ""
    assert r.stderr.startswith("gradcheck: ") or r.stderr.startswith("usage: "), r.stderr
    return r.stderr


def test_no_such_file(workdir):
    err = usage_error(gc(workdir, "check", "nope.py"))
    assert err.strip() == "gradcheck: no such file: nope.py"


def test_no_such_module(workdir):
    err = usage_error(gc(workdir, "check", "no_such_module_xyz"))
    assert "no such file or module: no_such_module_xyz" in err
    assert len(err.strip().splitlines()) == 1


def test_syntax_error_in_target(workdir):
    err = usage_error(gc(workdir, "check", "syntax_bad.py"))
    assert "syntax error in" in err
    assert "syntax_bad.py:3" in err
    assert "class TimeAffine(rnnref.TimeAffine:" in err  # the offending line


def test_import_error_in_target(workdir):
    err = usage_error(gc(workdir, "check", "import_bad.py"))
    assert len(err.strip().splitlines()) == 1
    assert "ModuleNotFoundError" in err and "'common'" in err
    assert "import_bad.py:1" in err
    assert "--path" in err


def test_no_known_class(workdir):
    err = usage_error(gc(workdir, "check", "no_layers.py"))
    assert len(err.strip().splitlines()) == 1
    assert "no class with a known name" in err and "TimeRNN" in err


# In process (gc_in_process) where the parser or the option checks find the error before a
# worker starts; the errors found by the worker (the target's file, import, classes) and
# `python -m` / the console script themselves are run as subprocesses above and below.


def test_unknown_layer(workdir):
    for args in (["run", "--layers", "Foo"], ["check", "correct.py", "--layers", "Foo"]):
        err = usage_error(gc_in_process(*args, cwd=workdir))
        assert len(err.strip().splitlines()) == 1
        assert "unknown layer Foo" in err


def test_layer_not_in_module(workdir):
    err = usage_error(gc(workdir, "check", "correct.py", "--layers", "TimeRNN"))
    assert "has no TimeRNN" in err and "found: TimeAffine" in err


def test_unknown_profile(workdir):
    err = usage_error(gc_in_process("run", "--profile", "nope", cwd=workdir))
    assert "invalid choice: 'nope'" in err


def test_bad_max_examples(workdir):
    err = usage_error(gc_in_process("run", "--max-examples", "0", cwd=workdir))
    assert "--max-examples must be at least 1" in err


# --- 5. per-layer problems are findings ---------------------------------------


def test_per_layer_problems_are_findings(jobs, workdir):
    r = jobs["findings"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    no_traceback(r)
    out = r.stdout
    ctor = section(out, "TimeAffine")
    assert ctor.startswith("TimeAffine: FAIL") and "constructor raised TypeError" in ctor
    raises = section(out, "TimeEmbedding")
    assert raises.startswith("TimeEmbedding: FAIL") and "forward raised ValueError: boom in forward" in raises
    nan = section(out, "Affine")
    assert nan.startswith("Affine: FAIL") and "non-finite" in nan
    assert section(out, "RNN").startswith("RNN: PASS")  # the others are still checked
    assert "FAILED: 4 layers, 3 failed" in out
    report = json.loads((workdir / "findings.json").read_text())
    assert report["passed"] is False
    assert {layer["name"]: layer["status"] for layer in report["layers"]} == {
        "RNN": "pass",
        "Affine": "fail",
        "TimeEmbedding": "fail",
        "TimeAffine": "fail",
    }


def test_hanging_layer_times_out(jobs):
    job = jobs["hang"]
    r = job.result()
    assert r.returncode == 1, r.stdout + r.stderr
    no_traceback(r)
    assert "TimeAffine: FAIL" in r.stdout
    # The time limit fires inside the layer's forward; it must be reported as a
    # hang (not as the layer's own exception) and end the search without shrinking.
    assert "one example took longer than 1 s (does the layer hang?)" in r.stdout
    assert "failing example (not shrunk)" in r.stdout
    assert "FAILED: 1 layer, 1 failed" in r.stdout


# --- 6. JSON and JUnit agree with the exit code -------------------------------


def check_reports(r: subprocess.CompletedProcess, json_path: Path, junit_path: Path) -> None:
    report = json.loads(json_path.read_text())
    assert report["passed"] is (r.returncode == 0)
    assert (report["passed"] is False) == (r.returncode == 1)
    suite = ET.parse(junit_path).getroot()
    assert suite.tag == "testsuite"
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases)
    failures = int(suite.get("failures"))
    assert failures == sum(c.find("failure") is not None for c in cases)
    assert (failures > 0) == (r.returncode == 1)
    # one testcase per layer and check, classname = layer
    expected = {(layer["name"], c["check"]) for layer in report["layers"] for c in layer["checks"]}
    got = [(c.get("classname"), c.get("name")) for c in cases]
    assert len(got) == len(set(got))
    assert set(got) == expected
    for layer in report["layers"]:
        for c in layer["checks"]:
            case = next(x for x in cases if (x.get("classname"), x.get("name")) == (layer["name"], c["check"]))
            assert (case.find("failure") is not None) == (c["status"] == "fail")


def test_json_and_junit_failing(jobs, workdir):
    r = jobs["buggy"].result()
    check_reports(r, workdir / "buggy1.json", workdir / "buggy1.xml")
    report = json.loads((workdir / "buggy1.json").read_text())
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["TimeRNN"]["status"] == "fail" and layers["TimeAffine"]["status"] == "pass"
    assert layers["TimeRNN"]["example"] and layers["TimeRNN"]["replay"]
    suite = ET.parse(workdir / "buggy1.xml").getroot()
    failed = {(c.get("classname"), c.get("name")) for c in suite.iter("testcase") if c.find("failure") is not None}
    assert ("TimeRNN", "backward-jax") in failed
    assert all(cls == "TimeRNN" for cls, _ in failed)


def test_json_and_junit_findings(jobs, workdir):
    check_reports(jobs["findings"].result(), workdir / "findings.json", workdir / "findings.xml")


def test_json_and_junit_passing(workdir):
    r = gc(workdir, "check", "correct.py", "--max-examples", "2", "--json", "out/ok.json", "--junit", "out/ok.xml")
    assert r.returncode == 0, r.stdout + r.stderr
    check_reports(r, workdir / "out/ok.json", workdir / "out/ok.xml")


# --- 7. the ci profile is deterministic ---------------------------------------


def test_ci_profile_same_report_twice(jobs, workdir):
    r1, r2 = jobs["buggy"].result(), jobs["buggy_again"].result()
    assert r1.returncode == r2.returncode == 1
    a = json.loads((workdir / "buggy1.json").read_text())
    b = json.loads((workdir / "buggy2.json").read_text())
    assert a.pop("seconds") >= 0 and b.pop("seconds") >= 0
    # what differs between two runs by design: when, and the command line (report paths)
    for key in ("started", "command"):
        assert a.pop(key) and b.pop(key)
    assert a["profile"] == "ci"
    assert a == b


# --- 8. --strict --------------------------------------------------------------


def test_downcast_is_a_warning(jobs):
    r = jobs["downcast"].result()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TimeAffine: WARN" in r.stdout
    assert any(line.startswith("warning: TimeAffine [dtype]") for line in r.stdout.splitlines()), r.stdout
    assert "PASSED: 1 layer, 0 failed, 1 with warnings" in r.stdout


def test_strict_turns_warning_into_failure(jobs, workdir):
    r = jobs["downcast_strict"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED: 1 layer, 0 failed, 1 with warnings (warnings fail under --strict)" in r.stdout
    assert "[dtype]" in r.stdout.split("== TimeAffine failed ==", 1)[1]
    report = json.loads((workdir / "strict.json").read_text())
    assert report["passed"] is False and report["strict"] is True


# --- 9. help ------------------------------------------------------------------


def test_help(workdir):
    top = gc_in_process("--help", cwd=workdir)
    assert top.returncode == 0
    assert "run" in top.stdout and "check" in top.stdout and "selftest" in top.stdout
    r = gc_in_process("check", "--help", cwd=workdir)
    assert r.returncode == 0, r.stderr
    for opt in ("--layers", "--strict", "--path", "--json", "--junit", "--timeout", "--max-examples", "--profile"):
        assert opt in r.stdout, opt


def test_no_verb(workdir):
    r = gc_in_process(cwd=workdir)
    assert r.returncode == 2
    assert "usage: gradcheck" in r.stdout + r.stderr
    no_traceback(r)


def test_python_m_and_console_script_agree(workdir):
    exe = Path(sys.executable).with_name("gradcheck")
    # pyproject's [project.scripts] installs it beside the interpreter of the venv.
    assert exe.exists(), f"the gradcheck console script is not installed at {exe}"
    r = subprocess.run([str(exe), "check", "nope.py"], cwd=workdir, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip() == "gradcheck: no such file: nope.py"


# --- 10. the pytest plugin ----------------------------------------------------


def test_pytest_plugin_failing_layer(jobs):
    r = jobs["plugin_buggy"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "gradcheck[TimeRNN]" in r.stdout
    assert "1 failed" in r.stdout
    assert "backward wrong" in r.stdout


def test_pytest_plugin_passing_module(jobs):
    r = jobs["plugin_correct"].result()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout


def test_selftest_runs_from_the_command_line_with_every_common_option(tmp_path):
    """The CI command's second half, on two mutants: its parser takes what run and
    check take (a selftest without --no-compile-cache crashed in main once)."""
    out = tmp_path / "selftest.json"
    r = subprocess.run(
        [*GC, "selftest", "--mutants", "rnn-forward-no-bias,loss-all-ignored-nan", "--no-compile-cache", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    no_traceback(r)
    assert "PASSED: 2/2 mutants caught, 0 false alarms" in r.stdout
    data = json.loads(out.read_text())
    assert data["passed"] and {m["name"]: m["caught"] for m in data["mutants"]} == {
        "rnn-forward-no-bias": True,
        "loss-all-ignored-nan": True,
    }
    # the reference, checked for false alarms, on the layers those two mutants were tried on
    assert [layer["name"] for layer in data["reference"]["layers"]] == ["RNN", "TimeSoftmaxWithLoss"]
    assert list(tmp_path.iterdir()) == [out]  # nothing else left in the working directory


WINDOWED_BPTT = '''
import numpy as np
import rnnref


class TimeRNN(rnnref.TimeRNN):
    """Backpropagates through the last 8 steps only: right for T <= 8, wrong beyond."""

    def backward(self, dhs):
        T = dhs.shape[1]
        if T <= 8:
            return super().backward(dhs)
        kept = self.layers
        self.layers = kept[T - 8 :]
        try:
            tail = super().backward(dhs[:, T - 8 :])
        finally:
            self.layers = kept
        dxs = np.zeros((dhs.shape[0], T, self.params[0].shape[0]), dtype=tail.dtype)
        dxs[:, T - 8 :] = tail
        return dxs
'''


def test_max_dims_reaches_a_bug_that_only_shows_on_long_sequences(tmp_path):
    """The default sizes (T <= 5) cannot see BPTT cut off after 8 steps; --max-dims
    T=12 (or the thorough profile) can."""
    (tmp_path / "windowed.py").write_text(WINDOWED_BPTT)
    base = [*GC, "check", "windowed.py", "--max-examples", "20"]
    short = subprocess.run(base, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert short.returncode == 0, short.stdout + short.stderr
    long = subprocess.run([*base, "--max-dims", "T=12"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert long.returncode == 1, long.stdout + long.stderr
    assert "TimeRNN: FAIL" in long.stdout and "--max-dims T=12" in long.stdout  # the replay line keeps it


@pytest.mark.parametrize("bad", ["X=3", "T=0", "T=abc", "V=1", "T=65", "S=0"])
def test_max_dims_rejects_what_it_cannot_draw(bad):
    r = gc_in_process("run", "--max-dims", bad)
    assert r.returncode == 2 and "--max-dims" in r.stderr and "N T S D H V" in r.stderr, r.stderr
    no_traceback(r)


def test_max_dims_bounds_an_attention_encoders_length_apart_from_t():
    """S (the encoder's length) is a letter of its own: bounded by --max-dims S=..
    and drawn apart from T within the bounds."""
    from hypothesis import given, settings

    from gradcheck import strategies as gs
    from gradcheck.cli import _dims

    assert _dims("S=2,T=4") == {"max_S": 2, "max_T": 4}
    seen = set()

    @settings(max_examples=60, derandomize=True, database=None)
    @given(gs.dims(letters="NTS", **_dims("S=2,T=4")))
    def draw(d):
        assert 1 <= d["S"] <= 2 and 1 <= d["T"] <= 4
        seen.add((d["S"], d["T"]))

    draw()
    assert any(s != t for s, t in seen) and any(s == t for s, t in seen)


def test_check_help_names_every_book_layer_gradcheck_knows():
    from gradcheck.cli import _book_names
    from gradcheck.specs import SPECS

    assert _book_names().split(", ") == list(SPECS)


def test_jobs_2_gives_the_same_report_in_the_same_order(jobs, workdir):
    """Layers checked two at a time, each in a worker of its own: the same findings, order and exit code."""
    one, two = jobs["seed_jobs1"].result(), jobs["seed_jobs2"].result()
    assert one.returncode == two.returncode == 1, two.stderr
    r1, r2 = (json.loads((workdir / f).read_text()) for f in ("seedj1.json", "seedj2.json"))
    assert r2["complete"] and len(r2["layers"]) >= 3

    def summary(r):
        return [(x["name"], x["status"], [(c["check"], c["status"]) for c in x["checks"]]) for x in r["layers"]]

    assert summary(r1) == summary(r2)
    no_traceback(two)
