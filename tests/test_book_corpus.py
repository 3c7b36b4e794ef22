"""The book's own code passes, with exactly the warnings the policy names
(docs/design-notes.md, "Conventions"), and --strict fails naming each.

These are the commands of issue 9's "done when", run as a user runs them, from
the book's folder (../shared/book beside the checkout, as CI lays it out), with
the default profile.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[2] / "shared" / "book"
pytestmark = pytest.mark.skipif(not (BOOK / "common" / "time_layers.py").is_file(), reason="no ../shared/book")

# layer -> {check: status} for every check that does not pass: the named conventions.
TIME_LAYERS = {
    "RNN": {},
    "LSTM": {},
    "GRU": {},
    "TimeRNN": {"dtype": "warn"},  # computes in float32 whatever it is given (np.empty(..., dtype='f'))
    "TimeLSTM": {"dtype": "warn"},
    "TimeGRU": {"dtype": "warn"},
    "TimeBiLSTM": {"dtype": "warn"},
    "TimeEmbedding": {"dtype": "warn"},
    "TimeAffine": {},
    # training mode draws a mask: no spec for it, eval and dropout check it instead
    "TimeDropout": {"dtype": "warn", "forward": "skip", "backward-jax": "skip"},
    "TimeSoftmaxWithLoss": {
        "repeatable": "warn",  # backward edits its cached softmax
        "mask": "warn",  # 0/0 when every label is ignored
        "extreme": "warn",  # log(0) on logits of 1e4
        "dtype": "warn",  # a float64 loss for float32 logits
    },
    # log(y + 1e-7) (cross_entropy_error), and float32 work (np.empty(..., dtype='f'))
    "Simple_TimeSoftmaxWithLoss": {"extreme": "warn", "dtype": "warn"},
    "TimeSigmoidWithLoss": {"extreme": "warn", "dtype": "warn"},
    # a real bug of the book's: backward reads layer.dW, which its Affine does not have
    "Simple_TimeAffine": {"crash": "fail"},
}
LAYERS = {
    "Affine": {},
    "Embedding": {},
    "MatMul": {},
    "Softmax": {},
    "Sigmoid": {},
    "SoftmaxWithLoss": {"extreme": "warn"},  # log(y + 1e-7)
    "SigmoidWithLoss": {"extreme": "warn"},
    "Dropout": {"forward": "skip", "backward-jax": "skip"},
}
# The runs whose only failures are the book's real bugs (exit 1, every other layer passes).
BOOK_BUGS = {"time_layers": {"Simple_TimeAffine"}}
SIMPLE_RNNLM = {"SimpleRnnlm": {"repeatable": "warn", "mask": "warn"}}  # its loss layer's two conventions
RNNLM = {"Rnnlm": {"repeatable": "warn", "mask": "warn"}}  # ch06: the same loss layer
# Dropout: training mode has no spec (eval checks the meaning; its stateful chunks run in evaluation).
BETTER_RNNLM = {"BetterRnnlm": {"repeatable": "warn", "mask": "warn", "forward": "skip", "backward-jax": "skip"}}


def gradcheck(tmp: Path, name: str, *args: str) -> subprocess.Popen:
    out = tmp / f"{name}.json"
    cmd = [sys.executable, "-m", "gradcheck", "check", *args, "--path", str(BOOK), "--json", str(out)]
    return subprocess.Popen(cmd, cwd=BOOK, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[int, str, dict]]:
    """The runs, side by side: (exit code, stdout, JSON report)."""
    tmp = tmp_path_factory.mktemp("book")
    procs = {
        "time_layers": gradcheck(tmp, "time_layers", "common.time_layers"),
        "time_layers_strict": gradcheck(tmp, "time_layers_strict", "common.time_layers", "--strict"),
        "ch05": gradcheck(tmp, "ch05", "ch05/simple_rnnlm.py"),
        "ch05_strict": gradcheck(tmp, "ch05_strict", "ch05/simple_rnnlm.py", "--strict"),
        "layers": gradcheck(tmp, "layers", "common.layers"),
        "ch06": gradcheck(tmp, "ch06", "ch06/rnnlm.py"),
        "ch06_better": gradcheck(tmp, "ch06_better", "ch06/better_rnnlm.py"),
    }
    done = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=600)
        done[name] = (p.returncode, stdout + stderr, json.loads((tmp / f"{name}.json").read_text()))
    return done


def not_passing(report: dict) -> dict[str, dict[str, str]]:
    return {
        layer["name"]: {c["check"]: c["status"] for c in layer["checks"] if c["status"] != "pass"}
        for layer in report["layers"]
    }


RUNS = [
    ("time_layers", TIME_LAYERS),
    ("ch05", SIMPLE_RNNLM),
    ("layers", LAYERS),
    ("ch06", RNNLM),
    ("ch06_better", BETTER_RNNLM),
]


@pytest.mark.parametrize(("run", "expected"), RUNS)
def test_the_books_code_passes_with_only_the_named_conventions(runs, run, expected):
    code, out, report = runs[run]
    bugs = BOOK_BUGS.get(run, set())
    assert code == (1 if bugs else 0), out
    assert report["passed"] == (not bugs) and report["complete"]
    assert not_passing(report) == expected
    # one warning per convention, each named once
    for layer in report["layers"]:
        warned = [f["check"] for f in layer["findings"] if f["status"] == "warn"]
        named = [c for c, s in expected[layer["name"]].items() if s == "warn"]
        assert sorted(warned) == sorted(named), layer["name"]
        assert (layer["status"] == "fail") == (layer["name"] in bugs), layer["name"]


def test_simple_time_affine_fails_with_its_crash_in_backward(runs):
    _, out, report = runs["time_layers"]
    (layer,) = [x for x in report["layers"] if x["name"] == "Simple_TimeAffine"]
    (crash,) = [f for f in layer["findings"] if f["status"] == "fail"]
    assert crash["message"].startswith("backward raised AttributeError: 'Affine' object has no attribute 'dW'")
    assert "time_layers.py" in crash["message"] and "self.dW += layer.dW" in crash["message"]


@pytest.mark.parametrize(("run", "expected"), RUNS)
def test_strict_fails_the_books_code_naming_each_warning(runs, run, expected):
    """--strict on two of the files (it is the same option for every layer: the other
    runs would only repeat the checks); every run names each warning it has."""
    strict = f"{run}_strict" in runs
    code, out, report = runs[f"{run}_strict" if strict else run]
    if strict:
        assert code == 1 and not report["passed"]
    for layer, checks in expected.items():
        for check, status in checks.items():
            if status == "warn":
                assert f"warning: {layer} [{check}]" in out, (layer, check)


def test_the_model_script_checks_only_the_model_it_defines(runs):
    _, out, report = runs["ch05"]
    assert [layer["name"] for layer in report["layers"]] == ["SimpleRnnlm"]
    imported = {n["class"] for n in report["not_checked"]}
    assert {"TimeRNN", "TimeEmbedding", "TimeAffine", "TimeSoftmaxWithLoss"} <= imported
    assert "imported from common.time_layers" in out


def test_the_tied_weight_is_named_in_the_report(runs):
    _, out, report = runs["ch06_better"]
    assert "tied             pass             embed_W is tied: params[7] is embed_W.T" in out
