"""The book's word2vec family (ch01-ch04) passes gradcheck with only the named
conventions, run as a user runs it: from the book's folder, the default profile."""

from __future__ import annotations

import json

import pytest
from test_book_corpus import BOOK, gradcheck, not_passing

pytestmark = pytest.mark.skipif(not (BOOK / "ch04" / "negative_sampling_layer.py").is_file(), reason="no ../shared/book")

# run -> (the book's file, {layer: {check: status}} for each check that does not pass)
RUNS = {
    "ch01_two_layer_net": ("ch01/two_layer_net.py", {"TwoLayerNet": {}}),
    "ch03_simple_cbow": ("ch03/simple_cbow.py", {"SimpleCBOW": {}}),
    "ch03_simple_skip_gram": ("ch03/simple_skip_gram.py", {"SimpleSkipGram": {}}),
    "ch04_negative_sampling": ("ch04/negative_sampling_layer.py", {"EmbeddingDot": {}}),
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
