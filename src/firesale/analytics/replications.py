"""The literature's models on the public data: what ``firesale vulnerability``,
``firesale deleveraging``, ``firesale equilibrium`` and ``firesale contagion`` print.

Each function returns a JSON-ready dict (numbers as fractions, 0.01 = 1%) and, where
there is one, the labelled table or series behind it; figures are drawn by
:func:`figure`. ``docs/replications.md`` states each setup, our numbers and the paper's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from firesale.analytics.vulnerability import GLT_IMPACT_PER_EURO, glt_inputs, vulnerability_index, vulnerability_table
from firesale.models.cont_schaanning import cont_schaanning
from firesale.models.glt import cascade_multiplier, vulnerability_rounds

__all__ = ["GIIPS", "glt_eba2011", "callreport_index", "cs_eba2011", "bsu_eba2016", "caccioli_window", "figure"]

#: The countries of GLT's sovereign shock (Greece, Ireland, Italy, Portugal, Spain).
GIIPS = ("GR", "IE", "IT", "PT", "ES")
#: Units of the data sets: EBA amounts are EUR millions, call reports USD thousands.
_EBA_UNIT, _CALL_REPORT_UNIT = 1e6, 1e3


def _eba2011_inputs(write_down: float, root: str | Path | None):
    from firesale.data.eba2011 import load_eba2011

    system = load_eba2011(root)
    fall = np.array([write_down if a.removeprefix("sov_") in GIIPS else 0.0 for a in system.asset_names])
    return system, fall


def glt_eba2011(write_down: float = 0.1, impact_per_euro: float = GLT_IMPACT_PER_EURO, top: int = 10,
                root: str | Path | None = None) -> tuple[dict[str, Any], xr.Dataset]:
    """GLT (2015) on the EBA 2011 banks: a write-down of GIIPS sovereign debt, one round of
    deleveraging to constant leverage, ℓ = ``impact_per_euro`` on every asset: sovereigns by
    country, the EBA exposure classes (institutions, corporates, retail, commercial real
    estate, defaulted) by country, and each bank's residual other assets as one market, as
    in GLT's application (:func:`firesale.data.eba2011.load_eba2011`, ``class_country``).

    Returns the summary (AV, the direct loss, the top banks by systemicness and by indirect
    vulnerability, the multi-round AV) and the per-bank table.
    """
    system, fall = _eba2011_inputs(write_down, root)
    impact = impact_per_euro * _EBA_UNIT
    table = vulnerability_table(system.holdings, system.equity0, fall, impact, system.institution_names,
                                system.asset_names)
    a, m, b, ell = glt_inputs(system.holdings, system.equity0, impact, names=system.institution_names)
    rounds = vulnerability_rounds(a, m, b, ell, fall, 3)
    radius = cascade_multiplier(a, m, b, ell)  # above 1 the linear rounds diverge
    direct = float((system.holdings @ fall).sum() / system.equity0.sum())

    def top_of(variable: str) -> list[dict[str, Any]]:
        order = np.argsort(-table[variable].values, kind="stable")[:top]
        return [{"bank": str(table.bank.values[i]), variable: float(table[variable].values[i])} for i in order]

    summary = {
        "data": "EBA 2011 stress test disclosure (EUR m)",
        "banks": int(system.n_institutions),
        "excluded": system.description,
        "write_down": write_down,
        "countries": list(GIIPS),
        "impact_per_euro": impact_per_euro,
        "direct_loss": direct,
        "aggregate_vulnerability": float(table.aggregate_vulnerability),
        "aggregate_vulnerability_rounds": [float(v) for v in rounds],
        "cascade_multiplier": radius,
        "top_systemicness": top_of("systemicness"),
        "top_indirect_vulnerability": top_of("indirect_vulnerability"),
    }
    return summary, table


def callreport_index(impact_per_dollar: float = GLT_IMPACT_PER_EURO, fall: float = 0.01,
                     root: str | Path | None = None, progress: Callable[[], None] | None = None,
                     ) -> tuple[dict[str, Any], xr.Dataset]:
    """Aggregate vulnerability of US commercial banks in each of the 59 quarters: a fall of
    ``fall`` on every non-cash asset (cash and reserves, fed funds and reverse repo take no
    shock and have no impact), one round, ℓ = ``impact_per_dollar``."""
    from firesale.data.callreports import CALLREPORT_ASSET_CLASSES, callreport_arrays, callreport_quarters

    quarters = callreport_quarters(root)

    def arrays(quarter: int):
        data = callreport_arrays(quarter, root)
        cash = np.array([CALLREPORT_ASSET_CLASSES.get(name) == "reserves" for name in data.asset_names])
        return data.holdings, data.equity, cash

    series = vulnerability_index(quarters, arrays, impact_per_dollar * _CALL_REPORT_UNIT, fall, progress)
    av = series.aggregate_vulnerability.values
    peak = int(np.argmax(av))
    summary = {
        "data": "US commercial banks, call reports (USD thousands), quarters T = 1..59",
        "fall": fall,
        "impact_per_dollar": impact_per_dollar,
        "quarters": [int(q) for q in series.period.values],
        "aggregate_vulnerability": [float(v) for v in av],
        "banks": [int(v) for v in series.banks.values],
        "peak": {"quarter": int(series.period.values[peak]), "aggregate_vulnerability": float(av[peak])},
    }
    return summary, series


def cs_eba2011(write_down: float = 0.1, impact_per_euro: float = GLT_IMPACT_PER_EURO, lambda_max: float = 33.3,
               alpha: float = 0.5, root: str | Path | None = None) -> dict[str, Any]:
    """Cont-Schaanning (2017) on the EBA 2011 banks, against GLT's one round.

    Marketable assets are the sovereign exposures (GIIPS written down by ``write_down``),
    illiquid the rest, one class per exposure class and country and ``other`` (none written
    down here); depth δ = 1/ℓ with no price floor, so that the first round's impact is
    GLT's to first order; a bank above ``lambda_max`` delevers to 0.95 λ_max, an insolvent
    one sells everything; execution at the midpoint (α = 1/2).
    """
    system, fall = _eba2011_inputs(write_down, root)
    sovereign = np.array([a.startswith("sov_") for a in system.asset_names])
    marketable = system.holdings[:, sovereign]
    illiquid = system.holdings[:, ~sovereign]  # one illiquid class per exposure class and country, and other
    equity = system.equity0
    impact = impact_per_euro * _EBA_UNIT
    path = cont_schaanning(marketable, illiquid, equity, depth=np.full(sovereign.sum(), 1.0 / impact), floor=0.0,
                           lambda_max=lambda_max, alpha=alpha, price_shock=fall[sovereign])
    e0 = float(equity.sum())
    initial = float(path.shock_loss.sum())
    fire = path.loss.sum(axis=1)
    glt = vulnerability_table(system.holdings, equity, fall, impact, system.institution_names, system.asset_names)
    total = initial + float(fire.sum())
    return {
        "data": "EBA 2011 stress test disclosure (EUR m)",
        "banks": int(system.n_institutions),
        "write_down": write_down,
        "lambda_max": lambda_max,
        "initial_loss": initial / e0,
        "fire_sale_loss_by_round": [float(v) / e0 for v in fire],
        "fire_sale_loss": float(fire.sum()) / e0,
        "fire_sale_share": float(fire.sum()) / total if total > 0 else 0.0,
        "rounds": path.rounds,
        "delevering_by_round": [int(v) for v in (path.sold_fraction > 0).sum(axis=1)],
        "insolvent": int(path.insolvent[-1].sum()) if path.rounds else int((equity - path.shock_loss <= 0).sum()),
        "glt_one_round": float(glt.aggregate_vulnerability),
        "note": "losses as fractions of system equity; GLT's one round delevers every bank to its own leverage, "
                "Cont-Schaanning only banks above lambda_max",
    }


def figure(kind: str, data: Any) -> Any:
    """A plotly figure for a replication: ``"systemicness"`` (the table of :func:`glt_eba2011`)
    or ``"index"`` (the series of :func:`callreport_index`). Axis labels come from attrs."""
    from firesale.analytics.figures import plotly_graph_objects

    go = plotly_graph_objects()
    if kind == "systemicness":
        table = data.sortby("systemicness", ascending=False).isel(bank=slice(0, 20))
        fig = go.Figure([go.Bar(x=table.bank.values, y=table.systemicness.values, name="systemicness"),
                         go.Bar(x=table.bank.values, y=table.indirect_vulnerability.values,
                                name="indirect vulnerability")])
        fig.update_layout(barmode="group", title="GLT on EBA 2011: the 20 most systemic banks",
                          yaxis_title="share of equity", template="plotly_white")
        return fig
    if kind == "index":
        av = data.aggregate_vulnerability
        fig = go.Figure(go.Scatter(x=data.period.values, y=av.values, mode="lines+markers"))
        fig.update_layout(title="Aggregate vulnerability of US commercial banks", xaxis_title="quarter (T)",
                          yaxis_title=f"{av.attrs['long_name']} ({av.attrs['units']})", template="plotly_white")
        return fig
    if kind == "deleveraging":
        rounds = [f"round {r}" for r in range(1, len(data["fire_sale_loss_by_round"]) + 1)]
        fig = go.Figure([
            go.Bar(x=["shock", *rounds], y=[data["initial_loss"], *data["fire_sale_loss_by_round"]],
                   name="Cont-Schaanning"),
            go.Bar(x=["GLT, one round"], y=[data["glt_one_round"]], name="GLT"),
        ])
        fig.update_layout(title=f"EBA 2011, GIIPS −{data['write_down']:.0%}: losses by round",
                          yaxis_title="share of system equity", yaxis_tickformat=".1%", template="plotly_white")
        return fig
    if kind == "equilibrium":
        markets = list(data["lower"])
        fig = go.Figure([go.Bar(x=markets, y=[data[key][m] for m in markets], name=name)
                         for key, name in (("lower", "lower equilibrium"), ("upper", "upper equilibrium"),
                                           ("max", "every bond sold"))])
        fig.update_layout(barmode="group", title="BSU on EBA 2016: price impact per sovereign bond market",
                          yaxis_title="price fall (fraction)", yaxis_tickformat=".1%", template="plotly_white")
        return fig
    if kind == "contagion":
        def bars(lev: float) -> dict[str, Any]:  # the Wilson 95% interval of each cell
            p = data.probability.sel(leverage=lev).values
            return {"type": "data", "symmetric": False, "array": data.probability_high.sel(leverage=lev).values - p,
                    "arrayminus": p - data.probability_low.sel(leverage=lev).values}

        fig = go.Figure([go.Scatter(x=data.mean_degree.values, y=data.probability.sel(leverage=lev).values,
                                    error_y=bars(lev), mode="lines+markers", name=f"leverage {lev:g}")
                         for lev in data.leverage.values])
        fig.update_layout(title="Caccioli et al.: the window of instability", xaxis_type="log",
                          xaxis_title="mean assets per bank (diversification)",
                          yaxis_title=data.probability.attrs["long_name"], template="plotly_white")
        return fig
    raise ValueError(f"unknown figure {kind!r}")


def bsu_eba2016(leverage_bound: float = 33.0, kappa: float = 1.5, root: str | Path | None = None, *,
                year: int = 2016, horizon: int = 1, convention: str = "corrected",
                corrections: Collection[str] | None = None) -> dict[str, Any]:
    """Breuer, Summer & Urosevic (OeNB WP 235) on the EBA banks: the fire-sale equilibria
    per sovereign market and the paper's tables of banks over the leverage bound and of
    equity losses with and without deleveraging.

    Each bank's equity after the stress is its CET1 less its adverse-scenario credit
    losses over ``horizon`` years; under ``convention="corrected"`` the losses are counted
    once, its other assets are written down by them and volatility is measured over the
    dates common to all markets (the paper's equations); ``"syslosseval"`` reproduces the
    authors' published R code (:func:`firesale.data.eba2016.load_bsu_inputs` says how;
    ``corrections`` applies some of the corrections only, to quantify each). A
    bank above ``λ̄`` sells the share of its bonds that restores it at the equilibrium
    prices; prices fall by ``σ_k κ sqrt(Q_k / ADV_k)``; the lower equilibrium is the
    iteration from no price fall, the upper from every bond sold.
    """
    from firesale.data.eba2016 import load_bsu_inputs
    from firesale.models.bsu import SquareRootImpact, stress_test

    inputs = load_bsu_inputs(root, year=year, horizon=horizon, convention=convention, corrections=corrections)
    result = stress_test(inputs.equity0, inputs.assets0, inputs.equity1, inputs.securities, inputs.other_assets1,
                         leverage_bound, SquareRootImpact(inputs.sigma, inputs.adv, kappa=kappa))
    return _bsu_summary(inputs, result, leverage_bound, kappa)


def _bsu_summary(inputs: Any, result: Any, leverage_bound: float, kappa: float) -> dict[str, Any]:
    """The JSON of ``firesale equilibrium``: prices per market, then the paper's tables."""
    eqs = result.equilibria
    per_market = lambda values: {m: float(v) for m, v in zip(inputs.markets, values)}  # noqa: E731
    over = result.over_bound.any(axis=0)
    states = list(result.states)
    return {
        "lower": per_market(eqs.lower.price_fall),
        "upper": per_market(eqs.upper.price_fall),
        "max": per_market(result.max_price_fall),
        "iterations": {"lower": int(eqs.lower.iterations), "upper": int(eqs.upper.iterations)},
        "data": f"EBA {inputs.year} (EUR m), {inputs.horizon}-year adverse scenario, market data of "
                f"{inputs.year - 1}",
        "year": inputs.year, "horizon": inputs.horizon, "convention": inputs.convention,
        "banks": len(inputs.banks), "leverage_bound": leverage_bound, "kappa": kappa,
        "credit_loss": float(inputs.credit_loss.sum()),
        "multiple": bool(eqs.multiple),
        "banks_selling": {"lower": int((eqs.lower.sales_fraction > 0).sum()),
                          "upper": int((eqs.upper.sales_fraction > 0).sum())},
        "quantity": per_market(inputs.securities.sum(axis=0)),
        "sigma": per_market(inputs.sigma), "adv": per_market(inputs.adv),
        "sigma_label": dict(zip(inputs.markets, inputs.sigma_label)), "sigma_dates": inputs.sigma_dates,
        "banks_over_bound": {
            "count": {s: int(result.over_bound[j].sum()) for j, s in enumerate(states)},
            "banks": [{"bank": inputs.bank_names[i], "lei": inputs.banks[i],
                       "total_assets": float(inputs.assets0[i]),
                       "leverage": {s: float(min(result.leverage[j, i], 1e300)) for j, s in enumerate(states)},
                       "sales_fraction": {"lower": float(result.sales_fraction[0, i]),
                                          "upper": float(result.sales_fraction[1, i])}}
                      for i in np.flatnonzero(over)],
        },
        "equity": {s: float(result.equity[j].sum()) for j, s in enumerate(states)},
        "equity_loss": result.equity_loss(),
    }

def caccioli_window(mean_degrees=(1, 1.5, 2, 3, 4, 6, 8, 12, 16, 32, 64), leverages=(10.0, 25.0), trials: int = 200,
                    seed: int = 0, n_banks: int = 400, n_assets: int = 400) -> tuple[dict[str, Any], xr.Dataset]:
    """Caccioli, Shrestha, Moore & Farmer (2014): probability and size of contagion against
    diversification (mean assets per bank) at two leverages — the window of instability.

    Each cell carries its 95% interval (Wilson for the probability, normal for the mean
    extent); the window at a leverage spans the mean degrees where P(contagion) ≥ 0.5."""
    from firesale.models.caccioli import contagion_sweep

    sweep = contagion_sweep(mean_degrees, leverages, trials, seed, n_banks=n_banks, n_assets=n_assets)
    ds = xr.Dataset(
        {
            "probability": (("leverage", "mean_degree"), sweep.probability, {
                "units": "1", "long_name": "probability of contagion",
                "description": f"Share of trials in which more than {sweep.threshold:.0%} of banks fail"}),
            "extent": (("leverage", "mean_degree"), sweep.extent, {
                "units": "1", "long_name": "extent of contagion", "description": "Share of banks failed, given contagion"}),
            "probability_low": (("leverage", "mean_degree"), sweep.probability_low, {
                "units": "1", "long_name": "probability of contagion, 95% low",
                "description": "Lower end of the Wilson 95% interval of the probability"}),
            "probability_high": (("leverage", "mean_degree"), sweep.probability_high, {
                "units": "1", "long_name": "probability of contagion, 95% high",
                "description": "Upper end of the Wilson 95% interval of the probability"}),
            "extent_low": (("leverage", "mean_degree"), sweep.extent_low, {
                "units": "1", "long_name": "extent of contagion, 95% low",
                "description": "Lower end of the normal 95% interval of the mean extent (NaN under 2 contagions)"}),
            "extent_high": (("leverage", "mean_degree"), sweep.extent_high, {
                "units": "1", "long_name": "extent of contagion, 95% high",
                "description": "Upper end of the normal 95% interval of the mean extent (NaN under 2 contagions)"}),
        },
        coords={"leverage": sweep.leverages, "mean_degree": sweep.mean_degrees},
        attrs={"trials": trials, "seed": seed, "n_banks": n_banks, "n_assets": n_assets},
    )
    window = {}
    for lev, row in zip(sweep.leverages, sweep.probability):
        unstable = sweep.mean_degrees[row >= 0.5]
        window[f"{lev:g}"] = ([float(unstable.min()), float(unstable.max())] if unstable.size else None)
    def cells(values: np.ndarray) -> dict[str, list[float | None]]:
        return {f"{lev:g}": [None if not np.isfinite(x) else float(x) for x in row]
                for lev, row in zip(sweep.leverages, values)}

    summary = {
        "model": "Caccioli et al. (2014), random bipartite graph, exponential impact, one bank holding assets fails "
                 "at start",
        "n_banks": n_banks, "n_assets": n_assets, "trials": trials, "seed": seed,
        "mean_degrees": [float(d) for d in sweep.mean_degrees], "leverages": [float(v) for v in sweep.leverages],
        "probability": {f"{lev:g}": [float(p) for p in row] for lev, row in zip(sweep.leverages, sweep.probability)},
        "probability_interval": {lev: [list(pair) for pair in zip(low, high)] for (lev, low), high in
                                 zip(cells(sweep.probability_low).items(), cells(sweep.probability_high).values())},
        "extent": cells(sweep.extent),
        "extent_interval": {lev: [list(pair) for pair in zip(low, high)] for (lev, low), high in
                            zip(cells(sweep.extent_low).items(), cells(sweep.extent_high).values())},
        "window": window,
    }
    return summary, ds
