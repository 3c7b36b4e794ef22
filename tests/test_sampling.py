"""Layers that draw their own inputs (NegativeSamplingLoss, gradcheck/sampling.py):
np.random held fixed in every forward and the caller's stream untouched, the
negatives recorded from np.random.choice for the spec, and the sampler's
distribution checked. Each check: a correct layer passes, a known-wrong one fails."""

from __future__ import annotations

import numpy as np
import pytest
from buggy_layers import NegativeSamplingPowerIgnored

import rnnref
from gradcheck.engine import check_example, default_oracle
from gradcheck.examples import make_example
from gradcheck.sampling import expected_counts, laid_out, recorded_choices
from gradcheck.specs import SPECS

SPEC = SPECS["NegativeSamplingLoss"]


def findings(cls, seed=0, dtype=np.float64, dims=None):
    ex = make_example(SPEC, dims or {"N": 3, "D": 4, "V": 6}, seed, dtype)
    return check_example(SPEC, cls, ex, oracle=default_oracle())


def by_check(found) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in found:
        out.setdefault(f.check, set()).add(f.status)
    return out


@pytest.mark.parametrize("dims", [{"N": 3, "D": 4, "V": 6}, {"N": 5, "D": 2, "V": 9}])
def test_rnnref_passes_every_check_against_the_spec_given_the_recorded_negatives(dims):
    got = by_check(findings(rnnref.NegativeSamplingLoss, dims=dims))
    assert all(s == {"pass"} for s in got.values()), got
    assert {"forward", "backward-jax", "backward-fd", "sampler"} <= set(got)


def test_the_callers_random_stream_is_untouched():
    np.random.seed(99)
    expected = np.random.rand(3)
    np.random.seed(99)
    findings(rnnref.NegativeSamplingLoss, seed=5)
    np.testing.assert_array_equal(np.random.rand(3), expected)


def test_recorded_choices_keeps_what_choice_returned_and_restores_it():
    inner = np.random.choice
    with recorded_choices() as draws:
        a = np.random.choice(5, size=3, replace=False)
        b = np.random.choice(4, size=(2, 2))
    assert np.random.choice is inner
    np.testing.assert_array_equal(draws[0], a)
    np.testing.assert_array_equal(draws[1], b)
    assert laid_out(draws, (7,), 5).shape == (7,)
    why = laid_out(draws, (2, 2), 5)  # 7 values for a (2, 2): says why
    assert isinstance(why, str) and "2 np.random.choice call(s) returned 7" in why and "4 word ids" in why
    assert laid_out([], (2, 2), 5) == "forward drew nothing with np.random.choice"
    assert "outside [0, 2)" in laid_out(draws, (7,), 2)  # 3 distinct ids of 5: one is >= 2


def test_expected_counts_remove_each_rows_target():
    mean, var = expected_counts(np.array([0.5, 0.25, 0.25]), np.array([0, 1]))
    np.testing.assert_allclose(mean, [0 + 2 / 3, 0.5 + 0, 0.5 + 1 / 3])
    assert (var >= 0).all()


class _TargetAllowed(rnnref.UnigramSampler):
    def row_p(self, target_word):
        return self.word_p


class TargetAllowed(rnnref.NegativeSamplingLoss):
    def __init__(self, W, corpus, power=0.75, sample_size=5):
        super().__init__(W, corpus, power, sample_size)
        self.sampler = _TargetAllowed(corpus, power, sample_size)


@pytest.mark.parametrize(
    ("cls", "words"),
    [(NegativeSamplingPowerIgnored, "is the power applied?"), (TargetAllowed, "drew their own target as a negative")],
)
def test_a_wrong_sampler_fails_the_sampler_check_and_only_it(cls, words):
    found = findings(cls, seed=1)
    sampler = [f for f in found if f.check == "sampler"]
    assert [f.status for f in sampler] == ["fail"] and words in sampler[0].message
    # the gradients are right for the negatives it drew: nothing else fails
    assert all(f.status == "pass" for f in found if f.check != "sampler")


class RandintSampler(rnnref.NegativeSamplingLoss):
    """A right loss whose negatives come from np.random.randint (uniform, not
    count ** 0.75, and not recordable from np.random.choice)."""

    def forward(self, h, target):
        self.sampler.get_negative_sample = lambda t: np.random.randint(0, self.sampler.vocab_size, (len(t), 5))
        return super().forward(h, target)


def test_negatives_that_cannot_be_recorded_are_a_warning_and_the_fd_checks_still_run():
    got = {f.check: f for f in findings(RandintSampler, seed=2, dims={"N": 4, "D": 3, "V": 8})}
    assert got["sampler"].status == "warn"
    assert "could not be recovered" in got["sampler"].message or "not checked" in got["sampler"].message
    assert got["forward"].status == "skip" and got["backward-fd"].status == "pass"
    assert "see sampler" in got["forward"].message


class OwnGenerator(rnnref.NegativeSamplingLoss):
    """Negatives from a generator of its own: two forwards differ, nothing to hold fixed."""

    rng = np.random.default_rng(0)

    def forward(self, h, target):
        rng = self.rng
        V = self.sampler.vocab_size
        self.sampler.get_negative_sample = lambda t: np.stack(
            [rng.choice(np.delete(np.arange(V), w), 5, replace=False) for w in t]
        )
        return super().forward(h, target)


def test_a_sampler_on_its_own_generator_is_named():
    found = findings(OwnGenerator, seed=3, dims={"N": 4, "D": 3, "V": 8})
    messages = " ".join(f.message for f in found if f.check == "sampler")
    assert any(f.check == "sampler" and f.status == "warn" for f in found), messages
    assert not any(f.status == "fail" for f in found)  # not held fixed: no false alarm from finite differences
