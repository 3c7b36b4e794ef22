"""`gradcheck check NOTEBOOK.ipynb` (issue 13): the code cells run in order in the
worker, magics and shell lines skipped, the first error reported with its cell
number (exit 2); then the classes the notebook defined are checked exactly as the
same code in a .py file is."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import notebooks
import pytest
import seed_notebook
from cli_jobs import GC, Job, no_traceback

from gradcheck.targets import TargetError, discover, load_module

BOOK = Path("/work/shared/book")


# --- in-process: which lines run, and the error of a failing cell ---------------------------


def test_magics_and_shell_lines_are_skipped_and_defined_classes_found(tmp_path):
    nb = notebooks.write_notebook(
        tmp_path / "mine.ipynb",
        [
            ("markdown", "# My layers\n"),
            ("code", "%matplotlib inline\n!pip install numpy\nimport numpy as np\n"),
            ("code", "%%timeit\nthis is not python\n"),
            ("code", "class TimeAffine:\n    pass\n  %time x = 1\n"),
        ],
    )
    module = load_module(str(nb))
    assert [t.name for t in discover(module).targets] == ["TimeAffine"]
    assert module.TimeAffine.__module__ == module.__name__


def test_first_failing_cell_is_an_input_error_with_its_number_and_line(tmp_path):
    nb = notebooks.write_notebook(
        tmp_path / "mine.ipynb",
        [
            ("markdown", "intro\n"),
            ("code", "x = 1\n"),
            ("code", "y = 2\nz = undefined_name + 1\n"),
            ("code", "raise AssertionError('never reached')\n"),
        ],
    )
    with pytest.raises(TargetError) as err:
        load_module(str(nb))
    msg = str(err.value)
    assert msg.startswith(f"cell 3 of {nb} failed: NameError: name 'undefined_name' is not defined")
    assert f"{nb} cell 3:2: z = undefined_name + 1" in msg
    assert "never reached" not in msg


def test_syntax_error_names_the_cell(tmp_path):
    nb = notebooks.write_notebook(tmp_path / "bad.ipynb", [("code", "ok = 1\n"), ("code", "def f(:\n")])
    with pytest.raises(TargetError, match=r"^syntax error in cell 2 of .*bad.ipynb, line 1"):
        load_module(str(nb))


@pytest.mark.parametrize("text", ["{not json", '{"cells": 3}', "[]"])
def test_a_file_that_is_not_a_notebook_is_an_input_error(tmp_path, text):
    path = tmp_path / "broken.ipynb"
    path.write_text(text)
    with pytest.raises(TargetError, match="not a (readable )?notebook"):
        load_module(str(path))


def test_cells_run_from_the_notebooks_directory_as_in_jupyter(tmp_path):
    """The seed's model cell does `sys.path.append('..')`: relative to the notebook."""
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("VALUE = 42\n")
    (tmp_path / "ch05").mkdir()
    nb = notebooks.write_notebook(
        tmp_path / "ch05" / "nb.ipynb", [("code", "import sys\nsys.path.append('..')\nfrom helpers import VALUE\n")]
    )
    here = os.getcwd()
    assert load_module(str(nb)).VALUE == 42
    assert os.getcwd() == here


def test_seed_text_rebuilds_into_its_cells():
    cells = notebooks.seed_cells()
    code = [src for kind, src in cells if kind == "code"]
    assert [re.search(r"^class (\w+)", src, re.M)[1] for src in code] == [
        "RNN",
        "TimeRNN",
        "TimeAffine",
        "TimeSoftmaxWithLoss",
        "SimpleRnnlm",
    ]
    # the same classes, line for line, as tests/seed_notebook.py copied by hand
    assert "self.layer.append(layer)" in code[1] and "layer.parmas" in code[4]


# --- the CLI: the notebook fails exactly as the .py file does ---------------------------------


def _fixed(cells, *fixes):
    out = []
    for kind, src in cells:
        for old, new in fixes:
            src = src.replace(old, new)
        out.append((kind, src))
    return out


def _pair(root: Path, name: str, cells) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    return notebooks.write_notebook(root / f"{name}.ipynb", cells), notebooks.write_script(root / f"{name}.py", cells)


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    root = tmp_path_factory.mktemp("nb")
    seed = notebooks.seed_as_run_by_the_tests()
    summing_bug = _fixed(seed, seed_notebook.FIX_DYPE, *seed_notebook.FIX_SELF_LAYER)
    started = {}
    for key, cells, extra in (
        ("seed", seed, []),
        ("timernn", summing_bug, ["--layers", "TimeRNN"]),
    ):
        nb, py = _pair(root / key, "seed", cells)
        for kind, path in (("ipynb", nb), ("py", py)):
            report = root / f"{key}-{kind}.json"
            started[key, kind] = (Job([*GC, "check", str(path), "--json", str(report), *extra], root / key), report)
    # verbatim, in a book checkout's ch05 directory: its `sys.path.append('..')` finds `common`
    ch05 = root / "book" / "ch05"
    ch05.mkdir(parents=True)
    (root / "book" / "common").symlink_to(BOOK / "common")
    verbatim = notebooks.write_notebook(ch05 / "seed.ipynb", notebooks.seed_cells())
    started["verbatim", "ipynb"] = (Job([*GC, "check", str(verbatim)], ch05), None)
    elsewhere = notebooks.write_notebook(root / "seed_alone.ipynb", notebooks.seed_cells())
    started["alone", "ipynb"] = (Job([*GC, "check", str(elsewhere)], root), None)
    yield started
    for job, _ in started.values():
        job.close()


def _findings(report: Path) -> list:
    """Each layer's checks and failures, with the place in the code (`f.py:12`,
    `f.ipynb cell 5:3`) left out: everything else must be the same."""

    def plain(text):
        return re.sub(r"\S+\.(py|ipynb)( cell \d+)?:\d+", "<line>", text) if isinstance(text, str) else text

    data = json.loads(report.read_text())
    return [
        {
            "name": layer["name"],
            "status": layer["status"],
            "examples": layer["examples"],
            "checks": [(c["check"], c["status"], plain(c["message"])) for c in layer["checks"]],
            "findings": [
                (f["check"], f.get("tensor"), f.get("verdict"), plain(f["message"])) for f in layer["findings"]
            ],
            "example": layer["example"],
        }
        for layer in data["layers"]
    ]


@pytest.mark.parametrize("key", ["seed", "timernn"])
def test_notebook_fails_with_the_same_findings_as_the_py_file(jobs, key):
    (nb_job, nb_report), (py_job, py_report) = jobs[key, "ipynb"], jobs[key, "py"]
    nb, py = nb_job.result(), py_job.result()
    no_traceback(nb)
    assert nb.returncode == py.returncode == 1, nb.stderr
    assert _findings(nb_report) == _findings(py_report)
    layers = {la["name"]: la for la in _findings(nb_report)}
    if key == "seed":
        assert "cell 5:" in nb.stdout and "self.layer.append(layer)" in nb.stdout  # the line, in its cell
        assert layers["TimeRNN"]["status"] == layers["RNN"]["status"] == "fail"
    else:  # past the crashes: per-step grads overwritten instead of summed
        (timernn,) = layers.values()
        assert timernn["status"] == "fail"
        assert {c for c, s, _ in timernn["checks"] if s == "fail"} >= {"backward-jax", "backward-fd"}


def test_verbatim_seed_in_the_books_directory_checks_what_it_defines(jobs):
    """The model cell's star import replaces the notebook's layers by the book's:
    only SimpleRnnlm is the notebook's own, and its `parmas` typo is the finding."""
    r = jobs["verbatim", "ipynb"][0].result()
    no_traceback(r)
    assert r.returncode == 1, r.stderr
    assert "SimpleRnnlm: FAIL" in r.stdout and "layer.parmas" in r.stdout
    assert "not checked: TimeRNN: imported from common.time_layers" in r.stdout


def test_verbatim_seed_elsewhere_stops_at_the_cell_that_cannot_import(jobs):
    r = jobs["alone", "ipynb"][0].result()
    no_traceback(r)
    assert r.returncode == 2
    assert "cell 9 of" in r.stderr and "ModuleNotFoundError: No module named 'common'" in r.stderr
