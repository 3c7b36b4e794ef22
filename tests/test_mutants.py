"""The bug catalogue (`gradcheck.mutants`): every mutant is caught by `check_layer`
on at least one small example, with the status the catalogue expects, and the
unmodified reference passes every layer on the same kind of examples."""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import numpy as np
import pytest

from gradcheck.engine import check_layer
from gradcheck.examples import Example, make_example
from gradcheck.mutants import CATALOGUE, Mutant, MutantEditError, edit, reference
from gradcheck.report import LayerReport
from gradcheck.specs import SPECS, Spec

# A: D != H (a missing transpose of Wx is a shape error); B: other sizes, H < D;
# C: D == H (a missing transpose gives wrong values, not a shape error) and V = 2,
# so N = 3 token ids (Embedding) and N * T = 12 (TimeEmbedding) must repeat one.
# S, an attention encoder's length: longer than T, shorter, and equal
DIMS_A = {"N": 2, "T": 3, "S": 4, "D": 4, "H": 5, "V": 6}
DIMS_B = {"N": 3, "T": 4, "S": 2, "D": 3, "H": 2, "V": 7}
DIMS_C = {"N": 3, "T": 4, "S": 4, "D": 4, "H": 4, "V": 2}


def examples(spec: Spec, seeds: int = 5) -> Iterator[Example]:
    """Seeded examples at dims A and B, two at C; for losses and models also labels
    with nothing ignored, as ints (the mask check then compares one-hot) and, for
    class ids, one-hot."""
    least = dict(spec.min_dims)  # NegativeSamplingLoss draws 5 distinct negatives: V >= 6
    dims_a, dims_b, dims_c = ({k: max(v, least.get(k, 0)) for k, v in d.items()} for d in (DIMS_A, DIMS_B, DIMS_C))
    for dims in (dims_a, dims_b):
        for seed in range(seeds):
            yield make_example(spec, dims, seed)
    for seed in range(min(seeds, 2)):
        yield make_example(spec, dims_c, seed)
    lab = spec.labels
    if lab is not None:
        shape = tuple(DIMS_A[a] for a in lab.axes)
        high = 2 if lab.kind == "binary" else DIMS_A["V"]
        for seed in range(min(seeds, 2)):
            labels = np.random.default_rng(100 + seed).integers(0, high, size=shape)
            yield make_example(spec, DIMS_A, seed, labels=labels)
            if lab.onehot_ok:
                yield make_example(spec, DIMS_A, seed, labels=labels, onehot=True)


def check(namespace: dict[str, type], name: str, ex: Example) -> LayerReport:
    """check_layer on one example. The checker must report a broken layer, never
    raise itself: an exception out of check_layer fails the test, saying so."""
    spec = SPECS[name]
    cell = namespace[spec.cell] if spec.cell else None
    try:
        return check_layer(namespace[name], name, example=ex, cell=cell).layers[0]
    except Exception as exc:
        pytest.fail(
            f"check_layer itself raised {type(exc).__name__}: {exc} (instead of reporting a finding)\n"
            f"on {ex.describe()}"
        )


def summary(layer: LayerReport) -> str:
    return ", ".join(f"{c.check}={c.status}" for c in layer.checks.values() if c.status != "pass") or "all pass"


# --- the catalogue itself ------------------------------------------------------------


def test_catalogue_has_at_least_30_uniquely_named_mutants():
    names = [m.name for m in CATALOGUE]
    assert len(names) >= 30
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_mutant_replaces_one_reference_class_with_a_marked_subclass(mutant: Mutant):
    ref, ns = reference(), mutant.apply()
    changed = [k for k in ref if ns[k] is not ref[k]]
    assert len(changed) == 1
    # a subclass, or a redefinition under the book's name that shadows the class
    assert issubclass(ns[changed[0]], ref[changed[0]]) or mutant.replaces == changed[0]
    assert "# BUG:" in mutant.source
    assert mutant.layers and all(name in SPECS for name in mutant.layers)
    assert mutant.expect in ("fail", "warn")
    assert mutant.family and mutant.description


# --- edits of rnnref's source --------------------------------------------------------

_FIELDS = {"family": "f", "layers": ("TimeRNN",), "description": "d"}


def test_a_stale_edit_fails_loudly_naming_the_mutant_and_the_text():
    stale = edit(
        "TimeRNN", "backward", old="dh = dh_from_a_later_step", new="dh = 0  # BUG: x", name="stale", **_FIELDS
    )
    with pytest.raises(MutantEditError, match=r"mutant 'stale'.*TimeRNN\.backward.*found it 0 times.*dh_from_a_later"):
        stale.apply()


def test_an_edit_whose_old_text_occurs_twice_is_refused():
    twice = edit("TimeRNN", "backward", old="dxs", new="dys  # BUG: x", name="twice", **_FIELDS)
    with pytest.raises(MutantEditError, match="found it [2-9]"):
        _ = twice.cls


def test_a_bug_comment_that_would_comment_out_code_is_refused():
    # `Wx.T` is followed by `, dt @ Wh.T` on its line: a comment after the new text would swallow it
    m = edit("RNN", "_backward", old="dt @ Wx.T", new="dt @ Wx  # BUG: x", name="swallow", **_FIELDS)
    with pytest.raises(MutantEditError, match="comment out"):
        _ = m.cls
    unmarked = edit("RNN", "_backward", old="dt @ Wx.T,", new="dt @ Wx,", name="unmarked", **_FIELDS)
    with pytest.raises(MutantEditError, match="BUG"):
        _ = unmarked.cls


def test_an_edit_keeps_super_and_the_edited_line_readable_in_a_traceback():
    """The edited method runs as a method of a subclass (super() works, inherited
    methods stay), and a crash in it points at the `# BUG:` line of `<mutant NAME>`."""
    (m,) = [m for m in CATALOGUE if m.name == "rnn-dx-no-transpose"]
    rng = np.random.default_rng(0)
    D, H = 3, 2
    layer = m.cls(rng.normal(size=(D, H)), rng.normal(size=(H, H)), rng.normal(size=H))
    assert issubclass(m.cls, reference()["RNN"]) and m.cls.forward is reference()["RNN"].forward
    layer.forward(rng.normal(size=(4, D)), np.zeros((4, H)))
    with pytest.raises(ValueError) as info:
        layer.backward(np.ones((4, H)))
    frames = [f for f in traceback.extract_tb(info.value.__traceback__) if f.filename == f"<mutant {m.name}>"]
    assert frames and "# BUG:" in (frames[-1].line or "")
    model = next(m for m in CATALOGUE if m.name == "model-not-stateful").cls(5, 3, 4)
    assert model.params[0].dtype == np.float64 and not model.rnn_layer.stateful  # SimpleRnnlm64's default kept


# --- the reference passes; every mutant is caught ------------------------------------


@pytest.mark.parametrize("name", list(SPECS))
def test_reference_passes_every_layer(name: str):
    ns = reference()
    for ex in examples(SPECS[name], seeds=2):
        layer = check(ns, name, ex)
        assert layer.status == "pass", f"{name} on {ex.describe()}:\n{summary(layer)}"


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_mutant_is_caught(mutant: Mutant):
    """expect == "fail": some example fails the layer. expect == "warn": some example
    warns and none fails (a failure would mean the catalogue under-states the bug)."""
    ns = mutant.apply()
    for name in mutant.layers:
        seen: list[str] = []
        for ex in examples(SPECS[name]):
            layer = check(ns, name, ex)
            seen.append(f"{layer.status} ({summary(layer)})")
            if mutant.expect == "fail" and layer.status == "fail":
                break
            assert layer.status != "fail" or mutant.expect == "fail", (
                f"{mutant.name}: {name} fails, the catalogue expects {mutant.expect}: {summary(layer)}"
            )
        statuses = [s.split(" ", 1)[0] for s in seen]
        assert mutant.expect in statuses, f"{mutant.name}: {name} never {mutant.expect}s:\n" + "\n".join(seen)
