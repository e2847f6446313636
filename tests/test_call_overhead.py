"""What a ``simulate`` call costs besides its rounds (issue 18): the system's engine arrays
and the coordinates of its results are built once per System object, the Dataset wraps the
engine's arrays, and one pass over the scenarios stacks their settings.

Nothing here is timed (``benchmarks/bench_call.py`` times it). These tests check that the
cheap path still gives the documented result: every variable with the dims, units and
dtype that :data:`firesale.results.RESULT_VARIABLES` declares and the values of the engine
arrays it labels, coordinates equal to the system's tables, a Dataset that xarray's own
invariants accept and that xarray's public constructor would build, and caches that follow
the System they describe (rebuilt when a row is replaced, freed with it).
"""

from __future__ import annotations

import gc
import weakref
from dataclasses import fields

import numpy as np
import pytest
import xarray as xr
from xarray.testing.assertions import _assert_internal_invariants

import firesale
from firesale import Scenario, load_preset, simulate
from firesale.channels import CHANNELS
from firesale.engine.simulate import simulate_arrays
from firesale.engine.state import Inputs, ScenarioArrays
from firesale.errors import DataError
from firesale.results import RESULT_VARIABLES, _assemble, _system_labels
from firesale.simulation import system_inputs

SUMMARIES = ("initial_equity", "initial_loss", "rounds")


def _fresh(name: str, sparse: bool = False) -> firesale.System:
    """A preset's system as a new System object (nothing cached for it yet)."""
    return load_preset(name).system.converted(sparse=sparse)


def _batch() -> list[Scenario]:
    shocked = load_preset("dealer_prime").scenario
    return [shocked, Scenario(), shocked, Scenario(name="calm")]


CASES = {
    "inet one scenario": ("inet_eba2018", False, lambda p: [p.scenario], {"detail": True}),
    "inet sparse": ("inet_eba2018", True, lambda p: [p.scenario], {"detail": True}),
    "dealer groups, no detail": ("dealer_groups", False, lambda p: [p.scenario], {"detail": False}),
    "march variables": ("march_2020", False, lambda p: [p.scenario],
                        {"detail": True, "variables": ["price", "equity", "sales", "breach"]}),
    "gilt loop gain": ("gilt_ldi_2022", False, lambda p: [p.scenario], {"detail": True, "loop_gain": True}),
    "dealer prime batch": ("dealer_prime", False, lambda p: _batch(), {"detail": True}),
}


def _run(case: str):
    name, sparse, scenarios_of, kwargs = CASES[case]
    preset = load_preset(name)
    system = preset.system.converted(sparse=sparse)
    scenarios = scenarios_of(preset)
    ds = simulate(system, scenarios, **kwargs)
    # the engine's arrays, from a run of their own (built without any cache)
    trajectory = simulate_arrays(Inputs.from_system(system), ScenarioArrays.from_scenarios(system, scenarios),
                                 **kwargs)
    return system, scenarios, kwargs, ds, trajectory


@pytest.mark.parametrize("case", list(CASES))
def test_every_variable_is_the_engine_array_it_labels(case):
    system, scenarios, kwargs, ds, trajectory = _run(case)
    expected = dict(trajectory.records)
    expected.update(initial_equity=trajectory.initial_equity, initial_loss=trajectory.initial_loss,
                    rounds=trajectory.rounds)
    if kwargs["detail"]:
        expected["sales_total"] = trajectory.sales_total
    assert set(ds.data_vars) == set(expected)
    if "variables" in kwargs:
        assert set(kwargs["variables"]) | set(SUMMARIES) <= set(ds.data_vars) and "cash" not in ds.data_vars
    if kwargs.get("loop_gain"):
        assert {"loop_gain", "market_loop_gain"} <= set(ds.data_vars)
    for name, value in expected.items():
        value = np.asarray(value)  # records the engine keeps sparse, dense (what the Dataset holds)
        dims, units, long_name, description = RESULT_VARIABLES[name]
        var = ds[name]
        assert var.dims == dims, name
        assert var.attrs == {"units": units.replace("currency", system.currency), "long_name": long_name,
                             "description": description}, name
        assert var.dtype == (np.int8 if value.dtype == bool else value.dtype), name
        np.testing.assert_array_equal(var.values, value.astype(var.dtype), err_msg=name)
    if kwargs["detail"] and "sales" in ds:  # conservation: the total is the sum of the rounds
        np.testing.assert_allclose(ds.sales_total.values, ds.sales.sum("round").values, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_coordinates_are_the_system_tables(case):
    system, scenarios, kwargs, ds, trajectory = _run(case)
    n, k = system.n_institutions, system.n_assets
    assert dict(ds.sizes) == {"scenario": len(scenarios), "round": trajectory.n_rounds, "institution": n,
                              "asset": k, "channel": len(CHANNELS)}
    if case == "dealer prime batch":  # repeated names are numbered, never merged
        assert list(ds.scenario.values) == ["corporates_down_4pct", "baseline", "corporates_down_4pct#1", "calm"]
    else:
        assert list(ds.scenario.values) == [sc.name for sc in scenarios]
    assert list(ds["round"].values) == list(range(trajectory.n_rounds))
    assert list(ds.institution.values) == [i.name for i in system.institutions]
    assert list(ds.asset.values) == [a.name for a in system.assets]
    assert list(ds.channel.values) == list(CHANNELS)
    holdings = np.zeros((n, k))
    for i, inst in enumerate(system.institutions):
        for j, asset in enumerate(system.assets):
            holdings[i, j] = system.holdings[i, j]
    np.testing.assert_array_equal(ds.supply0.values, holdings.sum(axis=0))
    assert ("holdings0" in ds.coords) == (not system.sparse)
    if not system.sparse:
        np.testing.assert_array_equal(ds.holdings0.values, holdings)
    np.testing.assert_array_equal(ds.cash0.values, [i.cash for i in system.institutions])
    np.testing.assert_array_equal(ds.spread0.values, [2.0 * a.mu0 * a.sigma0 for a in system.assets])
    assert list(ds.institution_type.values) == [i.type for i in system.institutions]
    assert list(ds.asset_class.values) == [a.asset_class for a in system.assets]
    assert ds.attrs["system"] == system.name and ds.attrs["currency"] == system.currency
    assert ds.attrs["firesale_version"] == firesale.__version__
    assert ds.attrs["scenarios"] == ";".join(sc.model_dump_json() for sc in scenarios)
    _assert_internal_invariants(ds, check_default_indexes=True)


@pytest.mark.parametrize("case", list(CASES))
def test_direct_assembly_equals_the_public_constructor(case):
    """The Dataset built without xarray's merge is the one ``xr.Dataset(data_vars,
    coords=xr.Coordinates(...))`` builds from the same variables: same values, attrs,
    indexes, and the same order of variables and dims."""
    *_, ds, _ = _run(case)
    public = _assemble({name: ds[name].variable for name in ds.data_vars},
                       {name: ds.coords[name].variable for name in ds.coords}, dict(ds.xindexes), dict(ds.attrs),
                       direct=False)
    xr.testing.assert_identical(ds, public)
    assert list(ds.variables) == list(public.variables)
    assert list(ds.sizes) == list(public.sizes)
    assert list(ds.xindexes) == list(public.xindexes)


@pytest.mark.parametrize("case", list(CASES))
def test_each_variable_is_the_one_xarray_constructs(case):
    """The variables and coordinates set up without xarray's constructor
    (``results._variable``, ``results._shallow_copy``) are those its constructor and
    ``copy(deep=False)`` make: the same class, dims, data object, attrs and encoding."""
    *_, ds, _ = _run(case)
    for name, var in ds.variables.items():
        public = (xr.Variable(var.dims, var.data, attrs=var.attrs) if name in ds.data_vars
                  else ds.coords[name].variable.copy(deep=False))
        assert type(var) is type(public), name
        xr.testing.assert_identical(var, public)
        if not isinstance(var, xr.IndexVariable):  # an index's data is made from the index on each read
            assert np.shares_memory(var.data, public.data), name
        assert var.attrs == public.attrs and var.attrs is not public.attrs and var.encoding == public.encoding, name


def test_inputs_are_built_once_per_system_and_read_only():
    system = _fresh("dealer_groups")
    inputs = system_inputs(system)
    assert system_inputs(system) is inputs
    for field in fields(inputs):
        value = getattr(inputs, field.name)
        if isinstance(value, np.ndarray):
            assert not value.flags.writeable, field.name
            with pytest.raises(ValueError):
                value[...] = 0
    assert not inputs.dealer_positions.share.flags.writeable


def test_a_cached_run_equals_a_run_on_a_new_system_object():
    preset = load_preset("dealer_groups")
    first = simulate(preset.system, preset.scenario)
    again = simulate(preset.system, preset.scenario)  # inputs and coordinates from the cache
    fresh = simulate(preset.system.converted(sparse=preset.system.sparse), preset.scenario)  # built anew
    xr.testing.assert_identical(first, again)
    xr.testing.assert_identical(first, fresh)


def test_results_share_no_mutable_state():
    system = _fresh("inet_eba2018")
    scenario = load_preset("inet_eba2018").scenario
    first = simulate(system, scenario)
    first.supply0.attrs["note"] = "changed"
    first.price.attrs["units"] = "bp"
    first.price.values[...] = -1.0
    first.attrs["system"] = "other"
    second = simulate(system, scenario)
    assert "note" not in second.supply0.attrs
    assert second.price.attrs["units"] == "fraction of t0 price"
    assert (second.price.values >= 0).all() and (second.price.values <= 1).all()
    assert second.attrs["system"] == system.name
    # t0 coordinates are shared by the results on a system, read-only
    with pytest.raises(ValueError):
        first.supply0.values[0] = 0.0
    np.testing.assert_array_equal(second.supply0.values, first.supply0.values)


def test_a_replaced_row_or_renamed_currency_rebuilds_the_cache():
    system = _fresh("dealer_groups")
    scenario = load_preset("dealer_groups").scenario
    before = system_inputs(system)
    system.institutions[0] = system.institutions[0].model_copy(update={"cash": 123.0})
    after = system_inputs(system)
    assert after is not before
    assert after.cash[0] == 123.0 and before.cash[0] != 123.0
    system.currency = "EUR bn"
    ds = simulate(system, scenario)
    assert ds.equity.attrs["units"] == "EUR bn" and ds.price.attrs["units"] == "fraction of t0 price"
    assert ds.cash0.values[0] == 123.0


def test_a_system_that_dies_frees_what_was_kept_for_it():
    system = _fresh("dealer_prime")
    simulate(system, load_preset("dealer_prime").scenario)
    kept = [weakref.ref(system_inputs(system)), weakref.ref(_system_labels(system))]
    del system
    gc.collect()
    assert all(ref() is None for ref in kept)


def test_shocks_on_many_names_land_where_they_are_named():
    system = load_preset("inet_eba2018").system
    names = system.institution_names
    scenario = Scenario(shocks=[*({"institution": name, "capital": float(i + 1), "round": 1}
                                  for i, name in enumerate(names)),
                                {"asset": "corporate_bonds", "price": -0.1},
                                {"asset": "corporate_bonds", "price": -0.2},
                                {"institution": names[5], "default": True, "round": 2}])
    arrays = ScenarioArrays.from_scenarios(system, [Scenario(), scenario])
    assert arrays.capital_shock.shape == (2, 3, len(names))
    np.testing.assert_array_equal(arrays.capital_shock[1, 1], np.arange(1, len(names) + 1))
    assert not arrays.capital_shock[0].any() and not arrays.capital_shock[1, [0, 2]].any()
    # two returns on one asset in one round compound: (1 - 0.1)(1 - 0.2) - 1 = -0.28
    assert arrays.price_shock[1, 0, 1] == pytest.approx(-0.28, abs=1e-15)
    assert arrays.price_shock[1, 0, [0, 2]].tolist() == [0.0, 0.0]
    assert np.flatnonzero(arrays.default_shock[1, 2]).tolist() == [5]
    bad = Scenario(shocks=[{"institution": names[0], "capital": 1.0}, {"institution": "AT99", "capital": 1.0}])
    with pytest.raises(DataError, match="FS110.*AT99.*Known institutions: AT01"):
        ScenarioArrays.from_scenarios(system, [bad])


def test_plain_settings_are_stacked_per_scenario():
    system = load_preset("dealer_prime").system
    first = Scenario().updated(**{"market.execution_alpha": 0.25, "volatility.cap": 3.0, "tolerance": 1e-6,
                                  "channels.information": False, "policy.slr_exemption": True})
    second = Scenario().updated(**{"market.execution_alpha": 1.0, "information.rfq_depth": 0.4,
                                   "channels.information": True, "market.outside_demand": True})
    arrays = ScenarioArrays.from_scenarios(system, [first, second])
    assert arrays.execution_alpha.tolist() == [0.25, 1.0]
    assert arrays.volatility_cap.tolist() == [3.0, Scenario().volatility.cap]
    assert arrays.tolerance.tolist() == [1e-6, Scenario().tolerance]
    assert arrays.info_rfq_depth.tolist() == [Scenario().information.rfq_depth, 0.4]
    assert arrays.information.tolist() == [False, True]
    assert arrays.slr_exemption.tolist() == [True, False]
    for field in fields(arrays):
        value = getattr(arrays, field.name)
        assert value.shape[0] == 2 and value.flags.c_contiguous, field.name
        assert value.dtype in (np.float64, np.bool_, np.int64), field.name
    # outside demand: each asset's own bound, or its class default once the scenario sets it
    for s, flag in enumerate((False, True)):
        assert arrays.max_discount[s].tolist() == [a.discount_bound(flag) for a in system.assets]
    calm = ScenarioArrays.from_scenarios(system, [first])
    assert not np.isnan(calm.max_discount).any() and not np.isnan(calm.capital_arrival).any()
