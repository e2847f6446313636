"""The scalar helpers of the compiled phases give numpy's bits: NaN, signed zeros and
the order of numpy's sums."""

import numpy as np
import pytest

pytest.importorskip("numba")  # the compiled path is optional; make test installs numba

from firesale.engine.compiled_scalars import clip, maximum, minimum, pairwise_sum, sign  # noqa: E402

SPECIAL = [0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan]


def _bits(x: float) -> bytes:
    return np.float64(x).tobytes()


@pytest.mark.parametrize("a", SPECIAL)
@pytest.mark.parametrize("b", SPECIAL)
def test_minimum_and_maximum_are_numpys(a, b):
    assert _bits(minimum(a, b)) == _bits(np.minimum(a, b))
    assert _bits(maximum(a, b)) == _bits(np.maximum(a, b))
    assert _bits(clip(a, -1.0, 2.0)) == _bits(np.clip(a, -1.0, 2.0))


@pytest.mark.parametrize("x", SPECIAL)
def test_sign_is_numpys(x):
    assert _bits(sign(x)) == _bits(np.sign(x))


def test_pairwise_sum_is_numpys_order():
    """np.sum is its identity plus the pairwise sum of all terms; np.add.reduceat (the
    numpy phases' sums over positions) the first term plus the pairwise sum of the rest."""
    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 7, 8, 9, 15, 16, 17, 128, 129, 130, 300, 1000, 5003):
        values = rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 6, n)
        assert _bits(0.0 + pairwise_sum(values, 0, n)) == _bits(values.sum()), n
        if n:
            assert _bits(values[0] + pairwise_sum(values, 1, n - 1)) == _bits(np.add.reduceat(values, [0])[0]), n
    zeros = np.full(3, -0.0)
    assert _bits(zeros[0] + pairwise_sum(zeros, 1, 2)) == _bits(np.add.reduceat(zeros, [0])[0])  # -0.0
