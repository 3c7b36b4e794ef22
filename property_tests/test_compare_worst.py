"""`compare` finds its worst entries by partial selection; they are the entries a
full sort of every entry's error ratio puts first, in the same order."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.compare import PRECISIONS, compare

RTOL = PRECISIONS[np.dtype(np.float64)].analytic


@st.composite
def expected_and_actual(draw):
    """An expected array and an actual one off by a random amount per entry (some
    entries exact, some far off, some non-finite), as a buggy gradient would be."""
    shape = draw(st.lists(st.integers(1, 7), min_size=1, max_size=3), label="shape")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    expected = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, size=shape)
    actual = expected + expected * rng.standard_normal(shape) * 10.0 ** rng.integers(-18, 1, size=shape)
    exact = rng.random(shape) < draw(st.sampled_from([0.0, 0.3]), label="exact fraction")
    actual = np.where(exact, expected, actual)
    if draw(st.booleans(), label="non-finite"):
        actual.flat[rng.integers(actual.size)] = np.inf
    return expected, actual


def ratio(e) -> float:
    return np.inf if np.isinf(e.error) else e.error / e.allowed


@given(arrays=expected_and_actual(), n_worst=st.integers(0, 6))
def test_worst_entries_are_the_first_of_a_full_sort(arrays, n_worst):
    expected, actual = arrays
    full = compare(actual, expected, RTOL, n_worst=expected.size)
    assert full.size == expected.size
    ranked = [ratio(e) for e in full.worst]
    # The full listing holds every entry that differs at all, worst first.
    assert ranked == sorted(ranked, reverse=True)
    assert len(full.worst) == int(np.count_nonzero(actual != expected))

    few = compare(actual, expected, RTOL, n_worst=n_worst)
    assert (few.ok, few.ratio, few.bad_count) == (full.ok, full.ratio, full.bad_count)
    assert [ratio(e) for e in few.worst] == ranked[:n_worst]
    # Equal ratios (several inf, or exact ties) may come in either order; distinct ones may not.
    if len(set(ranked)) == len(ranked):
        assert [e.index for e in few.worst] == [e.index for e in full.worst[:n_worst]]
    assert len({e.index for e in few.worst}) == len(few.worst)
