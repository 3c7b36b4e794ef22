"""The oracle really computes in float64: x64 is on and what comes back is float64,
also when the layer's values are float32 (they are upcast, not computed in float32)."""

import numpy as np
import pytest

from gradcheck.examples import make_example
from gradcheck.oracle import Oracle
from gradcheck.specs import SPECS


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_oracle_returns_float64_for_every_spec(name, dtype):
    import jax

    assert jax.config.jax_enable_x64
    spec = SPECS[name]
    ex = make_example(spec, {"N": 2, "T": 3, "S": 4, "D": 4, "H": 5, "V": 6}, seed=0, dtype=dtype)
    ref = Oracle()(spec, ex.values, ex.dout, ex.dims)
    assert ref.out.dtype == np.float64
    assert {k: g.dtype for k, g in ref.grads.items()} == {
        a.name: np.dtype(np.float64) for a in spec.args if a.differentiable
    }


def test_oracle_keeps_float64_precision():
    """exp(1e-10) - 1 needs float64: float32 would return 0 or a 1e-7-sized error."""
    spec = SPECS["TimeAffine"]
    ex = make_example(spec, {"N": 1, "T": 1, "H": 1, "V": 1}, seed=0)
    ex.values["W"][...] = 1.0
    ex.values["b"][...] = 1e-10
    ex.values["xs"][...] = 1.0
    ref = Oracle()(spec, ex.values, np.ones((1, 1, 1)), ex.dims)
    assert ref.out[0, 0, 0] - 1.0 == pytest.approx(1e-10, rel=1e-5)
