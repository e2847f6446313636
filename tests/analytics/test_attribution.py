"""Shapley attribution: efficiency, symmetry, null players, on random games and random systems; signed
shares on a hand game; an exogenous redemption wave carried by the baseline, credited to no channel."""

import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firesale import Scenario, System, load_preset
from firesale.analytics.attribution import (
    attribute,
    attribution_summary,
    harsanyi_dividends,
    shapley_shares,
    shapley_values,
)
from firesale.errors import ConfigError
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
    phi = result[f"shapley_{result.attrs['outcome']}"]  # the default outcome: the levered capital loss
    # efficiency holds to the rounding of the largest coalition's value (a corner that runs
    # away can lose far more than the full model)
    largest = float(np.abs(result.total_loss).max())
    # the total loss, attributed beside it, adds up too
    assert float(result.shapley_total_loss.sum()) == pytest.approx(
        float(result.total_loss[-1] - result.total_loss[0]), rel=1e-9, abs=1e-9 * max(1.0, largest))
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


# --------------------------------------------------------------------------- shares and exogenous waves
def _hand_result(levered: list[float], phi: list[float]) -> xr.Dataset:
    """An attribution result of two players built by hand: the corners' levered capital loss
    (and the same total loss), the players' Shapley values ``phi``, no sales."""
    corners = ["none", "a", "b", "a+b"]
    zeros = np.zeros(4)
    data = {
        "levered_capital_loss": ("corner", np.array(levered)), "total_loss": ("corner", np.array(levered)),
        "forced_sales": ("corner", zeros), "shapley_levered_capital_loss": ("player", np.array(phi)),
        "shapley_total_loss": ("player", np.array(phi)), "shapley_forced_sales": ("player", np.zeros(2)),
        "dividend_levered_capital_loss": ("corner", zeros), "dividend_total_loss": ("corner", zeros),
        "shapley_price_fall": (("player", "asset"), np.zeros((2, 1))),
        "shapley_group_loss": (("player", "group"), np.zeros((2, 1))),
    }
    return xr.Dataset(data, coords={"corner": corners, "player": ["a", "b"], "asset": ["bond"], "group": ["g"]},
                      attrs={"players": "a;b", "outcome": "levered_capital_loss"})


def test_shares_are_signed_over_the_sum_of_absolute_values():
    # v(∅) = 0, v({a}) = 3, v({b}) = -1, v({a, b}) = 2. By hand:
    # φ_a = ½ (3 - 0) + ½ (2 - (-1)) = 3, φ_b = ½ (-1 - 0) + ½ (2 - 3) = -1
    v = [0.0, 3.0, -1.0, 2.0]
    assert shapley_values(np.array(v)).tolist() == [3.0, -1.0]
    summary = attribution_summary(_hand_result(v, [3.0, -1.0]))
    # shares over |3| + |-1| = 4, signed: 3/4 and -1/4 (not 3/2 and -1/2 of v(N) - v(∅) = 2)
    assert summary["share"] == {"a": 0.75, "b": -0.25}
    assert summary["shapley"] == {"a": 3.0, "b": -1.0}
    assert summary["share_forced_sales"] == {"a": None, "b": None}  # no sales: nothing to share
    assert shapley_shares([3.0, 3.0, -2.0]) == [0.375, 0.375, -0.25]


def test_dealer_market_shares_carry_the_sign_of_their_values():
    preset = load_preset("dealer_market")
    result = attribute(preset.system, preset.scenario)
    for outcome in ("levered_capital_loss", "total_loss"):
        s = attribution_summary(result, outcome=outcome)
        shares = [x for x in s["share"].values() if x is not None]
        assert shares and sum(abs(x) for x in shares) == pytest.approx(1.0, abs=1e-12)
        for player, value in s["shapley"].items():
            assert s["share"][player] * value >= 0.0, (outcome, player)  # the same sign
    with pytest.raises(ConfigError, match="FS831"):
        attribution_summary(result, outcome="loss")


def wave_system() -> System:
    """A levered bank (debt 180) and an unlevered fund holding one bond, linear impact with
    depth 1000, no constraint to trigger; the fund's investors do not chase performance
    (redemption sensitivity 0): only a redemption wave moves anything."""
    return System.from_records(
        [{"name": "bank", "type": "bank", "liabilities": 180.0},
         {"name": "fund", "type": "asset_manager", "liabilities": 0.0}],
        [{"name": "bond", "class": "corporate_ig", "sigma0": 0.005, "impact": "linear", "depth": 1000.0}],
        [{"institution": "bank", "asset": "bond", "quantity": 200.0},
         {"institution": "fund", "asset": "bond", "quantity": 100.0}], name="wave")


def test_a_redemption_wave_is_part_of_the_shock_not_a_channel():
    # investors redeem 20% of the fund's NAV of 100 in round 0: it sells 20 at the t0 price,
    # and the linear law moves the price by 20 / 1000 = 2%, whatever the channels do
    scenario = Scenario(name="wave", shocks=[{"institution": "fund", "redemption": 0.2}], max_rounds=10)
    result = attribute(wave_system(), scenario, "channels")
    # the baseline, every channel off, carries the wave's price effect and its loss:
    # the bank's 200 of the bond marked 2% down
    assert float(result.price_fall.sel(corner="none").item()) == pytest.approx(0.02, abs=1e-12)
    assert result.attrs["baseline"] == pytest.approx(200 * 0.02, abs=1e-9)
    summary = attribution_summary(result)
    assert summary["baseline_loss"] == pytest.approx(summary["total_loss"], abs=1e-9)
    for value in (*summary["shapley"].values(), *summary["shapley_forced_sales"].values()):
        assert value == pytest.approx(0.0, abs=1e-9)  # no channel is credited with the wave
    np.testing.assert_allclose(result.shapley_price_fall.values, 0.0, atol=1e-12)
    # the total loss adds the fund's own: only the information channel's quoting costs
    # move it, by under 1% of the baseline; the redemption channel gets nothing
    total = summary["outcomes"]["total_loss"]
    assert total["shapley"]["redemption"] == pytest.approx(0.0, abs=1e-9)
    assert sum(abs(v) for v in total["shapley"].values()) < 0.01 * total["baseline"]
