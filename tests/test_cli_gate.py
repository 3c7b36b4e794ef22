"""The gate never lies (issue 10): whatever the checked code does (exit, os._exit,
segfault, hang, eat memory, print, raise KeyboardInterrupt), `gradcheck` ends with
the right exit code and a valid report that says what happened.

Each case is a small target written into a temporary directory and a real
`gradcheck` subprocess; all are started at once by the module-scoped `jobs`
fixture, so the suite pays about the slowest one (the limit cases, ~10-15 s).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from cli_jobs import GC, PYTEST, Job, gc_in_process, no_traceback


def layer(body: str, extra: str = "") -> str:
    """A target: a TimeAffine whose forward runs `body` (rnnref's otherwise)."""
    return (
        "import ctypes, os, sys, time\nimport numpy as np\nimport rnnref\n\n\n"
        "class TimeAffine(rnnref.TimeAffine):\n    def forward(self, xs):\n"
        + textwrap.indent(textwrap.dedent(body).strip(), "        ")
        + "\n        return super().forward(xs)\n"
        + textwrap.dedent(extra)
    )


FILES = {
    "exit0.py": layer("sys.exit(0)"),
    "osexit0.py": layer("os._exit(0)"),
    "exit3.py": layer("sys.exit(3)"),
    "osexit5.py": layer("os._exit(5)"),
    # the segfault kills the worker during TimeAffine; RNN, after it, needs a fresh one
    "segv.py": layer("ctypes.string_at(0)", "\n\nclass RNN(rnnref.RNN):\n    pass\n"),
    "kbint.py": layer("raise KeyboardInterrupt"),
    # slow and wrong, at D > 1 only: a crash on an example of the least dims would end
    # shrinking there (runner._Least), before any budget
    "slowfail.py": layer("if xs.shape[2] > 1:\n    time.sleep(5)\n    raise ValueError('slow and wrong')"),
    "hang.py": layer(
        "while True:\n    try:\n        while True:\n            pass\n    except:  # noqa: E722\n        pass"
    ),
    # np.empty: address space, not touched pages (the cap is on address space; touching
    # 3 GB over and over costs seconds of page faults, too slow beside the other jobs)
    "eat.py": layer("keep = []\nwhile True:\n    keep.append(np.empty(10**8))"),
    "sleepy.py": layer("time.sleep(100)", "\n\nclass RNN(rnnref.RNN):\n    pass\n"),
    # 81 lines per forward from print, os.write and C (libc's puts), then a wrong output
    "chatty.py": layer(
        "for i in range(40):\n    print('py line', i)\n    os.write(1, b'fd line %d\\n' % i)\n"
        "ctypes.CDLL(None).puts(b'c line')\nreturn super().forward(xs) + 1.0"
    ),
    "quiet_chatty.py": layer("print('hello from forward')"),
    "my layers.py": layer("return super().forward(xs) * 2.0"),
    "my_layers.py": layer("pass"),
    "cupy_user.py": "import cupy\n",
    "float_.py": "import numpy as np\n\nDTYPE = np.float_\n",
    # issue 9: what a target defines is checked; imports and look-alikes are listed
    "mixed.py": "import rnnref\nfrom my_layers import TimeAffine as Imported  # noqa: F401\nfrom rnnref import RNN\n\n\n"
    "class TimeEmbedding(rnnref.TimeEmbedding):\n    pass\n\n\n"
    "class SimpleRNNLM(rnnref.SimpleRnnlm):\n    pass\n\n\n"
    "class Fast_TimeAffine(rnnref.TimeAffine):\n    pass\n",
    # a right class checked as TimeAffine, and the file's own TimeAffine, wrong (db doubled)
    "two_affines.py": "import rnnref\n\n\nclass Mine(rnnref.TimeAffine):\n    pass\n\n\n"
    "class TimeAffine(rnnref.TimeAffine):\n    def backward(self, dout):\n"
    "        dx = super().backward(dout)\n        self.grads[1][...] *= 2\n        return dx\n",
    # found by an adversarial review: user code that breaks the worker, not its own checks
    "argv_parse.py": "import argparse\n\nARGS = argparse.ArgumentParser().parse_args()\n\n" + layer("pass"),
    "tee_stdout.py": "import sys\n\n\nclass Tee:\n    def __init__(self, s):\n        self.s = s\n\n"
    "    def write(self, t):\n        return self.s.write(t)\n\n\nsys.stdout = Tee(sys.stdout)\n\n" + layer("pass"),
    "fd0_closer.py": "import os\nimport rnnref\n\n\nclass TimeEmbedding(rnnref.TimeEmbedding):\n"
    "    def backward(self, dout):\n        try:\n            os.close(0)\n        except OSError:\n            pass\n"
    "        return super().backward(dout)\n\n\nclass TimeAffine(rnnref.TimeAffine):\n    pass\n",
    "sigusr.py": layer("os.kill(os.getppid(), __import__('signal').SIGUSR1)"),
    "pkg/__init__.py": "",
    "pkg/base.py": "import rnnref\n\n\nclass Base(rnnref.TimeAffine):\n    pass\n",
    "pkg/mod.py": "from .base import Base\n\n\nclass TimeAffine(Base):\n    pass\n",
    "nsp/base.py": "import rnnref\n\n\nclass Base(rnnref.TimeAffine):\n    pass\n",
    "nsp/mod.py": "from .base import Base\n\n\nclass TimeAffine(Base):\n    pass\n",
}

ME = ["--max-examples", "3"]
JOBS: dict[str, tuple[list[str], str]] = {  # name -> (argv, cwd relative to the work dir)
    "exit0": ([*GC, "check", "exit0.py", *ME, "--json", "exit0.json"], "."),
    "osexit0": ([*GC, "check", "osexit0.py", *ME, "--json", "stale.json", "--junit", "stale.xml"], "."),
    "exit3": ([*GC, "check", "exit3.py", *ME, "--json", "exit3.json"], "."),
    "osexit5": ([*GC, "check", "osexit5.py", *ME, "--json", "osexit5.json"], "."),
    "segv": ([*GC, "check", "segv.py", *ME, "--json", "segv.json"], "."),
    "kbint": ([*GC, "check", "kbint.py", *ME, "--json", "kbint.json"], "."),
    # 20 s: the first example (D = 1, correct) must finish before the budget even when
    # the suite's other jobs load the machine; the failing ones (D > 1) take 5 s each
    "slowfail": ([*GC, "check", "slowfail.py", *ME, "--budget", "20", "--json", "slowfail.json"], "."),
    "hang": ([*GC, "check", "hang.py", *ME, "--timeout", "1", "--json", "hang.json"], "."),
    "eat": ([*GC, "check", "eat.py", *ME, "--budget", "8", "--memory-limit", "3000", "--json", "eat.json"], "."),
    "chatty": ([*GC, "check", "chatty.py", "--max-examples", "2", "--json", "chatty.json"], "."),
    "show_output": ([*GC, "check", "quiet_chatty.py", "--max-examples", "2", "--show-output"], "."),
    "spaces": ([*GC, "check", "my layers.py", "--max-examples", "2", "--json", "spaces.json"], "."),
    "module_name": ([*GC, "check", "my_layers", "--max-examples", "2", "--json", "module.json"], "."),
    "package": ([*GC, "check", "pkg/mod.py", "--max-examples", "2"], "."),
    "mixed": ([*GC, "check", "mixed.py", "--max-examples", "2", "--json", "mixed.json"], "."),
    "lookalike": ([*GC, "check", "mixed.py", "--layers", "SimpleRNNLM=SimpleRnnlm,RNN", "--max-examples", "2"], "."),
    "plugin_crash": (
        [*PYTEST, "--gradcheck-target=osexit0.py"],
        ".",
    ),
    "argv_parse": ([*GC, "check", "argv_parse.py", *ME, "--json", "argv.json"], "."),
    "tee_stdout": ([*GC, "check", "tee_stdout.py", *ME, "--json", "tee.json"], "."),
    "fd0_closer": ([*GC, "check", "fd0_closer.py", *ME, "--json", "fd0.json"], "."),
    "sigusr": ([*GC, "check", "sigusr.py", *ME, "--json", "sigusr.json"], "."),
    "plugin_two_affines": (
        [*PYTEST, "--gradcheck-target=two_affines.py", "--gradcheck-layers=Mine=TimeAffine,TimeAffine"],
        ".",
    ),
    "plugin_lookalike": (
        [
            *PYTEST,
            "--gradcheck-target=mixed.py",
            "--gradcheck-layers=SimpleRNNLM=SimpleRnnlm",
            "--gradcheck-profile=quick",
        ],
        ".",
    ),
}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("gate")
    for name, text in FILES.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text, encoding="utf-8")
    # a report from an earlier, passing run: it must not survive a crash
    (d / "stale.json").write_text(json.dumps({"passed": True, "layers": []}), encoding="utf-8")
    (d / "stale.xml").write_text('<testsuite name="gradcheck" tests="0" failures="0"/>', encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def env(work) -> dict:
    # Hypothesis's files go under the cache directory, never into the working directory.
    return {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}


@pytest.fixture(scope="module")
def jobs(work, env):
    started = {
        name: Job([a.format(work=work) for a in argv], work if cwd == "." else Path(cwd), env)
        for name, (argv, cwd) in JOBS.items()
    }
    yield started
    for job in started.values():
        job.close()


def gc(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*GC, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def report(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) >= {"passed", "complete", "layers", "target", "command", "started", "versions", "profile"}
    assert set(data["versions"]) >= {"gradcheck", "numpy", "jax", "hypothesis", "python"}
    return data


def layer_seconds(r: subprocess.CompletedProcess, name: str = "TimeAffine") -> float:
    """The layer's wall time, from its progress line on stderr (`TimeAffine: fail (3 examples, 8.1 s)`).
    The whole command adds the worker's start, which this suite's parallel jobs slow down;
    benchmarks/README.md has the three cases timed alone."""
    found = re.search(rf"^{name}: \w+ \(\d+ examples, ([0-9.]+) s\)$", r.stderr, re.M)
    assert found, r.stderr
    return float(found.group(1))


def crash(data: dict, name: str = "TimeAffine") -> str:
    """The crash finding's message of layer `name`."""
    layer = next(x for x in data["layers"] if x["name"] == name)
    assert layer["status"] == "fail"
    messages = [f["message"] for f in layer["findings"] if f["check"] == "crash"]
    assert messages, layer
    return messages[0]


# --- the layer ends the process -------------------------------------------------


@pytest.mark.parametrize(
    ("job", "says"),
    [
        ("exit0", "the layer called sys.exit(0) at"),
        ("exit3", "the layer called sys.exit(3) at"),
        ("osexit5", "the worker process exited with code 5: the layer called os._exit(5) at"),
        ("kbint", "the layer raised KeyboardInterrupt at"),
    ],
)
def test_layer_exiting_is_a_crash_finding(jobs, work, job, says):
    r = jobs[job].result()
    assert r.returncode == 1, r.stdout + r.stderr
    no_traceback(r)
    data = report(work / f"{job}.json")
    assert data["passed"] is False and data["complete"] is True
    message = crash(data)
    assert says in message and f"{job}.py:" in message  # the user's file and line
    assert "FAILED: 1 layer, 1 failed" in r.stdout


def test_os_exit_0_fails_and_replaces_a_stale_passing_report(jobs, work):
    r = jobs["osexit0"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    no_traceback(r)
    data = report(work / "stale.json")
    assert data["passed"] is False and data["complete"] is True
    assert data["target"] == "osexit0.py" and "--json stale.json" in data["command"]
    message = crash(data)
    assert "exited with code 0: the layer called os._exit(0) at" in message
    assert "during example 1 of 3" in message and "in check" in message
    suite = ET.parse(work / "stale.xml").getroot()
    assert int(suite.get("failures")) >= 1
    assert not list(work.glob(".stale.json.*.tmp"))  # written through a temporary file, renamed


def test_segfault_is_a_crash_finding_and_the_next_layer_still_runs(jobs, work):
    r = jobs["segv"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    no_traceback(r)
    data = report(work / "segv.json")
    message = crash(data)
    assert "killed by signal SIGSEGV" in message
    assert "segv.py:" in message and "ctypes.string_at(0)" in message  # from the worker's faulthandler
    assert {x["name"]: x["status"] for x in data["layers"]} == {"RNN": "pass", "TimeAffine": "fail"}


# --- limits -------------------------------------------------------------------


def test_slow_failure_stops_shrinking_at_the_budget(jobs, work):
    r = jobs["slowfail"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    assert layer_seconds(r) < 20 + 10
    assert "shrinking stopped at the budget of 20 s (--budget); smallest failing example so far:" in r.stdout
    layer = report(work / "slowfail.json")["layers"][0]
    assert "budget" in layer["stopped"] and layer["example"].startswith("TimeAffine example")
    assert "slow and wrong" in crash(report(work / "slowfail.json"))


def test_bare_except_hang_is_killed_at_the_time_limit(jobs, work):
    r = jobs["hang"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    no_traceback(r)
    assert layer_seconds(r) < 1 + 10
    message = crash(report(work / "hang.json"))
    assert "did not stop when interrupted" in message and "limit hit: --timeout 1" in message


def test_memory_eater_hits_the_memory_cap(jobs, work):
    r = jobs["eat"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    no_traceback(r)
    assert layer_seconds(r) < 8 + 10
    message = crash(report(work / "eat.json"))
    assert "MemoryError" in message or "SIGKILL" in message
    assert "memory cap of 3000 MB" in message or "out of memory" in message


# --- Ctrl-C -----------------------------------------------------------------------


# gradcheck as a terminal starts it: with SIGINT's default action. A suite run in the
# background (`cmd &` in a non-interactive shell, nohup) ignores SIGINT, and an ignored
# signal stays ignored across exec, so the Ctrl-C below would never reach gradcheck.
WITH_SIGINT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])",
]


def test_ctrl_c_exits_130_with_a_partial_report(work, env):
    proc = subprocess.Popen(
        [*WITH_SIGINT, *GC, "check", "sleepy.py", "--json", "int.json", "--junit", "int.xml"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until RNN is done and the sleeping layer runs
        time.sleep(0.2)
        if (work / "int.json").exists() and json.loads((work / "int.json").read_text())["layers"]:
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err
    last = err.strip().splitlines()[-1]
    assert last.startswith("gradcheck: interrupted after 1 of 2 layers; partial report in int.json")
    data = report(work / "int.json")
    assert data["complete"] is False and data["passed"] is False
    assert [x["name"] for x in data["layers"]] == ["RNN"] and data["not_run"] == ["TimeAffine"]
    assert "TimeAffine:" not in out  # nothing of it in the table
    assert "INCOMPLETE" in out
    assert int(ET.parse(work / "int.xml").getroot().get("failures")) == 1  # the layer not run


# --- usage errors: exit 2 before anything runs -------------------------------------


@pytest.mark.parametrize(
    ("args", "extra_env", "says"),
    [
        (["--json", "/proc/x.json"], {}, "--json /proc/x.json: cannot write there"),
        (["--junit", "pkg"], {}, "--junit pkg: is a directory"),
        (["--timeout", "-1"], {}, "argument --timeout: must be a finite number"),
        (["--timeout", "nan"], {}, "argument --timeout: must be a finite number"),
        (["--budget", "inf"], {}, "argument --budget: must be a finite number"),
        ([], {"HYPOTHESIS_PROFILE": "nonsense"}, "HYPOTHESIS_PROFILE=nonsense: unknown profile"),
    ],
)
def test_bad_option_is_a_usage_error(work, args, extra_env, says):
    """Found by the option checks before a worker starts: in this process (see gc_in_process)."""
    r = gc_in_process("check", "my_layers.py", *args, cwd=work, env=extra_env)
    assert r.returncode == 2, r.stdout + r.stderr
    no_traceback(r)
    assert r.stdout == "" and says in r.stderr


# --- the layer's output --------------------------------------------------------------


def test_layer_output_is_captured_and_shown_for_a_failing_layer(jobs, work):
    r = jobs["chatty"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    head, _, tail = out.partition("-- the layer's output (last 50 of ")
    assert tail, out
    assert "py line" not in head and "fd line" not in head and "c line" not in head  # nothing interleaved
    shown = [line for line in tail.splitlines() if line.startswith("  | ")]
    assert len(shown) == 50
    assert any("py line 39" in x for x in shown) and any("fd line 39" in x for x in shown)
    assert any("c line" in x for x in shown)  # C stdio too
    assert len(layer_output(work / "chatty.json").splitlines()) == 50


def layer_output(path: Path) -> str:
    return report(path)["layers"][0]["output"]


def test_passing_layer_output_is_hidden_unless_show_output(jobs, work):
    r = jobs["show_output"].result()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hello from forward" not in r.stdout and "hello from forward" in r.stderr
    quiet = jobs["module_name"].result()  # my_layers.py prints nothing; nor does the report
    assert "the layer's output" not in quiet.stdout


def test_no_files_left_in_the_working_directory(jobs, work):
    for name in ("exit0", "chatty", "module_name"):
        jobs[name].result()
    assert not (work / ".hypothesis").exists()
    assert not list(work.glob("gradcheck-*"))


def test_replay_line_is_shell_quoted_and_replays(jobs, work, env):
    r = jobs["spaces"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if x.strip().startswith("replay: "))
    argv = shlex.split(line.strip().removeprefix("replay: "))
    assert argv[:3] == ["gradcheck", "check", "my layers.py"]
    assert report(work / "spaces.json")["layers"][0]["replay"].startswith(line.strip().removeprefix("replay: "))
    again = subprocess.run([*GC, *argv[1:]], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "TimeAffine: FAIL" in again.stdout


# --- loading as a user expects --------------------------------------------------------


def test_module_name_resolves_from_the_current_directory(jobs, work):
    r = jobs["module_name"].result()
    assert r.returncode == 0, r.stdout + r.stderr
    assert report(work / "module.json")["layers"][0]["status"] == "pass"


def test_file_in_a_package_is_imported_as_part_of_it(jobs):
    r = jobs["package"].result()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TimeAffine: PASS" in r.stdout


def load_error(work: Path, name: str, r: subprocess.CompletedProcess) -> str:
    """A load error: exit 2, one message on stderr, and a report that says so."""
    assert r.returncode == 2 and r.stdout == "", r.stdout + r.stderr
    no_traceback(r)
    data = report(work / name)
    assert data["complete"] is False and data["passed"] is False and data["layers"] == []
    assert r.stderr.strip() == f"gradcheck: {data['error']}"
    return r.stderr


def test_relative_import_outside_a_package_names_the_module_form(work, env):
    err = load_error(work, "nsp.json", gc(work, "check", "nsp/mod.py", "--json", "nsp.json", env=env))
    assert "nsp/mod.py:1" in err
    assert f"gradcheck check nsp.mod --path {work}" in err


def test_missing_optional_import_does_not_suggest_path_when_given(work, env):
    r = gc(work, "check", "cupy_user.py", "--path", "pkg", "--json", "cupy.json", env=env)
    err = load_error(work, "cupy.json", r)
    assert "No module named 'cupy'" in err and "cupy_user.py:1" in err
    assert "add --path" not in err and "not installed" in err


@pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.0.0", reason="np.float_ exists before NumPy 2")
def test_error_raised_inside_numpy_names_the_users_line(work, env):
    err = load_error(work, "float_.json", gc(work, "check", "float_.py", "--json", "float_.json", env=env))
    assert "float_.py:3" in err and "DTYPE = np.float_" in err
    assert "numpy/__init__.py" not in err


# --- which classes are checked (issue 9) ---------------------------------------------------


def test_only_defined_classes_are_checked_imports_and_lookalikes_listed(jobs, work):
    r = jobs["mixed"].result()
    assert r.returncode == 0, r.stdout + r.stderr
    data = report(work / "mixed.json")
    assert [x["name"] for x in data["layers"]] == ["TimeEmbedding"]
    notes = {n["class"]: n["reason"] for n in data["not_checked"]}
    assert set(notes) == {"RNN", "SimpleRNNLM"}  # Fast_TimeAffine is no look-alike; Imported no book name
    assert notes["RNN"].startswith("imported from rnnref")
    assert "looks like SimpleRnnlm, use --layers SimpleRNNLM=SimpleRnnlm" in notes["SimpleRNNLM"]
    assert "not checked: SimpleRNNLM: not checked: looks like SimpleRnnlm" in r.stdout


def test_layers_mine_equals_known_checks_a_lookalike(jobs):
    r = jobs["lookalike"].result()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "RNN: PASS" in r.stdout and "SimpleRNNLM as SimpleRnnlm: PASS" in r.stdout
    assert "not checked" not in r.stdout


def test_no_known_class_lists_what_was_found(work, env):
    r = gc(work, "check", "pkg/base.py", env=env)
    assert r.returncode == 2 and r.stdout == ""
    assert "no class with a known name defined in pkg.base" in r.stderr and "found classes Base" in r.stderr


# --- the pytest plugin ---------------------------------------------------------------------


def test_plugin_worker_crash_is_a_failure_not_a_pass(jobs):
    r = jobs["plugin_crash"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed" in r.stdout and "passed" not in r.stdout.splitlines()[-1]
    assert "exited with code 0" in r.stdout


@pytest.mark.parametrize("name", ["argv_parse", "tee_stdout", "sigusr"])
def test_correct_layer_whose_module_pokes_at_the_process_still_passes(jobs, work, name):
    """argparse at import (the worker's argv must not leak), sys.stdout replaced by an
    object without flush, SIGUSR1 sent to gradcheck: none of it is the layer's bug."""
    r = jobs[name].result()
    assert r.returncode == 0, r.stdout + r.stderr
    no_traceback(r)
    data = report(work / ({"argv_parse": "argv", "tee_stdout": "tee", "sigusr": "sigusr"}[name] + ".json"))
    assert data["passed"] and data["complete"] and [x["status"] for x in data["layers"]] == ["pass"]


def test_a_layer_that_breaks_the_worker_after_it_finished_is_blamed_not_the_next(jobs, work):
    r = jobs["fd0_closer"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    data = report(work / "fd0.json")
    assert {x["name"]: x["status"] for x in data["layers"]} == {"TimeEmbedding": "fail", "TimeAffine": "pass"}
    (emb,) = [x for x in data["layers"] if x["name"] == "TimeEmbedding"]
    assert any("before the next layer started" in f["message"] for f in emb["findings"])


def test_plugin_runs_each_layer_under_its_own_test_id(jobs):
    """`gradcheck[TimeAffine]` is the file's TimeAffine (wrong), not `Mine` checked as
    TimeAffine (right): once the first passed for the second."""
    r = jobs["plugin_two_affines"].result()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED ::gradcheck[TimeAffine]" in r.stdout
    assert "1 failed, 1 passed" in r.stdout


def test_plugin_checks_a_lookalike_named_with_mine_equals_known(jobs):
    r = jobs["plugin_lookalike"].result()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout


@pytest.mark.parametrize(("sig", "code", "how"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_selftest_interrupted_exits_with_the_signals_code_and_no_traceback(tmp_path, sig, code, how):
    """The selftest runs in this process, not a worker: Ctrl-C and SIGTERM must still
    end it as they end run and check (a one-line message and 130 / 143)."""
    proc = subprocess.Popen(
        [*WITH_SIGINT, *GC, "selftest", "--json", "self.json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)  # past the imports, into the reference's layers
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert "Traceback" not in out + err
    assert err.strip().splitlines()[-1] == f"gradcheck: selftest {how}; no report written"
    assert not (tmp_path / "self.json").exists()


class _InterruptedImport:
    """A module whose first use raises what Ctrl-C would raise there (or SIGTERM's
    handler): as if the signal came while the command imports JAX, which takes a
    second or more under load (the test above once sent it then)."""

    def __init__(self, exc: type[BaseException]) -> None:
        self.exc = exc

    def __getattr__(self, name: str):
        if name.startswith("__"):  # what tools scanning sys.modules read (__file__, __spec__)
            raise AttributeError(name)
        raise self.exc()


@pytest.mark.parametrize("verb", ["selftest", "run", "check"])
@pytest.mark.parametrize(("terminated", "code", "how"), [(False, 130, "interrupted"), (True, 143, "terminated")])
def test_a_signal_while_importing_ends_with_its_code_and_one_line(monkeypatch, tmp_path, verb, terminated, code, how):
    from gradcheck import cli

    exc = cli._Terminated if terminated else KeyboardInterrupt
    module = "gradcheck.selftest" if verb == "selftest" else "gradcheck.targets"  # after the options are parsed
    monkeypatch.setitem(sys.modules, module, _InterruptedImport(exc))
    args = {"selftest": ["selftest"], "run": ["run"], "check": ["check", "mine.py"]}[verb]
    (tmp_path / "mine.py").write_text("class Affine: pass\n")
    r = gc_in_process(*args, "--json", "out.json", cwd=tmp_path)
    assert r.returncode == code, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == [f"gradcheck: {verb} {how}; no report written"]
    assert not (tmp_path / "out.json").exists()
