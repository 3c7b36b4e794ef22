"""The book's word2vec family (ch01-ch04) passes gradcheck with only the named
conventions, run as a user runs it: from the book's folder, the default profile."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_jobs import GC, TIMEOUT
from test_book_corpus import BOOK, gradcheck, not_passing

pytestmark = pytest.mark.skipif(
    not (BOOK / "ch04" / "negative_sampling_layer.py").is_file(), reason="no ../shared/book"
)

# run -> (the book's file, {layer: {check: status}} for each check that does not pass)
RUNS = {
    "ch01_two_layer_net": ("ch01/two_layer_net.py", {"TwoLayerNet": {}}),
    "ch03_simple_cbow": ("ch03/simple_cbow.py", {"SimpleCBOW": {}}),
    "ch03_simple_skip_gram": ("ch03/simple_skip_gram.py", {"SimpleSkipGram": {}}),
    "ch04_negative_sampling": ("ch04/negative_sampling_layer.py", {"EmbeddingDot": {}, "NegativeSamplingLoss": {}}),
    "ch04_cbow": ("ch04/cbow.py", {"CBOW": {}}),
    "ch04_skip_gram": ("ch04/skip_gram.py", {"SkipGram": {}}),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[int, str, dict]]:
    """The runs, side by side: (exit code, stdout + stderr, JSON report)."""
    tmp = tmp_path_factory.mktemp("book_w2v")
    procs = {name: gradcheck(tmp, name, path) for name, (path, _) in RUNS.items()}
    done = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=600)
        done[name] = (p.returncode, stdout + stderr, json.loads((tmp / f"{name}.json").read_text()))
    return done


@pytest.mark.parametrize("run", list(RUNS))
def test_the_books_word2vec_code_passes_with_only_the_named_conventions(runs, run):
    code, out, report = runs[run]
    expected = RUNS[run][1]
    assert code == 0, out
    assert report["passed"] and report["complete"]
    assert not_passing(report) == expected


# --- a reproducer for a model that lists a weight twice ------------------------------

NOT_HALVED = ("        da *= 0.5\n", "")  # the bug the issue names: the context gradient not divided


def test_reproducer_of_a_cbow_sums_the_two_W_in_entries_and_fails_on_dW_in_only(tmp_path):
    """A SimpleCBOW (the book's, with `da *= 0.5` left out) gets a reproducer that
    rebuilds it through its params list [W_in, W_in, W_out] and compares the sum of
    the two W_in entries, as gradcheck does: dW_in differs, out and dW_out do not;
    with the line back it passes."""
    source = (BOOK / "ch03" / "simple_cbow.py").read_text()
    assert NOT_HALVED[0] in source
    module = tmp_path / "my_cbow.py"
    module.write_text(source.replace(*NOT_HALVED))
    out = tmp_path / "bug-report"
    r = subprocess.run(
        [*GC, "check", str(module), "--path", str(BOOK), "--save-repro", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    test = out / "test_SimpleCBOW_repro.py"
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)]
    failing = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "test_equals_the_spec[dW_in]" in failing.stdout and "1 failed, 2 passed" in failing.stdout
    module.write_text(source)
    fixed = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
    assert fixed.returncode == 0 and "3 passed" in fixed.stdout, fixed.stdout + fixed.stderr
