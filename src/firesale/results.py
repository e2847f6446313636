"""Results as one labelled :class:`xarray.Dataset`.

Dims: ``scenario``, ``round``, ``institution``, ``asset``, ``channel``. Every variable
carries ``units``, ``long_name`` and ``description`` attributes; the Dataset's attrs record
the firesale version, the currency and the system. The report, the store and the CLI read
only this.
"""

from __future__ import annotations

import functools
import operator
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import xarray as xr
from xarray import Index
from xarray.indexes import PandasIndex

from firesale._version import __version__
from firesale.channels import CHANNELS
from firesale.engine.simulate import Trajectory
from firesale.matrices import column_sums, dense
from firesale.scenario import Scenario
from firesale.system import System

__all__ = ["RESULT_VARIABLES", "to_dataset", "scenario_labels"]

S, R, N, K, C = "scenario", "round", "institution", "asset", "channel"
_T = TypeVar("_T")

#: name → (dims, units, long name, description). "currency" is replaced by the system's.
RESULT_VARIABLES: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "price": ((S, R, K), "fraction of t0 price", "price", "Market price at the end of the round."),
    "pre_trade_price": ((S, R, K), "fraction of t0 price", "pre-trade price",
                        "Price after the round's shocks, before its trades (sales are valued at it)."),
    "fundamental": ((S, R, K), "fraction of t0 price", "fundamental price", "Price without fire-sale pressure."),
    "sigma": ((S, R, K), "1/day", "volatility", "EWMA daily volatility after the round."),
    "equity": ((S, R, N), "currency", "equity", "Equity (Tier 1) at the end of the round."),
    "cash": ((S, R, N), "currency", "cash", "Cash and reserves at the end of the round."),
    "debt": ((S, R, N), "currency", "liabilities", "Liabilities other than repo at the end of the round."),
    "repo": ((S, R, N), "currency", "repo", "Repo borrowing at the end of the round."),
    "haircut": ((S, R, K), "fraction", "haircut", "Repo haircut in force in the round."),
    "funding_need": ((S, R, N), "currency", "funding calls", "Margin calls, repo not rolled and runs in the round."),
    "funding_paid": ((S, R, N), "currency", "funding paid", "Part of the funding calls met, from cash and sales."),
    "central_bank_purchases": ((S, R, K), "currency", "central-bank purchases",
                               "Selling pressure the central bank took off the market in the round."),
    "repo_interest": ((S, R, N), "currency", "repo interest", "A day's interest on repo borrowing (a loss)."),
    "redeemed": ((S, R, N), "currency", "redeemed", "NAV redeemed by fund investors in the round."),
    "repo_lending": ((S, R, N), "currency", "repo lending", "Cash lent in the tri-party repo market (an asset)."),
    "margin_posted": ((S, R, N), "currency", "initial margin posted", "Initial margin on derivatives (an asset)."),
    "derivative_notional": ((S, R, N), "currency", "derivative notional",
                            "Signed notional of the derivatives still open at the end of the round (t0 prices); "
                            "hedges close with their positions' sales where the institution closes hedges."),
    "capital_out": ((S, R, N), "currency", "capital paid out",
                    "Cumulative payouts to redeeming investors (after any swing charge), less capital added by "
                    "capital shocks: not a loss (nor a gain)."),
    "nav_per_share": ((S, R, N), "currency/share", "NAV per share", "Equity over shares outstanding."),
    "total_assets": ((S, R, N), "currency", "total assets", "Cash plus holdings at prices, end of round."),
    "marked_equity": ((S, R, N), "currency", "equity after marking",
                      "Equity after the round's shocks and marking, before its trades."),
    "marked_assets": ((S, R, N), "currency", "assets after marking", "Total assets after marking, before trades."),
    "slr": ((S, R, N), "fraction", "SLR", "Tier 1 / SLR exposure after marking, before the round's sales."),
    "slr_exposure": ((S, R, N), "currency", "SLR exposure", "Exposure measure after marking."),
    "slr_target_exposure": ((S, R, N), "currency", "SLR target exposure",
                            "Exposure the SLR channel shrinks to (NaN where it does not bind)."),
    "leverage_ratio": ((S, R, N), "fraction", "equity / assets", "Equity over total assets after marking."),
    "var": ((S, R, N), "currency", "VaR", "One-day VaR of the trading book before the round's sales."),
    "var_after": ((S, R, N), "currency", "VaR after sales", "VaR after the round's sales, same volatility."),
    "defaulted": ((S, R, N), "1", "defaulted", "1 once the institution has defaulted."),
    "sold": ((S, R, N), "currency", "value sold", "Value sold in the round, at pre-impact prices."),
    "purchases": ((S, R, N), "currency", "value bought", "Value bought in the round (leverage targeting)."),
    "proceeds": ((S, R, N), "currency", "proceeds", "Cash received from trades at execution prices."),
    "sales_by_channel": ((S, R, N, C), "currency", "sales by binding channel",
                         "Value sold in the round, by the channel asking the most of each asset."),
    "breach": ((S, R, N, C), "1", "breach", "1 where the constraint is breached after marking (default: new default)."),
    "holdings": ((S, R, N, K), "units", "holdings", "Quantity held at the end of the round."),
    "trading_holdings": ((S, R, N, K), "units", "trading-book holdings",
                         "Part of the holdings in the trading book at the end of the round (VaR applies to it)."),
    "sales": ((S, R, N, K), "currency", "sales", "Value sold of each asset in the round."),
    "binding": ((S, R, N, K), "1", "binding channel", "Index into `channel` of the sale's binding channel, -1 none."),
    "outside_q": ((S, R, K), "units", "outside holdings", "Quantity bought by outside buyers, cumulative."),
    "outside_cash": ((S, R), "currency", "outside cash", "Net cash of outside buyers and creditors."),
    "eventful": ((S, R), "1", "eventful", "1 where anything traded or a price moved."),
    "mark": ((S, R, K), "fraction of t0 price", "mark",
             "Price books are valued at after the round: p (1 - opacity u), below p where quotes are missing."),
    "spread": ((S, R, K), "fraction of price", "bid-ask spread",
               "Effective spread after the round (in force in the next): Glosten-Milgrom lit spread, wider on the "
               "RFQ share. The t0 spread is the coordinate spread0."),
    "quoting_share": ((S, R, K), "fraction", "quoting share",
                      "Market share of the dealers streaming quotes after the round (in force in the next)."),
    "uncertainty": ((S, R, K), "fraction", "uncertainty index",
                    "u = 1 - quoting share after the round: the next round's marks use it."),
    "depth_scale": ((S, R, K), "-", "depth scale",
                    "Market depth after the round relative to t0 (quoting share and volatility); 1/impact per unit."),
    "layoff_share": ((S, R), "fraction", "inter-dealer layoff share",
                     "ω after the round: share of flow dealers lay off to each other next; 0 is a frozen market."),
    "client_sales": ((S, R, K), "currency", "client sales", "Value sold to dealers by clients outside the system."),
    "forced_sales": ((S, R, K), "currency", "forced sales", "Value the institutions sold in the round, per asset."),
    "market_flow": ((S, R, K), "currency", "flow to outside buyers",
                    "Net value that reached outside buyers through the impact law (negative: bought from them)."),
    "dealer_purchases": ((S, R, K), "currency", "dealer purchases",
                         "Value dealers took into inventory: absorbed, inter-dealer and against the wind."),
    "interdealer": ((S, R, K), "currency", "inter-dealer trades", "Value dealers took in the inter-dealer market."),
    "dealer_net": ((S, R, K), "currency", "dealers' net purchases",
                   "Dealers' purchases less their own forced sales (negative: dealers net sellers)."),
    "initial_equity": ((S, N), "currency", "initial equity", "Equity at t0."),
    "initial_loss": ((S,), "currency", "initial loss", "Mark-to-market loss of the shock alone on t0 books."),
    "rounds": ((S,), "1", "rounds", "Rounds in which anything traded or moved."),
    "sales_total": ((S, N, K), "currency", "total sales", "Value sold over all rounds."),
    "loop_gain": ((S, R), "-", "loop gain",
                  "Spectral radius of the Jacobian of the round's forced sales with respect to a sale before it "
                  "(sale -> price -> sale, every channel in it): > 1 past the tipping point. Only with "
                  "simulate(..., loop_gain=True)."),
    "market_loop_gain": ((S, R, K), "-", "own-market loop gain",
                         "Forced sales of the asset in the round per unit of it sold before it (the Jacobian's "
                         "diagonal). Only with simulate(..., loop_gain=True)."),
}


def scenario_labels(scenarios: Sequence[Scenario]) -> list[str]:
    """The scenario coordinate: each scenario's name, made unique where names repeat (the
    second ``baseline`` is ``baseline#1``), so that ``ds.sel(scenario=...)`` picks one run
    and never silently sums two.

    Examples
    --------
    >>> from firesale import Scenario
    >>> scenario_labels([Scenario(), Scenario(), Scenario(name="x"), Scenario()])
    ['baseline', 'baseline#1', 'x', 'baseline#2']
    """
    seen: dict[str, int] = {}
    labels = []
    taken = {sc.name for sc in scenarios}
    for sc in scenarios:
        count = seen.get(sc.name, 0)
        label = sc.name
        if count:
            label = f"{sc.name}#{count}"
            while label in taken:
                count += 1
                label = f"{sc.name}#{count}"
        seen[sc.name] = count + 1
        taken.add(label)
        labels.append(label)
    return labels


def to_dataset(system: System, scenarios: Sequence[Scenario], trajectory: Trajectory) -> xr.Dataset:
    """Label a :class:`~firesale.engine.simulate.Trajectory`.

    The data variables wrap the engine's arrays as they are (no copy; flags the engine
    keeps as bool are viewed as int8; records it keeps sparse become dense). What
    describes the system at t0 (the coordinates of :func:`_system_labels`, the
    variables' attributes) is built once per System object and shared, read-only, by every
    result on it; the Dataset is assembled in one step, without xarray's merge and
    alignment (every variable is aligned by construction).
    """
    labels = _system_labels(system)
    # records the engine keeps sparse are labelled dense here (see firesale.engine.records)
    arrays = {name: value if isinstance(value, np.ndarray) else value.toarray()
              for name, value in trajectory.records.items()}
    arrays.update(
        initial_equity=trajectory.initial_equity,
        initial_loss=trajectory.initial_loss,
        rounds=trajectory.rounds,
    )
    if trajectory.detail:  # (S, N, K), like the per-round detail
        arrays["sales_total"] = trajectory.sales_total
    variables: dict[str, xr.Variable] = {}
    sizes: dict[str, int] = {}  # the dims in the order the variables first name them, as xarray orders them
    for name, value in arrays.items():
        dims, attrs = labels.variables[name]
        sizes.update(zip(dims, value.shape))
        if value.dtype == bool:
            value = value.view(np.int8)  # the same bytes: False 0, True 1, no copy
        variables[name] = _variable(dims, value, attrs)
    scenario_var, scenario_index = _dimension_coordinate(S, tuple(scenario_labels(scenarios)))
    round_var, round_index = _dimension_coordinate(R, trajectory.n_rounds)
    coords = {S: scenario_var, R: round_var}
    coords.update(labels.coords)
    for dim, size in ((S, len(scenarios)), (R, trajectory.n_rounds), *labels.sizes.items()):
        sizes.setdefault(dim, size)
    indexes = {S: scenario_index, R: round_index}
    indexes.update(labels.indexes)
    attrs = {
        "firesale_version": __version__,
        "system": system.name,
        "currency": system.currency,
        "scenarios": ";".join(sc.model_dump_json() for sc in scenarios),
        "kernels": trajectory.kernels,
    }
    # fresh Variable objects over the shared data, so that attrs set on one result stay in it
    return _assemble(variables, {name: _shallow_copy(var) for name, var in coords.items()}, indexes, attrs,
                     sizes=sizes)


#: Whether xarray's Variable keeps its state in the slots :func:`_variable` and
#: :func:`_shallow_copy` set (it has since xarray 0.17); otherwise they use its constructor.
_DIRECT_VARIABLES = {"_dims", "_data", "_attrs", "_encoding"} <= {
    slot for cls in xr.Variable.__mro__ for slot in getattr(cls, "__slots__", ())}


def _variable(dims: tuple[str, ...], data: np.ndarray, attrs: dict[str, str]) -> xr.Variable:
    """``xr.Variable(dims, data, attrs=attrs)``. An ndarray of numbers with one dim per axis
    needs none of xarray's conversions or checks: its slots are set as xarray's own
    constructor sets them (0.15 µs against 0.9 µs with ``fastpath``, for the ~80
    variables of a run). ``tests/test_call_overhead.py`` compares the two."""
    if _DIRECT_VARIABLES and type(data) is np.ndarray and data.dtype.kind in "biuf" and len(dims) == data.ndim:
        var = object.__new__(xr.Variable)
        var._dims, var._data, var._attrs, var._encoding = tuple(dims), data, dict(attrs), None
        return var
    return xr.Variable(dims, data, attrs=attrs)


def _shallow_copy(var: xr.Variable) -> xr.Variable:
    """``var.copy(deep=False)``: a new Variable (or IndexVariable) over the same data, with
    its own attrs and encoding, so that what one result sets stays in it."""
    if not _DIRECT_VARIABLES:
        return var.copy(deep=False)
    new = object.__new__(type(var))
    new._dims, new._data = var._dims, var._data
    new._attrs = None if var._attrs is None else dict(var._attrs)
    new._encoding = None if var._encoding is None else dict(var._encoding)
    return new


def _assemble(data_vars: dict[str, xr.Variable], coords: dict[str, xr.Variable], indexes: dict[str, Index],
              attrs: dict[str, str], *, direct: bool = True, sizes: dict[str, int] | None = None) -> xr.Dataset:
    """The Dataset of aligned variables: data variables first, then coordinates, as
    ``xr.Dataset(data_vars, coords=xr.Coordinates(coords, indexes))`` orders them.

    ``direct`` builds it without xarray's merge (``Dataset._construct_direct``, the
    constructor xarray's own methods use for variables known to be aligned): about 2 µs
    instead of about 0.8 ms for the ~80 variables of a run, and with ``sizes`` (each dim's
    length, in the order the variables first name them) without xarray's pass over every
    variable's dims either. The public constructor is the fallback and the reference the
    tests compare with.
    """
    if direct and hasattr(xr.Dataset, "_construct_direct"):
        try:
            return xr.Dataset._construct_direct({**data_vars, **coords}, set(coords), dims=sizes, attrs=attrs,
                                                indexes=indexes)
        except TypeError:  # a release of xarray whose private constructor takes other arguments
            pass
    return xr.Dataset(data_vars, coords=xr.Coordinates(coords, indexes=indexes), attrs=attrs)


#: Scenario labels kept for reuse (with their index) when there are at most this many: a
#: run of one scenario, repeated, finds its labels here. Round coordinates are always kept.
_SHORT = 64


@functools.lru_cache(maxsize=256)
def _short_dimension_coordinate(dim: str, values: tuple[str, ...] | int) -> tuple[xr.Variable, Index]:
    return _new_dimension_coordinate(dim, values)


def _new_dimension_coordinate(dim: str, values: tuple[str, ...] | int) -> tuple[xr.Variable, Index]:
    """The index coordinate of ``dim`` and its index, as xarray makes them by default:
    labels (a tuple) or ``0 .. values - 1`` (an int)."""
    data = np.arange(values) if isinstance(values, int) else np.asarray(values)
    index = PandasIndex.from_variables({dim: xr.Variable(dim, data)}, options={})
    return index.create_variables()[dim], index


def _dimension_coordinate(dim: str, values: tuple[str, ...] | int) -> tuple[xr.Variable, Index]:
    if isinstance(values, int) or len(values) <= _SHORT:
        return _short_dimension_coordinate(dim, values)
    return _new_dimension_coordinate(dim, values)


@dataclass(frozen=True)
class _Labels:
    """What a result on one system carries whatever the run: the t0 coordinates and the
    dims and attributes of each result variable (units in the system's currency)."""

    coords: dict[str, xr.Variable]  # institution, asset, channel, then the t0 descriptions
    indexes: dict[str, Index]  # of institution, asset and channel
    sizes: dict[str, int]  # the lengths of the dims the coordinates name, in their order
    variables: dict[str, tuple[tuple[str, ...], dict[str, str]]]  # name -> (dims, attrs)


def _per_system(build: Callable[[System], _T]) -> Callable[[System], _T]:
    """``build(system)``, computed once per System object and kept while the System lives.

    A System is immutable in use: its tables are frozen pydantic rows and its matrices
    read-only arrays. Only rebinding an attribute (``system.assets = [...]``,
    ``system.holdings = other``) or replacing a row in its lists could change it; the
    kept value is rebuilt when any of them is no longer the object it was built from.
    """
    kept: weakref.WeakKeyDictionary[System, tuple[tuple[object, ...], _T]] = weakref.WeakKeyDictionary()

    @functools.wraps(build)
    def cached(system: System) -> _T:
        parts = _system_parts(system)
        entry = kept.get(system)
        if entry is not None and len(entry[0]) == len(parts) and all(map(operator.is_, entry[0], parts)):
            return entry[1]
        value = build(system)
        kept[system] = (parts, value)
        return value

    return cached


def _system_parts(system: System) -> tuple[object, ...]:
    """The objects a System is made of (compared by identity, see :func:`_per_system`)."""
    return (system.name, system.currency, system.sparse, system.holdings, system.trading_fraction, system.repo,
            system.derivative, system.initial_margin, system.market_share, system.correlation,
            *system.institutions, *system.assets)


@_per_system
def _system_labels(system: System) -> _Labels:
    """Coordinates and variable attributes of the results on ``system`` (read-only arrays)."""
    insts, assets = system.institutions, system.assets
    coords = xr.Coordinates({
        N: system.institution_names,
        K: system.asset_names,
        C: list(CHANNELS),
        "institution_type": (N, [i.type for i in insts]),
        "group": (N, [i.group for i in insts]),
        "asset_class": (K, [a.asset_class for a in assets]),
        "duration": (K, np.array([np.nan if a.duration is None else a.duration for a in assets])),
        "spread0": (K, np.array([2.0 * a.mu0 * a.sigma0 for a in assets])),
        "supply0": (K, column_sums(system.holdings)),
        # t0 holdings as a dense (N, K) coordinate, unless the system is kept sparse
        **({} if system.sparse else {"holdings0": ((N, K), dense(system.holdings))}),
        "cash0": (N, system.cash0),
        "liabilities0": (N, system.liabilities0),
        "levered": (N, system.levered0.astype(np.int8)),
        "has_slr": (N, np.array([i.slr_trigger is not None for i in insts], dtype=np.int8)),
        **{
            f"{ratio}_{level}": (N, np.array([i.level(ratio, level) for i in insts]))
            for ratio in ("slr", "leverage")
            for level in ("minimum", "trigger", "target")
        },
        "var_limit": (N, np.array([np.nan if i.var_limit is None else i.var_limit for i in insts])),
    })
    variables = dict(coords.variables)
    for var in variables.values():
        if isinstance(var.data, np.ndarray):  # shared by every result on the system
            var.data.setflags(write=False)
    sizes: dict[str, int] = {}
    for var in variables.values():
        sizes.update(zip(var.dims, var.shape))
    return _Labels(
        coords=variables,
        indexes=dict(coords.xindexes),
        sizes=sizes,
        variables={
            name: (dims, {"units": units.replace("currency", system.currency), "long_name": long_name,
                          "description": description})
            for name, (dims, units, long_name, description) in RESULT_VARIABLES.items()
        },
    )
