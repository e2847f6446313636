"""Economic invariants every run must satisfy, in every round.

* balance sheet: cash + holdings at prices − liabilities equals equity carried by profit
  and loss, for every institution;
* asset supply: what institutions sold, outside buyers hold (Σ_i q + outside = Σ_i q_0);
* cash: Σ_i cash + the outside sector's net cash is constant;
* repo: every unit lent in the tri-party market is some borrower's repo;
* no negative holdings or cash; sales never exceed holdings;
* determinism; a scenario run in a batch equals the same scenario run alone;
* zero shock → no sales; all channels off → plain mark-to-market revaluation;
* the system's inputs are unchanged by a run.

Each check raises ``AssertionError`` with what failed, where (scenario, round,
institution) and by how much.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from firesale.channels import SWITCHES
from firesale.matrices import dense
from firesale.scenario import Scenario
from firesale.simulation import simulate
from firesale.system import System

__tracebackhide__ = True

__all__ = [
    "CHECKS",
    "assert_invariants",
    "assert_balance_sheet_identity",
    "assert_supply_conserved",
    "assert_cash_conserved",
    "assert_repo_lending_matched",
    "assert_no_negative_holdings",
    "assert_prices_and_bids_non_negative",
    "assert_within_physical_bounds",
    "assert_batch_equals_single",
    "assert_deterministic",
    "assert_zero_shock_no_sales",
    "assert_channels_off_is_revaluation",
    "check_channel",
    "parametrize_with_checks",
]

RTOL = 1e-9


def _scale(ds: xr.Dataset) -> float:
    return float(max(abs(ds.holdings0).sum(), abs(ds.cash0).sum(), abs(ds.liabilities0).sum(), 1.0))


def _where(bad: xr.DataArray) -> str:
    idx = np.argwhere(bad.values)[0]
    return ", ".join(f"{d}={bad[d].values[i]}" for d, i in zip(bad.dims, idx))


def assert_balance_sheet_identity(ds: xr.Dataset) -> None:
    """assets = liabilities (debt and repo) + equity for every institution, scenario and round."""
    gap = ds.total_assets - ds.debt - ds.repo - ds.equity
    # relative to the balance sheet's own size: an explosive run can grow it by many orders
    size = np.maximum(_scale(ds), abs(ds.total_assets) + abs(ds.debt) + abs(ds.repo))
    bad = abs(gap) > RTOL * size
    assert not bad.any(), f"assets - liabilities != equity at {_where(bad)}: gap {float(abs(gap).max()):.3e}"


def assert_supply_conserved(ds: xr.Dataset) -> None:
    """Σ_i holdings + outside holdings = Σ_i t0 holdings, per asset and round."""
    total = ds.holdings.sum("institution") + ds.outside_q - ds.holdings0.sum("institution")
    size = np.maximum(_scale(ds), abs(ds.holdings).sum("institution") + abs(ds.outside_q))
    bad = abs(total) > RTOL * size
    assert not bad.any(), f"asset supply not conserved at {_where(bad)}: {float(abs(total).max()):.3e}"


def assert_cash_conserved(ds: xr.Dataset) -> None:
    """Σ_i cash + outside net cash = Σ_i t0 cash, per round."""
    # initial margin posted is cash held by the counterparty for the poster
    total = (ds.cash + ds.margin_posted).sum("institution") + ds.outside_cash - ds.cash0.sum()
    size = np.maximum(_scale(ds), abs(ds.cash).sum("institution") + abs(ds.outside_cash) + abs(ds.proceeds).sum("institution"))
    bad = abs(total) > RTOL * size
    assert not bad.any(), f"cash not conserved at {_where(bad)}: {float(abs(total).max()):.3e}"


def assert_repo_lending_matched(ds: xr.Dataset) -> None:
    """Every unit lent in the tri-party repo market is some borrower's repo: lending ≤ repo."""
    lent, borrowed = ds.repo_lending.sum("institution"), ds.repo.sum("institution")
    bad = lent > borrowed * (1 + RTOL) + RTOL * _scale(ds)
    assert not bad.any(), f"repo lending above the repo borrowed at {_where(bad)}"


def assert_no_negative_holdings(ds: xr.Dataset) -> None:
    """Holdings, cash and liabilities stay ≥ 0; no round sells more than was held."""
    tol = RTOL * _scale(ds)
    for name in ("holdings", "cash", "debt", "sold"):
        bad = ds[name] < -tol
        assert not bad.any(), f"negative {name} at {_where(bad)}: {float(ds[name].min()):.3e}"
    above = ds.trading_holdings > ds.holdings * (1 + 1e-12) + tol
    assert not above.any(), f"trading book larger than the position at {_where(above)}"
    assert not (ds.trading_holdings < -tol).any(), "negative trading-book holdings"
    before = xr.concat([ds.holdings0.expand_dims(round=[-1]), ds.holdings.isel(round=slice(None, -1))], "round")
    before = before.assign_coords(round=ds["round"].values)
    units_sold = ds.sales / ds.pre_trade_price.where(ds.pre_trade_price > 0, 1.0)
    over = units_sold > before * (1 + 1e-12) + tol
    assert not over.any(), f"sold more than held at {_where(over)}"


def assert_prices_and_bids_non_negative(ds: xr.Dataset) -> None:
    """Prices, marks and bids stay ≥ 0: no seller ever pays to sell (the bid is the price
    less half the effective spread)."""
    for name in ("price", "pre_trade_price", "mark"):
        bad = ds[name] < 0
        assert not bad.any(), f"negative {name} at {_where(bad)}: {float(ds[name].min()):.3e}"
    bad = ds.spread >= 2.0
    assert not bad.any(), f"an effective spread of 200% or more (bid ≤ 0) at {_where(bad)}"


def assert_within_physical_bounds(ds: xr.Dataset) -> None:
    """No price above :data:`~firesale.engine.simulate.PHYSICAL_BOUND` times its
    fundamental (and t0) price, no equity beyond it times the system's t0 total assets:
    the engine stops an explosive run with an error instead (FS604)."""
    from firesale.engine.simulate import PHYSICAL_BOUND

    bad = ds.price > PHYSICAL_BOUND * np.maximum(ds.fundamental, 1.0)
    assert not bad.any(), f"price beyond {PHYSICAL_BOUND:g}x its fundamental at {_where(bad)}"
    total = float(max((ds.holdings0).sum() + abs(ds.cash0).sum(), 1.0))
    bad = abs(ds.equity) > PHYSICAL_BOUND * total
    assert not bad.any(), f"equity beyond {PHYSICAL_BOUND:g}x the system's t0 total assets at {_where(bad)}"


def assert_invariants(ds: xr.Dataset) -> None:
    """All per-round accounting invariants of a detailed results Dataset."""
    assert "holdings" in ds, "run with detail=True to check per-round invariants"
    assert_balance_sheet_identity(ds)
    assert_supply_conserved(ds)
    assert_cash_conserved(ds)
    assert_repo_lending_matched(ds)
    assert_no_negative_holdings(ds)
    assert_prices_and_bids_non_negative(ds)
    assert_within_physical_bounds(ds)


def _equal(a: xr.Dataset, b: xr.Dataset, label: str) -> None:
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        same = np.array_equal(x, y, equal_nan=np.issubdtype(x.dtype, np.floating))
        assert same, f"{label}: variable {name!r} differs (max |diff| {np.nanmax(np.abs(x - y)) if x.size else 0:.3e})"


def assert_batch_equals_single(system: System, scenarios: Sequence[Scenario]) -> None:
    """Each scenario of a batch gives exactly (bit for bit) what it gives alone.

    Alone, a scenario stops at its own last round; in the batch it stays frozen after it,
    so the batch's later rounds must repeat its last state and record no trades.
    """
    batch = simulate(system, scenarios, detail=True)
    for s, scenario in enumerate(scenarios):
        alone = simulate(system, scenario, detail=True).isel(scenario=0)
        n = alone.sizes["round"]
        in_batch = batch.isel(scenario=s)
        _equal(in_batch.isel(round=slice(0, n)), alone, f"scenario {s} ({scenario.name}) rounds 0..{n - 1}")
        rest = in_batch.isel(round=slice(n, None))
        if rest.sizes["round"]:
            assert float(abs(rest.sold).sum()) == 0.0, f"scenario {s} trades after it stopped"
            last = alone.isel(round=-1)
            for name in ("equity", "price", "holdings", "cash", "debt"):
                assert np.array_equal(rest[name].values, np.broadcast_to(last[name].values, rest[name].shape)), (
                    f"scenario {s}: {name} moves after the scenario stopped"
                )


def assert_deterministic(system: System, scenarios: Sequence[Scenario]) -> None:
    """Same inputs, same result, bit for bit; and the system's inputs unchanged."""
    holdings = dense(system.holdings).copy()
    first = simulate(system, scenarios, detail=True)
    second = simulate(system, scenarios, detail=True)
    _equal(first, second, "second run")
    assert np.array_equal(dense(system.holdings), holdings), "the run changed the system's holdings"


def assert_zero_shock_no_sales(system: System, scenario: Scenario | None = None) -> None:
    """Without a shock nobody sells and no price moves (for a system that starts at rest)."""
    base = (scenario or Scenario()).updated(shocks=[])
    ds = simulate(system, base, detail=True)
    assert float(ds.sold.sum()) == 0.0, f"sales without a shock: {float(ds.sold.sum()):.3e}"
    assert np.all(ds.price.values == 1.0), "prices moved without a shock"


def assert_channels_off_is_revaluation(system: System, scenario: Scenario) -> None:
    """All channels off: no sales, and the total loss equals the shock's mark-to-market loss.

    Client sales and redemption waves are left out: they are exogenous flows that move
    prices through the market (dealers and outside buyers) whatever the channels, so
    their loss is not a revaluation of the shock."""
    shocks = [sh.model_dump() | {"client_sale": None, "redemption": None} for sh in scenario.shocks]
    shocks = [sh for sh in shocks if (sh["institution"] is not None and (sh["default"] or sh["capital"] is not None))
              or any(sh[f] is not None for f in ("price", "volatility", "repo_rate"))]
    off = scenario.updated(shocks=shocks, **{f"channels.{c}": False for c in SWITCHES})
    ds = simulate(system, off, detail=True)
    assert float(ds.sold.sum()) == 0.0, "sales with every channel off"
    total = float((ds.initial_equity - ds.equity.isel(round=-1) - ds.capital_out.isel(round=-1)).sum())
    initial = float(ds.initial_loss.sum())
    assert abs(total - initial) <= RTOL * _scale(ds), f"loss {total} != shock loss {initial} with channels off"


#: name → check(system, scenarios); every channel must pass them all.
CHECKS: dict[str, Callable[[System, Sequence[Scenario]], None]] = {
    "invariants": lambda system, scenarios: assert_invariants(simulate(system, scenarios, detail=True)),
    "batch_equals_single": assert_batch_equals_single,
    "deterministic": assert_deterministic,
    "zero_shock_no_sales": lambda system, scenarios: assert_zero_shock_no_sales(system, scenarios[0]),
    "channels_off_is_revaluation": lambda system, scenarios: assert_channels_off_is_revaluation(system, scenarios[0]),
}


def check_channel(channel: str, system: System, scenarios: Sequence[Scenario]) -> None:
    """Run every check with only ``channel`` switched on.

    Raises
    ------
    AssertionError
        Naming the check that failed.
    """
    if channel not in SWITCHES:
        raise ValueError(f"unknown channel {channel!r}; channels: {', '.join(SWITCHES)}")
    only = [sc.updated(**{f"channels.{c}": c == channel for c in SWITCHES}) for sc in scenarios]
    for name, check in CHECKS.items():
        try:
            check(system, only)
        except AssertionError as err:
            raise AssertionError(f"channel {channel!r} fails check {name!r}: {err}") from None


def parametrize_with_checks(channels: Sequence[str] = SWITCHES):
    """pytest decorator running every check on every channel: ``test(channel, check)``.

    Use it as in ``tests/properties/test_invariants.py``::

        @parametrize_with_checks()
        def test_channel(channel, check):
            check(system, [s.updated(**{f"channels.{c}": c == channel for c in SWITCHES}) for s in scenarios])
    """
    import pytest

    cases = [(c, check) for c in channels for check in CHECKS.values()]
    ids = [f"{c}-{name}" for c in channels for name in CHECKS]
    return pytest.mark.parametrize(("channel", "check"), cases, ids=ids)
