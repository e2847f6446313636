"""Breuer, Summer & Urosevic, "Systemic loss evaluation" (OeNB WP 235): fire-sale equilibria.

The toy of their Appendix A3 (also ``R/test_example_thomas.R`` in the authors' package
github.com/Martin-Summer-1090/syslosseval): e = [28, 80, 65], S = [145, 435, 300],
L = [1170, 1245, 1190], λ̄ = 44, impact sqrt(0.000022 q) has the fixed points 0.0564801
(least, stable), 0.114085 (unstable) and 0.13914 (greatest, stable) — DESIGN §3.
"""

import numpy as np
import pytest

from firesale.errors import ConfigError
from firesale.models.bsu import (
    SquareRootImpact,
    equilibria,
    equilibrium_stability,
    fire_sale_map,
    lower_equilibrium,
    sales_fractions,
    upper_equilibrium,
)

EQUITY = [28.0, 80.0, 65.0]
SECURITIES = [145.0, 435.0, 300.0]
LOANS = [1170.0, 1245.0, 1190.0]
BOUND = 44.0
TOY_IMPACT = SquareRootImpact(volatility=[1.0], adv=[1 / 0.000022], kappa=1.0)
TOY = (EQUITY, SECURITIES, LOANS, BOUND)
PUBLISHED = (0.056480, 0.114085, 0.139140)


def test_toy_has_the_three_published_fixed_points():
    eqs = equilibria(*TOY, TOY_IMPACT)
    assert eqs.multiple
    assert len(eqs.unstable) == 1
    found = [float(x.price_fall[0]) for x in (eqs.lower, eqs.unstable[0], eqs.upper)]
    np.testing.assert_allclose(found, PUBLISHED, atol=1e-6)
    for x in (eqs.lower, eqs.unstable[0], eqs.upper):
        assert x.residual < 1e-12


def test_lower_and_upper_alone_and_with_a_plain_callable():
    plain = lambda q: np.sqrt(0.000022 * q)
    low, high = lower_equilibrium(*TOY, plain), upper_equilibrium(*TOY, plain)
    assert abs(low.price_fall[0] - PUBLISHED[0]) < 1e-6 and abs(high.price_fall[0] - PUBLISHED[2]) < 1e-6
    assert low.iterations >= 1 and high.iterations >= 1
    assert low.price_fall[0] < high.price_fall[0]


def test_lower_and_upper_are_stable_the_middle_is_not():
    eqs = equilibria(*TOY, TOY_IMPACT)
    assert equilibrium_stability(eqs.lower.price_fall, *TOY, TOY_IMPACT) < 1
    assert equilibrium_stability(eqs.upper.price_fall, *TOY, TOY_IMPACT) < 1
    assert equilibrium_stability(eqs.unstable[0].price_fall, *TOY, TOY_IMPACT) > 1


def test_sales_restore_the_leverage_bound():
    """A partial seller ends exactly at λ̄: ((1 − θ) S (1 − Δ) + L) / (e − S Δ) = λ̄ (eq. 6)."""
    middle = equilibria(*TOY, TOY_IMPACT).unstable[0]
    d, theta = middle.price_fall[0], middle.sales_fraction
    e, s, loans = map(np.asarray, (EQUITY, SECURITIES, LOANS))
    partial = (theta > 0) & (theta < 1)
    assert partial.sum() == 2
    leverage = ((1 - theta) * s * (1 - d) + loans) / (e - s * d)
    np.testing.assert_allclose(leverage[partial], BOUND, rtol=1e-12)
    # at t0 prices only bank 1 (leverage 47) is above 44, and sells 1 − 62/145
    np.testing.assert_allclose(sales_fractions([0.0], *TOY), [1 - 62 / 145, 0, 0], atol=1e-15)
    np.testing.assert_allclose(fire_sale_map([0.0], *TOY, TOY_IMPACT), np.sqrt(0.000022 * (145 - 62)), rtol=1e-14)


def test_unique_equilibrium_when_impact_is_weak():
    weak = SquareRootImpact([1.0], [1 / 0.00001], kappa=1.0)
    eqs = equilibria(*TOY, weak)
    assert not eqs.multiple and eqs.unstable == []
    assert eqs.lower.price_fall[0] > 0
    np.testing.assert_allclose(eqs.lower.price_fall, eqs.upper.price_fall, atol=1e-10)


def test_no_bank_above_the_bound_means_no_fire_sale():
    eqs = equilibria(EQUITY, SECURITIES, LOANS, 60.0, TOY_IMPACT)
    assert eqs.lower.price_fall[0] == 0 and not eqs.multiple


def test_two_identical_security_classes_give_the_same_equilibria():
    """Split each bond holding in two classes with half the ADV each: nothing changes, and
    the segment search of K > 1 finds the unstable point."""
    split = np.column_stack([SECURITIES, SECURITIES]) / 2
    impact = SquareRootImpact([1.0, 1.0], [0.5 / 0.000022] * 2, kappa=1.0)
    eqs = equilibria(EQUITY, split, LOANS, BOUND, impact)
    assert len(eqs.unstable) == 1
    for x, published in zip((eqs.lower, eqs.unstable[0], eqs.upper), PUBLISHED, strict=True):
        np.testing.assert_allclose(x.price_fall, [published, published], atol=1e-6)


def test_square_root_impact_is_capped_at_one():
    assert SquareRootImpact([0.5], [1.0], kappa=1.5)([1e6])[0] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"equity": [28.0, 0.0, 65.0]}, "equity"),
        ({"equity": [28.0, -1.0, 65.0]}, "equity"),
        ({"leverage_bound": 0.0}, "leverage_bound"),
        ({"leverage_bound": -3.0}, "leverage_bound"),
        ({"securities": [145.0, 435.0]}, "securities"),
        ({"other_assets": [1170.0, 1245.0]}, "other_assets"),
        ({"securities": [145.0, -1.0, 300.0]}, "securities"),
        ({"impact": "sqrt"}, "impact"),
    ],
)
def test_bad_input_names_the_argument(kwargs, argument):
    args = {"equity": EQUITY, "securities": SECURITIES, "other_assets": LOANS, "leverage_bound": BOUND,
            "impact": TOY_IMPACT} | kwargs
    with pytest.raises(ConfigError, match=argument) as info:
        equilibria(**args)
    assert "FS802" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"volatility": [0.0]}, "volatility"), ({"adv": [-5.0]}, "adv"), ({"kappa": 0.0}, "kappa"),
     ({"volatility": [0.1, 0.2]}, "adv")],
)
def test_bad_impact_parameters_name_the_argument(kwargs, argument):
    with pytest.raises(ConfigError, match=argument):
        SquareRootImpact(**({"volatility": [1.0], "adv": [1.0], "kappa": 1.0} | kwargs))


def test_an_impact_function_of_the_wrong_shape_is_reported():
    with pytest.raises(ConfigError, match="impact"):
        lower_equilibrium(*TOY, lambda q: np.array([0.1, 0.2]))
