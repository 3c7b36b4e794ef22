"""The book's attention (ch08) passes gradcheck with only its loss layer's named
convention, run as a user runs it: from the book's folder, the default profile."""

from __future__ import annotations

import json

import pytest
from test_book_corpus import BOOK, gradcheck, not_passing

pytestmark = pytest.mark.skipif(not (BOOK / "ch08" / "attention_seq2seq.py").is_file(), reason="no ../shared/book")


def run(tmp_path, name: str, file: str) -> dict:
    p = gradcheck(tmp_path, name, file)
    stdout, stderr = p.communicate(timeout=600)
    report = json.loads((tmp_path / f"{name}.json").read_text())
    assert p.returncode == 0, stdout + stderr
    assert report["passed"] and report["complete"]
    return report


def test_the_books_attention_layers_pass_with_no_warning(tmp_path):
    report = run(tmp_path, "ch08_attention_layer", "ch08/attention_layer.py")
    assert not_passing(report) == {"WeightSum": {}, "AttentionWeight": {}, "Attention": {}, "TimeAttention": {}}


def test_the_books_attention_seq2seq_passes_with_only_the_named_convention(tmp_path):
    # TimeSoftmaxWithLoss's backward edits its cached softmax: "repeatable", as Seq2seq's.
    report = run(tmp_path, "ch08_attention_seq2seq", "ch08/attention_seq2seq.py")
    assert not_passing(report) == {
        "AttentionEncoder": {},
        "AttentionDecoder": {},
        "AttentionSeq2seq": {"repeatable": "warn"},
    }
    model = next(layer for layer in report["layers"] if layer["name"] == "AttentionSeq2seq")
    assert next(c for c in model["checks"] if c["check"] == "generate")["status"] == "pass"
