"""Reverse stress test (firesale.analytics.reverse) against closed forms.

Without any feedback (every channel off, outside buyers at the fundamental price) a run is a
revaluation: an asset's lowest price is ``1 + x_k`` and the levered loss of a lone holder is
``-h' x``. The least-distance shock that meets a linear target ``a' x <= -c`` is then, by
Lagrange, ``x* = -c Sigma a / (a' Sigma a)`` at distance ``c / sqrt(a' Sigma a)``
(Breuer, Jandacka, Rheinberger & Summer 2009, eq. 5 with a linear loss).
"""

import math

import numpy as np
import pytest
from scipy.stats import chi2, norm

from _revaluation import CALM, HOLDINGS, covariance, revaluation_system

from firesale import simulate
from firesale.analytics.outcomes import outcome_values, parse_target
from firesale.analytics.reverse import factor_table, reverse_stress, shock_space
from firesale.errors import ConfigError

def _closed_form(a: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    cov = covariance()
    return -c * cov @ a / (a @ cov @ a), c / math.sqrt(a @ cov @ a)


def test_the_revaluation_is_linear():
    """The premise of the closed forms: loss -h'x and trough 1 + x on this system."""
    x = np.array([-0.03, -0.05])
    ds = simulate(revaluation_system(), CALM.updated(shocks=[{"asset": "a", "price": x[0]}, {"asset": "b", "price": x[1]}]))
    values = outcome_values(ds, ["loss", "price.a", "price.b"])
    assert values["loss"][0] == pytest.approx(-HOLDINGS @ x, rel=1e-12)
    assert values["price.a"][0] == pytest.approx(1 + x[0], abs=1e-12)
    assert values["price.b"][0] == pytest.approx(1 + x[1], abs=1e-12)


@pytest.mark.parametrize(("target", "a", "c"), [
    ("loss>=5", HOLDINGS, 5.0),
    ("price.a<=0.97", np.array([1.0, 0.0]), 0.03),
    ("price.b<=0.9", np.array([0.0, 1.0]), 0.1),
])
def test_least_distance_shock_matches_the_closed_form(target, a, c):
    system = revaluation_system()
    result = reverse_stress(system, CALM, parse_target(target, system), seed=3)
    expected, distance = _closed_form(a, c)
    assert result.found and not result.met_without_shock
    np.testing.assert_allclose(result.values, expected, atol=1e-3 * np.abs(expected).max())
    assert result.radius == pytest.approx(distance, rel=1e-3)
    assert result.probability == pytest.approx(chi2.sf(distance ** 2, 2), rel=1e-2)
    assert result.probability_beyond == pytest.approx(norm.sf(distance), rel=1e-2)
    shares = [row["share_of_distance"] for row in factor_table(result)]
    assert sum(shares) == pytest.approx(1.0, abs=1e-9)


def test_the_boundary_is_the_first_crossing():
    system = revaluation_system()
    result = reverse_stress(system, CALM, parse_target("loss>=5", system))
    at, below = (simulate(system, CALM.updated(shocks=result.space.shocks(m * result.values))) for m in (1.0, 0.98))
    assert outcome_values(at, ["loss"])["loss"][0] >= 5.0
    assert outcome_values(below, ["loss"])["loss"][0] < 5.0
    assert result.below < result.radius and result.radius - result.below <= 1e-6 * result.radius


def test_same_seed_same_answer():
    system = revaluation_system()
    target = parse_target("loss>=5", system)
    one, two = (reverse_stress(system, CALM, target, seed=11) for _ in range(2))
    assert np.array_equal(one.values, two.values) and one.radius == two.radius


def test_a_target_met_without_any_shock_has_distance_zero():
    system = revaluation_system()
    result = reverse_stress(system, CALM, parse_target("loss>=0", system))
    assert result.met_without_shock and result.radius == 0.0 and result.probability == 1.0


def test_a_target_out_of_reach_is_not_found():
    system = revaluation_system()
    # the holder has 20 of cash and 150 of securities: it cannot lose 1,000
    result = reverse_stress(system, CALM, parse_target("loss>=1000", system), max_steps=0)
    assert not result.found and math.isinf(result.radius)


def test_shock_space_covariance():
    space = shock_space(revaluation_system())
    np.testing.assert_allclose(space.loadings @ space.loadings.T, covariance(), rtol=1e-12, atol=1e-18)
    x = np.array([-0.02, 0.01])
    assert space.distance(x) == pytest.approx(math.sqrt(x @ np.linalg.solve(covariance(), x)), rel=1e-10)


@pytest.mark.parametrize(("over", "code"), [("prices", "FS765"), ("price+funding", "FS766")])
def test_bad_search_space_is_a_clear_error(over, code):
    with pytest.raises(ConfigError, match=code):
        shock_space(revaluation_system(), over)


@pytest.mark.parametrize(("text", "code"), [
    ("", "FS760"), ("defaults", "FS760"), ("default>=1", "FS761"), ("price>=1", "FS761"),
    ("price.zzz<=0.9", "FS762"), ("yield.a>=30", "FS763"), ("regime.a>=1", "FS764"), ("loss>=ten", "FS764"),
    ("loss>=nan", "FS764"), ("defaults>=", "FS760"), ("defaults>=>1", "FS760"),
])
def test_bad_target_is_a_clear_error(text, code):
    with pytest.raises(ConfigError, match=code):
        parse_target(text, revaluation_system())


def test_volatility_and_funding_factors():
    """The extra factors: independent of the prices, at their documented scales, and mapped
    to the scenario's shock fields (a volatility multiplier exp(v); a redemption only above 0)."""
    from firesale import load_preset
    from firesale.analytics.reverse import FUND_TYPES, REDEMPTION_SCALE, VOLATILITY_SCALE

    system = load_preset("march_2020").system
    funds = [i.name for i in system.institutions if i.type in FUND_TYPES]
    space = shock_space(system, "price+funding")
    kinds = [k for k, _ in space.factors]
    assert [n for k, n in space.factors if k == "redemption"] == funds
    cov = space.loadings @ space.loadings.T
    red = np.array([k == "redemption" for k in kinds])
    np.testing.assert_allclose(cov[np.ix_(red, red)], np.eye(red.sum()) * REDEMPTION_SCALE ** 2, atol=1e-15)
    np.testing.assert_allclose(cov[np.ix_(red, ~red)], 0.0, atol=1e-15)
    x = np.zeros(len(kinds))
    x[np.flatnonzero(red)[:2]] = [0.02, -0.01]
    assert space.shocks(x) == [{"institution": funds[0], "redemption": 0.02}]
    vol = shock_space(system, "price+volatility")
    assert vol.scale[-1] == pytest.approx(0.86 / np.sqrt(252)) and VOLATILITY_SCALE == vol.scale[-1]
    y = np.zeros(len(vol.factors))
    y[-1] = np.log(2.0)
    assert vol.shocks(y) == [{"asset": vol.factors[-1][1], "volatility": pytest.approx(2.0)}]


def test_price_and_volatility_on_the_var_desk():
    """var_desk's desk sells when its VaR passes its limit, which a price fall or a volatility
    jump can do; a doubling of volatility is 12.8 sd of the volatility factor, so the price
    fall wins. The boundary shock meets the target and 0.98 of it does not, run here."""
    from firesale import load_preset

    preset = load_preset("var_desk")
    calm = preset.scenario.updated(shocks=[])
    result = reverse_stress(preset.system, calm, parse_target("forced_sales>=1", preset.system),
                            over="price+volatility")
    assert result.found and result.space.factors[1] == ("volatility", "corporates")
    assert abs(result.values[1]) < 1e-3 * abs(result.values[0])
    at, below = (simulate(preset.system, calm.updated(shocks=result.space.shocks(m * result.values)))
                 for m in (1.0, 0.98))
    assert outcome_values(at, ["forced_sales"])["forced_sales"][0] >= 1.0
    assert outcome_values(below, ["forced_sales"])["forced_sales"][0] < 1.0
