"""Which classes of a target are checked (issue 9), and the pieces the supervisor
relies on: a LayerReport survives the worker's pipe, the output tail, atomic
report writes. In-process and fast; the CLI end of each is in test_cli_gate.py."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

import rnnref
from gradcheck.engine import check_layer
from gradcheck.report import LayerReport, write_atomic
from gradcheck.supervisor import _tail
from gradcheck.targets import TargetError, discover


def module_with(name: str = "user_mod", **imported) -> types.ModuleType:
    """A module that defines the classes made by `defines` and holds `imported` ones."""
    mod = types.ModuleType(name)
    for k, v in imported.items():
        setattr(mod, k, v)
    return mod


def define(mod: types.ModuleType, cls_name: str, base: type) -> type:
    cls = type(cls_name, (base,), {"__module__": mod.__name__})
    setattr(mod, cls_name, cls)
    return cls


def test_defined_classes_are_checked_imported_ones_listed():
    mod = module_with(RNN=rnnref.RNN)  # imported from rnnref
    define(mod, "TimeAffine", rnnref.TimeAffine)
    found = discover(mod)
    assert [t.name for t in found.targets] == ["TimeAffine"]
    (note,) = found.not_checked
    assert note["class"] == "RNN" and note["reason"].startswith(f"imported from {rnnref.RNN.__module__}: not checked")


def test_imported_class_is_checked_when_named():
    mod = module_with(RNN=rnnref.RNN)
    define(mod, "TimeAffine", rnnref.TimeAffine)
    found = discover(mod, ["RNN"])
    assert [t.name for t in found.targets] == ["RNN"] and found.not_checked == []


@pytest.mark.parametrize("lookalike", ["SimpleRNNLM", "simple_rnnlm", "Simple-Rnnlm"])
def test_lookalike_names_are_listed_with_the_option_that_checks_them(lookalike):
    mod = module_with()
    define(mod, "TimeAffine", rnnref.TimeAffine)
    mod.__dict__[lookalike] = type(lookalike, (rnnref.SimpleRnnlm,), {"__module__": mod.__name__})
    found = discover(mod)
    assert [n["reason"] for n in found.not_checked] == [
        f"not checked: looks like SimpleRnnlm, use --layers {lookalike}=SimpleRnnlm"
    ]
    mine = discover(mod, [f"{lookalike}=SimpleRnnlm"]).targets
    assert [(t.name, t.cls_name, t.label, t.layers_arg) for t in mine] == [
        ("SimpleRnnlm", lookalike, f"{lookalike} as SimpleRnnlm", f"{lookalike}=SimpleRnnlm")
    ]


def test_names_that_only_contain_a_layer_name_are_not_lookalikes():
    mod = module_with()
    define(mod, "TimeRNN", rnnref.TimeRNN)
    define(mod, "Fast_TimeAffine", rnnref.TimeAffine)
    define(mod, "Masked_TimeSoftmaxWithLoss", rnnref.TimeSoftmaxWithLoss)
    found = discover(mod)
    assert [t.name for t in found.targets] == ["TimeRNN"] and found.not_checked == []


def test_no_defined_known_class_is_a_usage_error_naming_what_was_found():
    mod = module_with(TimeRNN=rnnref.TimeRNN)
    define(mod, "Helper", object)
    with pytest.raises(TargetError) as err:
        discover(mod)
    text = str(err.value)
    assert "no class with a known name defined in user_mod" in text
    assert "found classes Helper" in text and "TimeRNN: imported from" in text


def test_layers_naming_a_missing_class_or_unknown_spec_is_a_usage_error():
    mod = module_with()
    define(mod, "TimeAffine", rnnref.TimeAffine)
    with pytest.raises(TargetError, match="has no Mine"):
        discover(mod, ["Mine=TimeRNN"])
    with pytest.raises(TargetError, match="unknown layer Nope"):
        discover(mod, ["TimeAffine=Nope"])
    with pytest.raises(TargetError, match="--layers TimeAFFINE=TimeAffine"):
        discover(mod, ["TimeAFFINE"])


def test_layer_report_survives_the_workers_pipe():
    class Wrong(rnnref.TimeAffine):
        def backward(self, dout):
            return super().backward(dout) * 2.0

    layer = check_layer(Wrong, "TimeAffine", dtype=np.float64).layers[0]
    assert layer.failures  # entries with indices and numbers, axes, ratios
    wire = json.loads(json.dumps(layer.to_wire()))
    again = LayerReport.from_wire(wire)
    assert again.to_dict() == layer.to_dict()
    assert [f.detail_lines() for f in again.failures] == [f.detail_lines() for f in layer.failures]


def test_tail_keeps_the_last_lines_and_counts_them_all(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("".join(f"line {i}\n" for i in range(100_000)))
    tail, n = _tail(path)
    assert n == 100_000
    assert tail.splitlines() == [f"line {i}" for i in range(99_950, 100_000)]
    assert _tail(tmp_path / "missing") == ("", 0)


def test_write_atomic_replaces_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("old")
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
