"""The bug catalogue for `gradcheck selftest`: rnnref with one small bug in.

A mutant is rnnref with one bug: a class of rnnref whose method carries ONE small
edit of rnnref's own source, marked `# BUG:` on the edited line. The edits are
declared with `edit(...)` in one module a family, each a list `MUTANTS`:
`recurrent.py` (RNN, TimeRNN, LSTM, GRU, their Time forms, TimeBiLSTM), `basic.py`
(Affine, Embedding, MatMul, Softmax, Sigmoid, TimeAffine, Simple_TimeAffine,
TimeEmbedding), `dropout.py` (Dropout, TimeDropout), `losses.py`
(TimeSoftmaxWithLoss, SoftmaxWithLoss, Simple_TimeSoftmaxWithLoss, SigmoidWithLoss,
TimeSigmoidWithLoss), `models.py` (SimpleRnnlm, Rnnlm, BetterRnnlm), `word2vec.py`
(EmbeddingDot), `seq2seq.py` (Encoder, Decoder, Seq2seq, PeekyDecoder,
PeekySeq2seq), `attention.py` (WeightSum, AttentionWeight, Attention,
TimeAttention, AttentionEncoder, AttentionDecoder).
A few bugs are not an edit of one method (a class redefined under the book's
name, a misspelled `__init__`); they stay small hand-written classes in their
family module, passed as `Mutant(..., written=cls)`.

`Mutant.apply()` gives rnnref's namespace (`reference()`) with that class swapped
in; `Mutant.layers` names the layers (keys of `gradcheck.specs.SPECS`) a checker
must flag, and `Mutant.expect` says how: "fail", or "warn" where the design
makes the finding a warning (downcast dtype, non-repeatable backward, non-finite
loss on extreme logits).

A cell mutant (RNN, Affine, Embedding) replaces only the cell: rnnref's TimeRNN
keeps using the correct cell, so only the cell is listed as having to fail.

An edit is applied when its class is first asked for (`Mutant.cls`), not on
import: an rnnref change that makes one edit stale breaks that mutant (and
`tests/test_mutants.py`, and the selftest, loudly), never `gradcheck run`.

Edits left out because they are mathematically equivalent (no check could catch
them, so they are not bugs):
  * RNN: `1 - h_next**2` written `(1 - h_next) * (1 + h_next)`.
  * TimeAffine: `x2.T @ dout` written `(dout.T @ x2).T`: the same matrix.
  * TimeSoftmaxWithLoss.backward: `max(count, 1)` written `count`: with no counted
    position every entry is masked to 0 by the final `np.where` either way.

(`ts != self.ignore_label` written `ts != -1` is NOT equivalent: it ignores a
caller's `layer.ignore_label = ...`; it is in the catalogue as
loss-ignore-label-hardcoded.)
"""

from __future__ import annotations
import __future__

import inspect
import linecache
import sys
import textwrap
import types
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

import rnnref

__all__ = ["BetterRnnlm64", "CATALOGUE", "Mutant", "MutantEditError", "Rnnlm64", "SimpleCBOW64", "SimpleRnnlm64", "SimpleSkipGram64", "edit", "reference"]


class SimpleRnnlm64(rnnref.SimpleRnnlm):
    """rnnref.SimpleRnnlm built in float64 by default, so the model is checked at
    float64 tolerances (the checker builds models as `cls(V, D, H)`)."""

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, **kw) -> None:
        kw.setdefault("dtype", np.float64)
        super().__init__(vocab_size, wordvec_size, hidden_size, **kw)


class BetterRnnlm64(rnnref.BetterRnnlm):
    """rnnref.BetterRnnlm built in float64 by default, like SimpleRnnlm64."""

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, *args, **kw) -> None:
        kw.setdefault("dtype", np.float64)
        super().__init__(vocab_size, wordvec_size, hidden_size, *args, **kw)


class SimpleSkipGram64(rnnref.SimpleSkipGram):
    """rnnref.SimpleSkipGram built in float64 by default, like SimpleRnnlm64."""

    def __init__(self, vocab_size: int, hidden_size: int, **kw) -> None:
        kw.setdefault("dtype", np.float64)
        super().__init__(vocab_size, hidden_size, **kw)


class SimpleCBOW64(rnnref.SimpleCBOW):
    """rnnref.SimpleCBOW built in float64 by default, like SimpleRnnlm64."""

    def __init__(self, vocab_size: int, hidden_size: int, **kw) -> None:
        kw.setdefault("dtype", np.float64)
        super().__init__(vocab_size, hidden_size, **kw)


class Rnnlm64(rnnref.Rnnlm):
    """rnnref.Rnnlm built in float64 by default, like SimpleRnnlm64."""

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, **kw) -> None:
        kw.setdefault("dtype", np.float64)
        super().__init__(vocab_size, wordvec_size, hidden_size, **kw)


def _in_float64(cls: type) -> type:
    """`cls` built in float64 by default, like SimpleRnnlm64 (ch07's classes)."""

    def __init__(self, *args, **kw) -> None:
        kw.setdefault("dtype", np.float64)
        # through the MRO, so a mutant's edited __init__ runs (mypy cannot see made is a class)
        super(made, self).__init__(*args, **kw)  # type: ignore[arg-type]

    made: type = type(f"{cls.__name__}64", (cls,), {"__init__": __init__, "__module__": __name__})
    return made


Encoder64, Decoder64, Seq2seq64, PeekyDecoder64, PeekySeq2seq64 = (
    _in_float64(c) for c in (rnnref.Encoder, rnnref.Decoder, rnnref.Seq2seq, rnnref.PeekyDecoder, rnnref.PeekySeq2seq)
)
AttentionEncoder64, AttentionDecoder64, AttentionSeq2seq64 = (
    _in_float64(c) for c in (rnnref.AttentionEncoder, rnnref.AttentionDecoder, rnnref.AttentionSeq2seq)
)
CBOW64, SkipGram64 = (_in_float64(c) for c in (rnnref.CBOW, rnnref.SkipGram))


def reference() -> dict[str, type]:
    """rnnref's classes under their book names (the model in float64)."""
    return {
        "RNN": rnnref.RNN,
        "Affine": rnnref.Affine,
        "Embedding": rnnref.Embedding,
        "TimeRNN": rnnref.TimeRNN,
        "TimeEmbedding": rnnref.TimeEmbedding,
        "TimeAffine": rnnref.TimeAffine,
        "TimeSoftmaxWithLoss": rnnref.TimeSoftmaxWithLoss,
        "MatMul": rnnref.MatMul,
        "Softmax": rnnref.Softmax,
        "Sigmoid": rnnref.Sigmoid,
        "Simple_TimeAffine": rnnref.Simple_TimeAffine,
        "SoftmaxWithLoss": rnnref.SoftmaxWithLoss,
        "Simple_TimeSoftmaxWithLoss": rnnref.Simple_TimeSoftmaxWithLoss,
        "SigmoidWithLoss": rnnref.SigmoidWithLoss,
        "TimeSigmoidWithLoss": rnnref.TimeSigmoidWithLoss,
        "SimpleRnnlm": SimpleRnnlm64,
        "LSTM": rnnref.LSTM,
        "GRU": rnnref.GRU,
        "TimeLSTM": rnnref.TimeLSTM,
        "TimeGRU": rnnref.TimeGRU,
        "TimeBiLSTM": rnnref.TimeBiLSTM,
        "Rnnlm": Rnnlm64,
        "EmbeddingDot": rnnref.EmbeddingDot,
        "NegativeSamplingLoss": rnnref.NegativeSamplingLoss,
        "TwoLayerNet": rnnref.TwoLayerNet,
        "SimpleSkipGram": SimpleSkipGram64,
        "SimpleCBOW": SimpleCBOW64,
        "CBOW": CBOW64,
        "SkipGram": SkipGram64,
        "Dropout": rnnref.Dropout,
        "TimeDropout": rnnref.TimeDropout,
        "BetterRnnlm": BetterRnnlm64,
        "Encoder": Encoder64,
        "Decoder": Decoder64,
        "Seq2seq": Seq2seq64,
        "WeightSum": rnnref.WeightSum,
        "AttentionWeight": rnnref.AttentionWeight,
        "Attention": rnnref.Attention,
        "TimeAttention": rnnref.TimeAttention,
        "AttentionEncoder": AttentionEncoder64,
        "AttentionDecoder": AttentionDecoder64,
        "AttentionSeq2seq": AttentionSeq2seq64,
        "PeekyDecoder": PeekyDecoder64,
        "PeekySeq2seq": PeekySeq2seq64,
    }


class MutantEditError(ValueError):
    """An edit that no longer applies to rnnref's source (or is malformed)."""


@dataclass(frozen=True)
class Change:
    """Replace `old` (found exactly once in the method's source) by `new`."""

    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    """One bug: `cls` (a subclass of an rnnref class) replaces its base in the namespace.

    `cls` is built from `target`/`method`/`changes` (an `edit`), or is `written`, a
    hand-written class, for the few bugs that are not an edit of one method."""

    name: str
    family: str
    layers: tuple[str, ...]
    description: str
    expect: str = "fail"
    replaces: str | None = None  # the book name it takes, for a class that derives from none
    target: str | None = None  # the book name of the edited class, e.g. "TimeRNN"
    method: str | None = None
    changes: tuple[Change, ...] = ()
    written: type | None = field(default=None, repr=False, compare=False)

    @cached_property
    def _built(self) -> tuple[type, str]:
        if self.written is not None:
            return self.written, inspect.getsource(self.written)
        return _build(self)

    @property
    def cls(self) -> type:
        """The mutant class (built, for an edit, the first time it is asked for)."""
        return self._built[0]

    @property
    def source(self) -> str:
        """What a reader should see: the edited method (or the hand-written class),
        with `# BUG:` on the edited line."""
        return self._built[1]

    def apply(self) -> dict[str, type]:
        """reference() with this mutant's class in place of the one it derives from."""
        ns = reference()
        cls = self.cls
        # The nearest class it derives from: a mutant of TimeSigmoidWithLoss is also a
        # SigmoidWithLoss (and of Simple_TimeAffine a TimeAffine), and replaces the former.
        key = self.replaces or max((k for k, c in ns.items() if issubclass(cls, c)), key=lambda k: len(ns[k].__mro__))
        ns[key] = cls
        return ns


def edit(
    target: str,
    method: str,
    old: str | None = None,
    new: str | None = None,
    *,
    name: str,
    family: str,
    layers: tuple[str, ...],
    description: str,
    expect: str = "fail",
    changes: tuple[tuple[str, str], ...] = (),
) -> Mutant:
    """A mutant that edits one method of one rnnref class.

        edit("TimeRNN", "backward",
             old="layer._backward(dhs[:, t, :] + dh)",
             new="layer._backward(dhs[:, t, :])  # BUG: + dh from step t+1 forgotten",
             name="time-rnn-dh-not-carried", family="hidden-state gradient not carried back",
             layers=("TimeRNN",), description="each step gets dhs[:, t] only, ...")

    target: the book name of the class (a key of `reference()`); method: the name of
    the method to edit, as rnnref spells it (a method rnnref's class inherits is
    taken from the class that defines it; private helpers such as `_backward` are
    fine). old: text of rnnref's source of that method that must occur there
    exactly once (else `MutantEditError` naming the mutant and the text: rnnref has
    changed and the edit must be brought up to date). new: what replaces it.
    Several changes in the one method: `changes=((old, new), ...)`, applied in order.

    Writing old and new:
      * new must carry a `# BUG: why` comment (at least one change of a mutant
        must): the edited source is what a reader of the kill table is shown.
      * Where new ends in a comment, whatever rnnref had after `old` on that line
        must be a comment or nothing: that comment is dropped (it described the
        correct code). If code follows, make `old` run to the end of the line.
      * old and new may span lines: write the lines after the first indented
        relative to the first line (as if it stood at column 0); they are
        re-indented to where old stands. new = "" deletes the text.

    The edited method is compiled inside a class body derived from the rnnref class
    (so `super()` and name mangling behave as in rnnref), in the globals of the
    rnnref module that defines it, under the file name `<mutant NAME>` (registered
    with linecache, so tracebacks and `Mutant.source` show the edited lines). For
    the model, the mutant derives from `SimpleRnnlm64` too, which keeps its float64
    default.
    """
    pairs = tuple(changes)
    if old is not None and new is not None:
        pairs += ((old, new),)
    elif old is not None or new is not None or not pairs:
        raise MutantEditError(f"mutant {name!r}: give old= and new=, or changes=((old, new), ...)")
    return Mutant(
        name,
        family,
        tuple(layers),
        description,
        expect,
        target=target,
        method=method,
        changes=tuple(Change(o, n) for o, n in pairs),
    )


def _build(m: Mutant) -> tuple[type, str]:
    """The class of an edit mutant and its edited method's source: see `edit`."""
    assert m.target is not None and m.method is not None
    ref = reference()
    if m.target not in ref:
        raise MutantEditError(f"mutant {m.name!r}: no class {m.target!r} to edit; choose from {', '.join(ref)}")
    base = ref[m.target]
    rnnref_cls = next(c for c in base.__mro__ if c.__module__.startswith("rnnref"))
    definer = next((c for c in rnnref_cls.__mro__ if m.method in vars(c)), None)
    if definer is None:
        raise MutantEditError(f"mutant {m.name!r}: {m.target} has no method {m.method!r}")
    attr = vars(definer)[m.method]
    func = attr.__func__ if isinstance(attr, (classmethod, staticmethod)) else attr
    if not isinstance(func, types.FunctionType):
        raise MutantEditError(f"mutant {m.name!r}: {definer.__name__}.{m.method} is not a plain method")
    src = textwrap.dedent(inspect.getsource(func))
    if isinstance(attr, (classmethod, staticmethod)) and not src.lstrip().startswith("@"):
        src = f"@{type(attr).__name__}\n{src}"
    for change in m.changes:
        src = _apply(m, definer, src, change)
    if "# BUG:" not in src:
        raise MutantEditError(f"mutant {m.name!r}: no change carries a `# BUG: why` comment on the edited line")
    module = sys.modules[definer.__module__]
    # Generated: a factory holding the class, so the method's super() and mangled
    # names refer to a class named as rnnref's; compiled with rnnref's
    # `from __future__` flags (annotations stay unevaluated as in rnnref).
    body = textwrap.indent(src, " " * 8)
    code = (
        f"def __mutant__(__base__):\n    class {definer.__name__}(__base__):\n{body}\n    return {definer.__name__}\n"
    )
    filename = f"<mutant {m.name}>"
    flags = (
        __future__.annotations.compiler_flag if getattr(module, "annotations", None) is __future__.annotations else 0
    )
    compiled = compile(code, filename, "exec", flags=flags, dont_inherit=True)
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    factory_code = next(c for c in compiled.co_consts if isinstance(c, types.CodeType) and c.co_name == "__mutant__")
    factory = types.FunctionType(factory_code, vars(module))
    edited = factory(rnnref_cls)
    # The model's mutant also derives from SimpleRnnlm64, whose __init__ then calls
    # the edited one (MRO: mutant, SimpleRnnlm64, edited, SimpleRnnlm).
    cls = edited if base is rnnref_cls else type(definer.__name__, (base, edited), {})
    edited.__qualname__ = cls.__qualname__ = f"{definer.__name__}<mutant {m.name}>"
    return cls, src


def _apply(m: Mutant, definer: type, src: str, change: Change) -> str:
    where = (
        f"mutant {m.name!r}: the edit of {definer.__name__}.{m.method} (rnnref/{definer.__module__.split('.')[-1]}.py)"
    )
    first, *rest = change.old.split("\n")
    found = []
    start = src.find(first)
    while start != -1:
        line = src[src.rfind("\n", 0, start) + 1 :]
        indent = line[: len(line) - len(line.lstrip(" "))]
        old = "\n".join([first, *(indent + r if r else r for r in rest)])
        if src.startswith(old, start):
            found.append((start, old, indent))
        start = src.find(first, start + 1)
    if len(found) != 1:
        raise MutantEditError(
            f"{where} expects its old text exactly once in rnnref's source, found it {len(found)} times: "
            f"{change.old!r}. rnnref has changed: bring the edit up to date"
        )
    start, old, indent = found[0]
    end = start + len(old)
    new = "\n".join(indent + line if i and line else line for i, line in enumerate(change.new.split("\n")))
    eol = src.find("\n", end)
    eol = len(src) if eol == -1 else eol
    tail = src[end:eol]
    if "#" in change.new.split("\n")[-1]:
        if tail.strip() and not tail.strip().startswith("#"):
            raise MutantEditError(
                f"{where}: its # BUG comment would comment out {tail.strip()!r}; make old run to the end of the line"
            )
        end = eol
    bol = src.rfind("\n", 0, start) + 1
    if not new and not src[bol:start].strip() and not src[end:eol].strip():
        return src[:bol] + src[eol + 1 :]  # the whole line goes
    return src[:start] + new + src[end:]


from . import attention, basic, dropout, losses, models, recurrent, seq2seq, word2vec  # noqa: E402 (they import edit and Mutant from here)

# The order of the catalogue before it was split into families, so `gradcheck
# selftest` tables compare line by line; a mutant not listed here comes after, in
# family order (recurrent, basic, losses, models).
_ORDER = """
rnn-tanh-derivative-1-h rnn-sigmoid-derivative rnn-forward-no-bias rnn-dx-no-transpose
rnn-dh-prev-no-transpose rnn-dWh-transposed rnn-db-mean rnn-dout-mutated
affine-forward-no-bias affine-dW-wrong-order affine-db-mean affine-grads-accumulate affine-grads-rebound
embedding-assign-not-add-at embedding-grads-not-zeroed
time-rnn-grads-overwritten time-rnn-dh-not-carried time-rnn-backward-off-by-one time-rnn-dh-not-set
time-rnn-dh-last-step time-rnn-dhs-mutated time-rnn-layers-popped time-rnn-grads-rebound
time-rnn-dxs-float32 time-rnn-hs-float32 time-rnn-forward-reversed time-rnn-forward-off-by-one
time-rnn-always-stateful time-rnn-state-not-kept time-rnn-reset-broken time-rnn-set-state-ignored
time-embedding-assign-not-add-at time-embedding-grads-not-zeroed time-embedding-zeros-rebound
time-embedding-forward-transposed
time-affine-forward-no-bias time-affine-db-mean time-affine-dW-last-step
loss-dout-ignored loss-gradient-not-masked loss-backward-normaliser-NT loss-cache-mutated
loss-forward-not-masked loss-forward-sum-not-mean loss-forward-normaliser-NT loss-all-ignored-nan
loss-no-max-shift loss-xs-shifted-in-place loss-ts-mutated loss-onehot-wrong-axis
loss-onehot-max-not-argmax loss-ignore-label-hardcoded
model-params-left-out model-params-copies model-grads-copies model-not-stateful model-dout-ignored
model-reset-broken
time-embedding-built-once time-rnn-layers-built-once loss-softmax-exp-in-place
time-rnn-weight-grads-never-written time-rnn-dh-other-name rnn-redefined-without-backward
time-affine-init-misspelled
""".split()

_ALL = [*recurrent.MUTANTS, *basic.MUTANTS, *dropout.MUTANTS, *losses.MUTANTS, *models.MUTANTS, *word2vec.MUTANTS, *seq2seq.MUTANTS, *attention.MUTANTS]
CATALOGUE: tuple[Mutant, ...] = tuple(
    sorted(_ALL, key=lambda m: _ORDER.index(m.name) if m.name in _ORDER else len(_ORDER) + _ALL.index(m))
)
