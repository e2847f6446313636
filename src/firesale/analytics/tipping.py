"""Tipping points: the smallest shock at which a market tips from functioning to stressed.

A market *tips* when, in some round, at least three of the measured rows of the regime
table are stressed (:func:`firesale.analytics.regimes.tipped`; the runs measure the loop
gain where ``firesale run`` does, :func:`firesale.simulation.measures_loop_gain`). The
shock is sized from a **calm baseline**: the scenario with none of its shocks (its
channels, policies and parameters kept), then one shock of size :math:`x` on one asset (a
price fall :math:`-x`, or a client sale of value :math:`x`, in round 0). The tipping point
is

.. math:: x^* = \\min \\{\\, x \\in [x_{lo}, x_{hi}] : \\text{tipped}(x) \\,\\},

found by bisection, one parameter value per scenario of a batch; sweeping a second
parameter (a scenario field, or dealers' capital) draws the boundary between the
functioning and the stressed regime. Measured from the scenario's own shocks instead, a
preset whose shocks (a volatility jump, redemption waves, client sales) tip the market by
themselves would give :math:`x^* = 0` whatever the market's resilience; whether they do,
and in which rounds, is reported beside the threshold (``preset_tips``,
``preset_regime``), and so is a calm baseline that is stressed with no shock at all
(``calm_tips``: then :math:`x^* = x_{lo}` says nothing about the shock). Where no size in
the range tips, the rows of the regime table the scan came closest with
(``scan_stressed``) and the rows it measured at all (``scan_measured``) say why: a market
with fewer than three rows measured cannot be called stressed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr
from pydantic import BaseModel

from firesale._version import __version__
from firesale.analytics.figures import plotly_graph_objects
from firesale.analytics.regimes import ROWS, THRESHOLDS, regimes
from firesale.errors import ConfigError, Problem, did_you_mean
from firesale.matrices import column, row_sums
from firesale.scenario import Scenario, Shock
from firesale.simulation import measures_loop_gain, simulate
from firesale.system import System

__all__ = ["DEALER_CAPITAL", "KINDS", "boundary_figure", "tipping_point"]

#: Shock kinds the bisection can size: a price fall (a return, -x) or a client sale (value x).
KINDS = ("price", "client_sale")
#: The special parameter: a multiplier of every dealer's t0 equity, added as cash.
DEALER_CAPITAL = "dealer_capital"
#: Default upper end of the bisection: a 50% fall, or ten times the asset's t0 holdings sold.
DEFAULT_HIGH_PRICE = 0.5
DEFAULT_HIGH_CLIENT_SALE_MULTIPLE = 10.0


def _with_shock(scenario: Scenario, asset: str, kind: str, size: float) -> Scenario:
    """The scenario with its round-0 shocks of ``kind`` on ``asset`` replaced by one of ``size``.

    A shock that also sets other fields (e.g. a volatility jump) keeps them.
    """
    kept = []
    for shock in scenario.shocks:
        if shock.asset == asset and shock.round == 0 and getattr(shock, kind) is not None:
            rest = shock.model_copy(update={kind: None})
            if any(getattr(rest, f) is not None for f in ("price", "volatility", "repo_rate", "client_sale")):
                kept.append(rest)
            continue
        kept.append(shock)
    value = -size if kind == "price" else size
    kept.append(Shock(asset=asset, round=0, **{kind: value}))
    return scenario.model_copy(update={"shocks": tuple(kept)})


def _with_dealer_capital(system: System, scenario: Scenario, multiplier: float) -> Scenario:
    """``scenario`` with every dealer's t0 equity scaled by ``multiplier``: a round-0
    capital shock of :math:`(m - 1) E_i^0` in cash for each dealer :math:`i`, so the
    equity becomes :math:`m E_i^0` (capital removed is paid out of cash, which must cover
    it) and every multiplier runs on the same system, in one batch.
    """
    where = f"param {DEALER_CAPITAL} = {multiplier!r}"
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float, np.number)):
        raise ConfigError(Problem("FS702", where, "is not a number: give multipliers of the dealers' t0 equity, "
                                  "e.g. --values 0.8,1,1.5"))
    m = float(multiplier)
    if not np.isfinite(m) or m <= 0:
        raise ConfigError(Problem("FS702", where, "must be a finite number above 0 (a multiplier of every "
                                  "dealer's t0 equity; 1 is the system as given): fix the value"))
    dealers = [i for i, inst in enumerate(system.institutions) if inst.type == "dealer"]
    if not dealers:
        raise ConfigError(Problem("FS702", f"param {DEALER_CAPITAL}", f"system {system.name!r} has no dealer "
                                  "(type = 'dealer'): sweep a scenario field instead"))
    equity0 = system.equity0
    free_cash = system.cash0 - row_sums(system.initial_margin * abs(system.derivative))
    for i in dealers:
        if free_cash[i] + (m - 1.0) * float(equity0[i]) < 0:
            lowest = max(1.0 - free_cash[j] / equity0[j] for j in dealers)
            raise ConfigError(Problem(
                "FS702", where,
                f"takes dealer {system.institutions[i].name!r} below zero free cash ({free_cash[i]:g} + ({m:g} - 1) "
                f"x equity {equity0[i]:g}): capital is added or removed as cash, so the smallest multiplier this "
                f"system allows is {lowest:.4g}; raise the value"))
    if m == 1.0:
        return scenario
    capital = [Shock(institution=system.institutions[i].name, capital=(m - 1.0) * float(equity0[i]), round=0)
               for i in dealers]
    return scenario.model_copy(update={"shocks": (*scenario.shocks, *capital)})


def _field_attrs(param: str) -> dict[str, str]:
    """``long_name``, ``units`` and ``description`` of a parameter, read from its field."""
    if param == DEALER_CAPITAL:
        return {"long_name": "dealer capital", "units": "x t0 equity",
                "description": "Multiplier of every dealer's t0 equity, added or removed as cash."}
    model: Any = Scenario
    info = None
    for part in param.split("."):
        fields = getattr(model, "model_fields", {}) if isinstance(model, type) else {}
        info = fields.get(part)
        if info is None:
            return {"long_name": param, "units": "", "description": ""}
        model = info.annotation
        for arg in getattr(model, "__args__", ()) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                model = arg
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return {"long_name": param, "units": str(extra.get("unit", "")), "description": info.description or ""}


def _runs(system: System, scenario: Scenario, param: str | None, values: Sequence[Any]) -> list[Scenario]:
    """One scenario per parameter value, each validated before anything runs."""
    if param is None:
        return [scenario]
    if param == DEALER_CAPITAL:
        return [_with_dealer_capital(system, scenario, value) for value in values]
    return [scenario.updated(**{param: value}) for value in values]


def _calm(scenario: Scenario) -> Scenario:
    """The calm baseline: ``scenario`` with none of its shocks (channels, policies and
    parameters kept)."""
    return scenario.model_copy(update={"shocks": ()})


def _own_size(scenario: Scenario, asset: str, kind: str) -> float:
    """The size of the scenario's own round-0 shocks of ``kind`` on ``asset`` (a fall for
    ``price``: the returns compounded), 0 where it has none."""
    values = [getattr(s, kind) for s in scenario.shocks if s.asset == asset and s.round == 0
              and getattr(s, kind) is not None]
    return float(1.0 - np.prod([1.0 + v for v in values])) if kind == "price" else float(sum(values))


def _tips(system: System, runs: list[Scenario], asset: str, kind: str, sizes: np.ndarray) -> np.ndarray:
    """Whether each run tips under its shock size, shape (V,): one :func:`~firesale.simulate` batch."""
    batch = [_with_shock(run, asset, kind, float(size)) for run, size in zip(runs, sizes)]
    return _classify(system, batch, asset).regime.values.any(axis=1)


def _classify(system: System, batch: list[Scenario], asset: str) -> xr.Dataset:
    """The regime table of ``asset`` for each scenario of ``batch``, run as given in one
    :func:`~firesale.simulate` batch: ``regime`` (scenario, round), ``stressed`` and
    ``measured`` (scenario, round, row)."""
    ds = simulate(system, batch, detail=False, loop_gain=measures_loop_gain(system))
    table = regimes(ds)[["regime", "stressed", "measured"]].sel(asset=asset)
    return table.transpose("scenario", "round", "row")


def _check(system: System, asset: str, kind: str, param: str | None, values: Sequence[Any],
           low: float, high: float, iterations: int, scan: int) -> None:
    if kind not in KINDS:
        raise ConfigError(Problem("FS701", f"kind {kind!r}", f"unknown shock kind.{did_you_mean(kind, KINDS)} "
                                  f"Use one of: {', '.join(KINDS)}"))
    if asset not in system.asset_names:
        names = system.asset_names
        raise ConfigError(Problem("FS701", f"asset {asset!r}", f"unknown asset.{did_you_mean(asset, names)} "
                                  f"Assets of {system.name}: {', '.join(names)}; use one of these names"))
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ConfigError(Problem("FS701", f"iterations = {iterations!r}", "must be a whole number of at least 1 "
                                  "(each halves the bracket around the threshold): e.g. 20"))
    if isinstance(scan, bool) or not isinstance(scan, (int, np.integer)) or scan < 1:
        raise ConfigError(Problem("FS701", f"scan = {scan!r}", "must be a whole number of at least 1 (intervals "
                                  "of the first batch; 1 is plain bisection from low and high): e.g. 8"))
    if not (np.isfinite(low) and low >= 0):
        raise ConfigError(Problem("FS701", f"low = {low!r}", "must be a finite size of at least 0: e.g. 0"))
    if not (np.isfinite(high) and high > low):
        raise ConfigError(Problem("FS701", f"high = {high!r}", f"must be a finite size above low = {low:g}: "
                                  "raise high or lower low"))
    if kind == "price" and high >= 1:
        raise ConfigError(Problem("FS701", f"high = {high!r}", "a price fall is a fraction of the price and must "
                                  "stay below 1 (a 100% fall): e.g. 0.5"))
    if not len(values):
        raise ConfigError(Problem("FS703", f"param {param}", "no values to sweep: give at least one"))
    if param is None and any(v is not None for v in values):
        raise ConfigError(Problem("FS703", "values", "values are given but no param to set them to: name the "
                                  f"param (a dotted scenario field, or {DEALER_CAPITAL})"))
    if param is not None and any(v is None for v in values):
        raise ConfigError(Problem("FS703", f"param {param}", "needs values to sweep: give them, "
                                  "e.g. values=(0.8, 1.0, 1.2)"))


def tipping_point(
    system: System,
    scenario: Scenario,
    asset: str,
    *,
    kind: str = "price",
    param: str | None = None,
    values: Sequence[Any] = (None,),
    low: float = 0.0,
    high: float | None = None,
    iterations: int = 20,
    scan: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """The smallest shock on ``asset`` at which its market tips, for each value of a parameter.

    For a shock size :math:`x` the calm baseline — the scenario with none of its shocks —
    takes one shock: a price fall (return :math:`-x`) or a client sale of value :math:`x`,
    on ``asset`` in round 0. With :math:`T(x)` = "the market of ``asset`` is stressed in
    some round"
    (:func:`~firesale.analytics.regimes.tipped`), the first batch evaluates :math:`T` on
    the scan grid :math:`g_j = x_{lo} + j (x_{hi} - x_{lo}) / J`, :math:`j = 0, \\dots, J`,
    and takes the first interval whose right end tips,
    :math:`(a, b) = (g_{j^*-1}, g_{j^*})` with :math:`j^* = \\min\\{j : T(g_j)\\}`; bisection
    then halves it :math:`n` times:

    .. math:: m = (a + b) / 2, \\qquad (a, b) \\leftarrow
              \\begin{cases} (a, m) & T(m) \\\\ (m, b) & \\text{otherwise.} \\end{cases}

    The threshold reported is :math:`b`, a size that tips, within
    :math:`(x_{hi} - x_{lo}) / (J \\, 2^n)` (attr ``resolution``) above the boundary. If
    :math:`T(x_{lo})` it is :math:`x_{lo}`; if no grid point tips, NaN.

    Bisection assumes :math:`T` is monotone in :math:`x`: a larger shock never untips
    the market. Where it is not, the result is *a* size at which :math:`T` switches from
    false to true inside the first tipping interval, not necessarily the smallest. The scan
    guards against the common failure, a market that untips at very large shocks (dealers
    default, flows stop), which would hide the threshold from a plain bisection between
    :math:`x_{lo}` and :math:`x_{hi}` (``scan=1``); variable ``monotone`` says where the
    scan saw :math:`T` untip. Compare with a finer grid when in doubt.

    Every parameter value advances together: the scan is one :func:`~firesale.simulate`
    batch (values × grid points, the calm baseline with no shock where :math:`x_{lo} > 0`,
    and the scenario with its own shocks once per value, for ``preset_tips``) and each
    bisection step is one batch with one scenario per value still bracketed, so there are at
    most ``iterations + 1`` calls whatever the number of values (``dealer_capital`` too: it
    is a round-0 capital shock per dealer, kept in the calm baseline).

    Parameters
    ----------
    system : System
    scenario : Scenario
        Base scenario: its channels, policies and parameters are kept, its shocks left out
        of the calm baseline (and run as they are for ``preset_tips``).
    asset : str
        Asset shocked and whose market is watched.
    kind : {"price", "client_sale"}
        ``price``: a fall of :math:`x` (fraction of the price); ``client_sale``: value
        :math:`x` (the system's currency) sold to dealers by outside clients.
    param : str, optional
        Second parameter: a dotted :class:`~firesale.scenario.Scenario` field (anything
        :meth:`Scenario.updated` accepts, e.g. ``"market.layoff_share"``) or
        ``"dealer_capital"``, a multiplier :math:`m > 0` of every dealer's t0 equity,
        added as cash by a round-0 capital shock: :math:`c_i' = c_i + (m - 1) E_i^0`,
        liabilities unchanged.
    values : sequence
        Values of ``param``; ``(None,)`` without a param.
    low : float
        Lower end :math:`x_{lo} \\ge 0`. If it already tips, the threshold is ``low``.
    high : float, optional
        Upper end :math:`x_{hi}`: default a 50% fall (``price``) or ten times the asset's
        total t0 holdings (``client_sale``). If it does not tip there, the threshold is
        NaN ("does not tip within the range"). A price fall stays below 1.
    iterations : int
        Bisection steps :math:`n`.
    scan : int
        Intervals :math:`J` of the scan grid evaluated in the first batch; 1 is plain
        bisection between ``low`` and ``high``.
    progress : callable, optional
        Called as ``progress(step, total)`` after each simulate batch (``total`` is
        ``iterations + 1``: the scan, then each step).

    Returns
    -------
    xarray.Dataset
        Dim ``param`` (the values, with the field's long_name, units and description);
        variables ``threshold`` (units ``fraction`` for price, the system currency for
        client_sale; NaN: does not tip within ``high``; ``low``: it tips already there,
        with ``calm_tips`` 1 where the calm baseline is stressed with no shock at all),
        ``monotone`` (0 where the scan saw the market untip at a larger shock),
        ``preset_tips`` (1 where the scenario's own shocks, as given, already tip the
        market) and ``preset_regime`` (dims param, round: 1 in the rounds they leave it
        stressed), ``calm_tips`` and ``calm_regime`` (the same for the calm baseline with
        no shock), and, dims param and row (the rows of
        :data:`~firesale.analytics.regimes.ROWS`), ``scan_stressed`` (the rows stressed in
        the scan's most stressed round: why a NaN threshold does not tip) and
        ``scan_measured`` (the rows measured in some round of the scan). Attrs:
        ``baseline`` (``"calm"``), ``preset_size`` (the scenario's own round-0 shock of
        ``kind`` on ``asset``, 0 if none), ``asset``, ``kind``, ``param`` (``""`` without
        one), ``low``, ``high``, ``iterations``, ``scan``, ``resolution``
        (:math:`(x_{hi} - x_{lo}) / (J \\, 2^n)`), ``system``, ``scenario``, ``currency``,
        ``firesale_version``.

    Raises
    ------
    ConfigError
        An unknown kind or asset, a bad range, iteration or scan count, a param without values,
        a dealer_capital value that is not above 0, or (from :meth:`Scenario.updated`)
        a dotted field that does not exist or a value it rejects.

    Examples
    --------
    >>> from firesale import load_preset
    >>> preset = load_preset("dealer_market")
    >>> out = tipping_point(preset.system, preset.scenario, "corp_hy", iterations=8)
    >>> out.attrs["preset_size"] < float(out.threshold[0]) < 0.1, int(out.preset_tips[0])
    (True, 0)

    From a calm market the high-yield market tips at a fall of about 9%, three times the
    preset's own 3% shock, which (with its client sales) leaves it functioning.
    """
    values = tuple(values)
    if high is None:
        k = system.asset_names.index(asset) if asset in system.asset_names else 0
        high = DEFAULT_HIGH_PRICE if kind == "price" else \
            DEFAULT_HIGH_CLIENT_SALE_MULTIPLE * float(column(system.holdings, k).sum())
    low, high = float(low), float(high)
    _check(system, asset, kind, param, values, low, high, iterations, scan)
    runs = _runs(system, _calm(scenario), param, values)
    n = len(runs)
    total = iterations + 1
    # first batch: every value at low, high and the scan points between, from the calm
    # baseline; the calm baseline with no shock where low is above 0 (at 0 it is the first
    # scan point); then every value with the scenario's own shocks
    grid = low + (high - low) * np.arange(scan + 1) / scan
    g = grid.size
    scanned = [_with_shock(run, asset, kind, float(x)) for x in grid for run in runs]
    unshocked = list(runs) if low > 0 else []
    table = _classify(system, scanned + unshocked + _runs(system, scenario, param, values), asset)
    regime = table.regime.values.astype(bool)  # (g * V + calm + V, R)
    tips = regime[:g * n].any(axis=1).reshape(g, n).T  # (V, scan + 1)
    calm_regime = regime[g * n:g * n + n] if low > 0 else regime[:n]  # (V, R)
    preset_regime = regime[-n:]  # (V, R)
    # the scan's most stressed round, per value: the rows stressed then, and every row measured in some round
    stressed = table.stressed.values[:g * n].reshape(g, n, -1, len(ROWS)).swapaxes(0, 1)  # (V, scan + 1, R, row)
    flat = stressed.reshape(n, -1, len(ROWS))
    nearest = flat[np.arange(n), flat.sum(axis=2).argmax(axis=1)]  # (V, row)
    measured = table.measured.values[:g * n].reshape(g, n, -1, len(ROWS)).any(axis=(0, 2))  # (V, row)
    if progress is not None:
        progress(1, total)
    ever = tips.any(axis=1)
    first = tips.argmax(axis=1)  # first grid point that tips
    monotone = np.array([tips[v, first[v]:].all() for v in range(n)]) | ~ever
    lower = grid[np.maximum(first - 1, 0)]
    upper = grid[first]
    bracketed = ever & (first > 0)
    for step in range(iterations):
        active = np.flatnonzero(bracketed)
        if not active.size:
            break
        middle = 0.5 * (lower[active] + upper[active])
        tipped_mid = _tips(system, [runs[v] for v in active], asset, kind, middle)
        upper[active] = np.where(tipped_mid, middle, upper[active])
        lower[active] = np.where(tipped_mid, lower[active], middle)
        if progress is not None:
            progress(step + 2, total)
    if progress is not None:
        progress(total, total)
    threshold = np.where(ever, upper, np.nan)  # first = 0 (tips at low): upper = low

    currency = system.currency
    if kind == "price":
        units, long_name = "fraction", f"{asset} price fall at which it tips"
        description = (f"Smallest fall of the {asset} price in round 0 (a fraction: 0.03 is 3%), from the calm "
                       "baseline (the scenario without its shocks), at which its market turns stressed in some round; "
                       "NaN: it does not tip within the range.")
    else:
        units, long_name = currency, f"{asset} client sale at which it tips"
        description = (f"Smallest value of {asset} sold to dealers by outside clients in round 0, from the calm "
                       "baseline (the scenario without its shocks), at which its market turns stressed in some round; "
                       "NaN: it does not tip within the range.")
    coord = np.array([None], dtype=object) if param is None else np.asarray(values)
    return xr.Dataset(
        {
            "threshold": ("param", threshold, {"units": units, "long_name": long_name, "description": description}),
            "monotone": ("param", monotone.astype(np.int8), {
                "units": "1", "long_name": "tipping monotone on the scan",
                "description": "1 where every scan point at or above the first that tips also tips; 0 where the "
                "market untips at a larger shock, so bisection's monotone assumption fails there."}),
            "preset_tips": ("param", preset_regime.any(axis=1).astype(np.int8), {
                "units": "1", "long_name": "the scenario's own shocks tip the market",
                "description": f"1 where the scenario with its own shocks, as given, already tips the {asset} market "
                "(the threshold is measured from the calm baseline, without them)."}),
            "preset_regime": (("param", "round"), preset_regime.astype(np.int8), {
                "units": "1", "long_name": "regime under the scenario's own shocks",
                "description": f"1 in the rounds in which the {asset} market is stressed under the scenario with its "
                "own shocks, as given; 0 functioning."}),
            "calm_tips": ("param", calm_regime.any(axis=1).astype(np.int8), {
                "units": "1", "long_name": "the calm baseline is stressed",
                "description": f"1 where the calm baseline with no shock at all already tips the {asset} market: the "
                "threshold is then low (0 by default) and says nothing about the size of a shock."}),
            "calm_regime": (("param", "round"), calm_regime.astype(np.int8), {
                "units": "1", "long_name": "regime of the calm baseline",
                "description": f"1 in the rounds in which the {asset} market is stressed in the calm baseline with "
                "no shock; 0 functioning."}),
            "scan_stressed": (("param", "row"), nearest.astype(np.int8), {
                "units": "1", "long_name": "rows stressed in the scan's most stressed round",
                "description": f"1 for the regime rows stressed in the round, of any scan point, with the most of "
                f"them stressed; {THRESHOLDS['rows_for_stress']:g} make the market stressed."}),
            "scan_measured": (("param", "row"), measured.astype(np.int8), {
                "units": "1", "long_name": "rows measured in the scan",
                "description": "1 for the regime rows measured in some round of some scan point; with fewer than "
                f"{THRESHOLDS['rows_for_stress']:g} measured the market cannot be called stressed."}),
        },
        coords={"param": ("param", coord, _field_attrs(param) if param else {"long_name": "none"}),
                "round": ("round", table["round"].values), "row": ("row", list(ROWS))},
        attrs={
            "baseline": "calm", "preset_size": _own_size(scenario, asset, kind),
            "asset": asset, "kind": kind, "param": param or "", "low": low, "high": high, "iterations": int(iterations),
            "scan": int(scan), "resolution": (high - low) / scan / 2.0 ** iterations, "system": system.name, "scenario": scenario.name,
            "currency": currency, "firesale_version": __version__,
        },
    )


def _label(attrs: dict[str, Any], fallback: str) -> str:
    """Axis label from CF attrs, as xarray's ``label_from_attrs``: ``long_name [units]``."""
    name = attrs.get("long_name") or fallback
    units = attrs.get("units")
    return f"{name} [{units}]" if units else str(name)


def boundary_figure(result: xr.Dataset) -> Any:
    """The tipping boundary: threshold shock (y) against the parameter value (x).

    Below the line the market functions; at and above it, it tips. Values that do not tip
    within the range are left out of the line and named in the subtitle.

    Parameters
    ----------
    result : Dataset
        Output of :func:`tipping_point`.

    Returns
    -------
    plotly.graph_objects.Figure

    Raises
    ------
    ConfigError
        plotly is not installed.
    """
    go = plotly_graph_objects()
    threshold = result.threshold
    x = [v.item() if hasattr(v, "item") else v for v in result.param.values]
    if not result.attrs.get("param"):
        x = ["(base scenario)"]
    y = threshold.values.astype(float)
    finite = np.isfinite(y)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[v for v, ok in zip(x, finite) if ok], y=y[finite], mode="lines+markers", name="tipping point",
        fill="tozeroy", fillcolor="rgba(46, 139, 87, 0.15)", line={"color": "firebrick"},
        hovertemplate="%{x}: %{y:.4g}<extra></extra>",
    ))
    subtitle = f"functioning below the line, stressed above; bisection resolution {result.attrs['resolution']:.2g}"
    never = [str(v) for v, ok in zip(x, finite) if not ok]
    if never:
        subtitle += f"; no tipping up to {result.attrs['high']:g} at {', '.join(never)}"
    fig.update_layout(
        title={"text": f"Tipping boundary of {result.attrs['asset']} ({result.attrs['kind'].replace('_', ' ')} shock), "
               f"{result.attrs.get('system', '')}<br><sup>{subtitle}</sup>"},
        xaxis_title=_label(result.param.attrs, "parameter"),
        yaxis_title=_label(threshold.attrs, "threshold"),
        template="plotly_white",
        showlegend=False,
    )
    if threshold.attrs.get("units") == "fraction":
        fig.update_yaxes(tickformat=".1%")
    return fig
