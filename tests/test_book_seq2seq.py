"""The book's seq2seq and peeky seq2seq (ch07) pass gradcheck with only their loss
layer's named convention, run as a user runs it: from the book's folder, the
default profile."""

from __future__ import annotations

import json

import pytest
from test_book_corpus import BOOK, gradcheck, not_passing

pytestmark = pytest.mark.skipif(not (BOOK / "ch07" / "seq2seq.py").is_file(), reason="no ../shared/book")

# TimeSoftmaxWithLoss's backward edits its cached softmax: the book's loss layer's
# "repeatable" convention (as SimpleRnnlm's); no ignored labels in Seq2seq's ts.
EXPECTED = {"Encoder": {}, "Decoder": {}, "Seq2seq": {"repeatable": "warn"}}
# peeky_seq2seq.py defines PeekyDecoder and PeekySeq2seq (Encoder and Seq2seq are
# imported from seq2seq.py, so not checked there).
PEEKY_EXPECTED = {"PeekyDecoder": {}, "PeekySeq2seq": {"repeatable": "warn"}}


@pytest.mark.parametrize(
    ("file", "model", "expected"),
    [("seq2seq", "Seq2seq", EXPECTED), ("peeky_seq2seq", "PeekySeq2seq", PEEKY_EXPECTED)],
)
def test_the_books_seq2seq_passes_with_only_the_named_convention(tmp_path, file, model, expected):
    p = gradcheck(tmp_path, f"ch07_{file}", f"ch07/{file}.py")
    stdout, stderr = p.communicate(timeout=600)
    report = json.loads((tmp_path / f"ch07_{file}.json").read_text())
    assert p.returncode == 0, stdout + stderr
    assert report["passed"] and report["complete"]
    assert not_passing(report) == expected
    seq2seq = next(layer for layer in report["layers"] if layer["name"] == model)
    assert {"check": "generate", "status": "pass"}.items() <= next(
        c for c in seq2seq["checks"] if c["check"] == "generate"
    ).items()
