"""Shapley attribution: efficiency, symmetry, null players, on random games and random systems."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firesale import load_preset
from firesale.analytics.attribution import attribute, attribution_summary, harsanyi_dividends, shapley_values
from firesale.testing.strategies import system_and_scenarios


@st.composite
def games(draw):
    n = draw(st.integers(1, 5))
    values = np.array(draw(st.lists(st.floats(-100, 100), min_size=2 ** n, max_size=2 ** n)))
    return n, values


@given(games())
def test_efficiency_and_the_dividends_on_random_games(game):
    n, v = game
    phi = shapley_values(v)
    assert phi.sum() == pytest.approx(v[-1] - v[0], abs=1e-9)
    # φ_i = Σ_{T ∋ i} d(T) / |T|  (Harsanyi 1963)
    d = harsanyi_dividends(v)
    for i in range(n):
        expected = sum(d[t] / bin(t).count("1") for t in range(1, 2 ** n) if t >> i & 1)
        assert phi[i] == pytest.approx(expected, abs=1e-9)


@given(st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_symmetric_players_get_equal_shares_and_a_null_player_zero(n, seed):
    rng = np.random.default_rng(seed)
    # v depends on how many of players 0 and 1 are in S (symmetric in them) and on the rest;
    # player n-1 changes nothing (a null player)
    table = rng.normal(size=(3, 2 ** (n - 1)))
    v = np.empty(2 ** n)
    for mask in range(2 ** n):
        rest = mask >> 2 & ((1 << (n - 3)) - 1) if n > 2 else 0
        v[mask] = table[(mask & 1) + (mask >> 1 & 1), rest]
    phi = shapley_values(v)
    assert phi[0] == pytest.approx(phi[1], abs=1e-12)
    if n > 2:
        assert phi[n - 1] == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(system_and_scenarios(count=1))
def test_engine_attribution_adds_up_and_a_switched_off_mechanism_gets_zero(case):
    system, (scenario,) = case
    result = attribute(system, scenario.updated(**{"channels.information": False}))
    phi = result.shapley_total_loss
    # efficiency holds to the rounding of the largest coalition's value (a corner that runs
    # away can lose far more than the full model)
    largest = float(np.abs(result.total_loss).max())
    assert float(phi.sum()) == pytest.approx(result.attrs["total"] - result.attrs["baseline"],
                                             rel=1e-9, abs=1e-9 * max(1.0, largest))
    assert float(phi.sel(player="information")) == 0.0  # off in the scenario: no corner differs
    assert float(result.shapley_forced_sales.sel(player="information")) == 0.0
    # the price falls and group losses add up per asset and per group too
    np.testing.assert_allclose(result.shapley_price_fall.sum("player"),
                               result.price_fall.isel(corner=-1) - result.price_fall.isel(corner=0), atol=1e-12)


def test_dealer_prime_amplification_is_all_balance_sheet():
    preset = load_preset("dealer_prime")
    summary = attribution_summary(attribute(preset.system, preset.scenario))
    # the only channel that acts is the SLR: it causes all 114 of the forced sales (19x the loss of 6)
    assert summary["forced_sales"] == pytest.approx(114.0, abs=1e-9)
    assert summary["share_forced_sales"] == {"balance_sheet": 1.0, "funding": 0.0, "information": 0.0}
    assert summary["forced_sales"] / 6.0 == pytest.approx(19.0)
    # Treasuries trade at no impact here: the loss is the shock's 6, nothing to share
    assert summary["baseline_loss"] == pytest.approx(6.0) and summary["total_loss"] == pytest.approx(6.0)
    assert set(summary["share"].values()) == {None}


def test_dealer_groups_interaction_of_balance_sheet_and_funding():
    preset = load_preset("dealer_groups")
    result = attribute(preset.system, preset.scenario)
    s = attribution_summary(result)
    assert math.isclose(sum(s["shapley"].values()), s["total_loss"] - s["baseline_loss"], rel_tol=1e-12)
    # funding alone moves almost nothing; together with balance-sheet contagion it adds a lot
    assert s["alone"]["funding"] < 0.05 * s["shapley"]["funding"] + 1.0
    assert s["interactions"]["balance_sheet+funding"] > 0
