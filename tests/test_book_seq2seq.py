"""The book's seq2seq (ch07) passes gradcheck with only its loss layer's named
convention, run as a user runs it: from the book's folder, the default profile."""

from __future__ import annotations

import json

import pytest
from test_book_corpus import BOOK, gradcheck, not_passing

pytestmark = pytest.mark.skipif(not (BOOK / "ch07" / "seq2seq.py").is_file(), reason="no ../shared/book")

# TimeSoftmaxWithLoss's backward edits its cached softmax: the book's loss layer's
# "repeatable" convention (as SimpleRnnlm's); no ignored labels in Seq2seq's ts.
EXPECTED = {"Encoder": {}, "Decoder": {}, "Seq2seq": {"repeatable": "warn"}}


def test_the_books_seq2seq_passes_with_only_the_named_convention(tmp_path):
    p = gradcheck(tmp_path, "ch07_seq2seq", "ch07/seq2seq.py")
    stdout, stderr = p.communicate(timeout=600)
    report = json.loads((tmp_path / "ch07_seq2seq.json").read_text())
    assert p.returncode == 0, stdout + stderr
    assert report["passed"] and report["complete"]
    assert not_passing(report) == EXPECTED
    seq2seq = next(layer for layer in report["layers"] if layer["name"] == "Seq2seq")
    assert {"check": "generate", "status": "pass"}.items() <= next(
        c for c in seq2seq["checks"] if c["check"] == "generate"
    ).items()
