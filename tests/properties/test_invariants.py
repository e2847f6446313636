"""Invariants of DEVELOPERS.md on random systems, every round (hypothesis)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from firesale import Scenario, System, simulate
from firesale.channels import SWITCHES
from firesale.testing import (
    CHECKS,
    assert_batch_equals_single,
    assert_channels_off_is_revaluation,
    assert_deterministic,
    assert_invariants,
    assert_zero_shock_no_sales,
    check_channel,
    parametrize_with_checks,
)
from firesale.testing.strategies import random_system, system_and_scenarios

pytestmark = pytest.mark.property
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(system_and_scenarios(count=3))
def test_accounting_invariants_every_round(case):
    system, scenarios = case
    assert_invariants(simulate(system, scenarios, detail=True))


@PROPERTY
@given(system_and_scenarios(count=4))
def test_batch_equals_one_at_a_time(case):
    assert_batch_equals_single(*case)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(system_and_scenarios(count=2))
def test_deterministic_and_inputs_unchanged(case):
    assert_deterministic(*case)


@PROPERTY
@given(system_and_scenarios(count=1))
def test_zero_shock_and_channels_off(case):
    system, scenarios = case
    assert_zero_shock_no_sales(system, scenarios[0])
    assert_channels_off_is_revaluation(system, scenarios[0])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=system_and_scenarios(count=2))
@parametrize_with_checks()
def test_each_channel_passes_every_check(channel, check, case):
    system, scenarios = case
    check(system, [s.updated(**{f"channels.{c}": c == channel for c in SWITCHES}) for s in scenarios])


def test_batch_of_64_equals_64_runs(tmp_path):
    """A batch of 64 scenarios on one system equals the 64 run one at a time, exactly."""
    system = random_system(seed=64, n=8, k=5)
    rng = np.random.default_rng(64)
    scenarios = [
        Scenario(
            name=f"s{s}",
            shocks=[{"asset": a, "price": float(-rng.uniform(0, 0.12))} for a in system.asset_names if rng.random() < 0.7],
            market={"execution_alpha": float(rng.uniform(0, 1)), "mean_reversion": float(rng.uniform(0, 0.2))},
            max_rounds=int(rng.integers(1, 25)),
        )
        for s in range(64)
    ]
    assert_batch_equals_single(system, scenarios)


def test_check_channel_names_the_failing_check():
    with pytest.raises(ValueError, match="unknown channel 'haircut'"):
        check_channel("haircut", None, [])  # type: ignore[arg-type]
    assert set(CHECKS) >= {"invariants", "batch_equals_single", "deterministic"}


def test_default_liquidates_and_creditors_take_the_loss():
    """A bank pushed below zero equity sells every tradable position and repays what it can."""
    system = System.from_records(
        [{"name": "weak", "type": "bank", "liabilities": 97.0, "cash": 1.0},
         {"name": "strong", "type": "bank", "liabilities": 50.0}],
        [{"name": "bonds", "class": "corporate_ig", "sigma0": 0.01, "depth": 1000.0},
         {"name": "loans", "class": "other", "sigma0": 0.01}],
        [{"institution": "weak", "asset": "bonds", "quantity": 60.0},
         {"institution": "weak", "asset": "loans", "quantity": 39.0},
         {"institution": "strong", "asset": "bonds", "quantity": 100.0}],
    )
    ds = simulate(system, Scenario(shocks=[{"asset": "loans", "price": -0.2}]), detail=True)
    assert_invariants(ds)
    weak = ds.isel(scenario=0).sel(institution="weak")
    assert int(weak.defaulted[0]) == 1
    assert float(weak.holdings.sel(asset="bonds")[0]) == 0.0
    assert float(weak.cash[0]) == 0.0  # every unit of cash went to the creditors
    assert float(weak.equity[-1]) < 0  # creditors take the rest
    # the default sale (60 into depth 1000) moves the bond price for the strong bank too
    assert float(ds.price.sel(asset="bonds")[0, 0]) == pytest.approx(1 - 60 / 1000, rel=1e-12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(system_and_scenarios(count=3))
def test_summary_run_equals_detailed_run(case):
    """detail=False drops the (S, R, N, K) records (and the (S, N, K) total sales) and
    changes nothing else."""
    system, scenarios = case
    full = simulate(system, scenarios, detail=True)
    lean = simulate(system, scenarios, detail=False)
    assert set(full.data_vars) - set(lean.data_vars) == {"holdings", "trading_holdings", "sales", "binding",
                                                              "sales_total"}
    for name in lean.data_vars:
        np.testing.assert_array_equal(lean[name].values, full[name].values, err_msg=name)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(system_and_scenarios(count=5))
def test_chunked_batches_equal_one_batch(case):
    """Working through a batch in chunks (and compacting stopped scenarios) changes no bit."""
    from firesale.engine.simulate import simulate_arrays
    from firesale.engine.state import Inputs, ScenarioArrays

    from firesale.errors import ModelDivergenceError

    system, scenarios = case
    inputs, arrays = Inputs.from_system(system), ScenarioArrays.from_scenarios(system, scenarios)
    try:
        whole = simulate_arrays(inputs, arrays, detail=True, chunk_size=len(scenarios))
    except ModelDivergenceError as whole_error:
        # a random system can be explosive (the engine stops it): then every chunking stops
        # too, each at a scenario that, run alone, stops at the same round and place
        errors = [whole_error]
        for size in (1, 2, 3):
            with pytest.raises(ModelDivergenceError) as chunked_error:
                simulate_arrays(inputs, arrays, detail=True, chunk_size=size)
            errors.append(chunked_error.value)
        for error in errors:
            scenario = error.location["scenario"]
            with pytest.raises(ModelDivergenceError) as alone:
                simulate_arrays(inputs, arrays.take(np.array([scenario])), detail=True)
            assert {**alone.value.location, "scenario": scenario} == error.location
        return
    for size in (1, 2, 3):
        chunked = simulate_arrays(inputs, arrays, detail=True, chunk_size=size)
        assert set(chunked.records) == set(whole.records)
        for name, value in whole.records.items():
            np.testing.assert_array_equal(chunked.records[name], value, err_msg=f"{name}, chunks of {size}")
        np.testing.assert_array_equal(chunked.sales_total, whole.sales_total)
        np.testing.assert_array_equal(chunked.rounds, whole.rounds)
