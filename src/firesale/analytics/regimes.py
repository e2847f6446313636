"""Market regimes: the narrative's "functioning vs stressed" table, measured (DESIGN §2).

Per scenario, asset and round, five rows, each classified *functioning* or *stressed*
by a stated threshold (:data:`THRESHOLDS`):

* **price shocks** — persistence of the fire-sale discount,
  :math:`ρ_t = \\ln(p_t/f_t) / \\ln(p_{t-1}/f_{t-1})`, the AR(1) coefficient of the price's
  log gap to its fundamental: returns are negatively autocorrelated (mean-reverting) when
  ρ < 1, positively (trending) when ρ > 1. Stressed when ρ > 1.
* **dealer behaviour** — dealers' net purchases in the round (value). Stressed when < 0.
* **liquidity** — spread and price impact per unit of flow after the round, each over its
  t0 value (impact = 1 / depth scale). Stressed when either is ≥ 2.
* **feedback loop** — the gain: forced sales of the asset in the round per unit of it sold
  before the round. Where the run measured it (``simulate(..., loop_gain=True)``) this is
  the engine's own-market loop gain, the diagonal of the Jacobian of the sale → price →
  sale map (:func:`firesale.engine.simulate.loop_gain_round`); otherwise the ratio of the
  round's forced sales to the flow that moved the price the round before. Stressed when
  > 1 (positive feedback).
* **information flow** — quoting share after the round, and the marks' discount
  1 − mark/price. Stressed when the share is < 0.5 or the discount > 1%.

A row that cannot be measured in a round (no discount to persist, no dealers, no flow the
round before) is NaN and counts as functioning; a discount under 1 bp and flows under
0.01% of the asset's t0 holdings count as none (``min_gap``, ``min_flow``). An asset's
regime in a round is *stressed* when at least three of its five rows are. The *worst*
round of an asset is the one with the most stressed rows (ties: the larger fire-sale
discount); the narrative's table prints the first round and the worst side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from firesale.errors import ConfigError, Problem, did_you_mean

__all__ = ["THRESHOLDS", "ROWS", "regimes", "regime_table", "tipped", "asset_regimes"]

#: The thresholds of the classification (see the module docstring).
THRESHOLDS: dict[str, float] = {
    "persistence": 1.0,  # discount persistence above it: trending
    "dealer_net": 0.0,  # dealers' net purchases below it: net sellers
    "spread_ratio": 2.0,  # spread over t0 at or above it
    "impact_ratio": 2.0,  # impact per unit of flow over t0 at or above it
    "gain": 1.0,  # forced sales per unit of the previous round's price-moving flow above it
    "quoting_share": 0.5,  # quoting share below it
    "mark_discount": 0.01,  # marks' discount to prices above it
    "rows_for_stress": 3,  # stressed rows (of 5) that make the regime stressed
    "min_gap": 1e-4,  # a fire-sale discount below 1 bp of the price has no persistence to measure
    "min_flow": 1e-4,  # flows below this share of the asset's t0 holdings count as none
}
#: The table's rows and the measures each shows.
ROWS: dict[str, tuple[str, ...]] = {
    "price shocks": ("persistence",),
    "dealer behaviour": ("dealer_net",),
    "liquidity": ("spread_ratio", "impact_ratio"),
    "feedback loop": ("gain",),
    "information flow": ("quoting_share", "mark_discount"),
}
_LABELS = {
    "price shocks": ("mean-reverting", "trending"),
    "dealer behaviour": ("net buying", "net selling"),
    "liquidity": ("normal", "spreads and impact up"),
    "feedback loop": ("negative", "positive"),
    "information flow": ("quotes and marks normal", "quotes withdrawn, marks opaque"),
}


def _gap(ds: xr.Dataset) -> xr.DataArray:
    """Log gap of price to fundamental (the fire-sale discount, ≤ 0 when selling)."""
    price = ds.price.where(ds.price > 0)
    return np.log(price / ds.fundamental)


def regimes(ds: xr.Dataset) -> xr.Dataset:
    """Measures, row flags and regime per scenario, round and asset.

    Parameters
    ----------
    ds : Dataset
        Results of :func:`firesale.simulate` (summary or detailed).

    Returns
    -------
    Dataset
        The measures of :data:`ROWS` (dims scenario, round, asset), ``stressed`` (…, row)
        and ``regime`` (0 functioning, 1 stressed), with units and descriptions.
    """
    t = THRESHOLDS
    gap = _gap(ds)
    before = gap.shift(round=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        persistence = xr.where(abs(before) > t["min_gap"], gap / before, np.nan)
    negligible = t["min_flow"] * ds.supply0
    spread_ratio = xr.where(ds.spread0 > 0, ds.spread / ds.spread0, 1.0)
    impact_ratio = 1.0 / ds.depth_scale
    if "market_loop_gain" in ds:
        gain = ds.market_loop_gain
    else:
        flow_before = ds.market_flow.shift(round=1)
        gain = xr.where(flow_before > negligible, ds.forced_sales / flow_before, np.nan)
    has_dealers = bool((ds.institution_type == "dealer").any())
    dealer_net = xr.where(abs(ds.dealer_net) > negligible, ds.dealer_net, 0.0)
    dealer_net = dealer_net if has_dealers else xr.full_like(ds.dealer_net, np.nan, dtype=float)
    discount = 1.0 - ds.mark / ds.price.where(ds.price > 0)
    flags = {
        "price shocks": persistence > t["persistence"],
        "dealer behaviour": dealer_net < t["dealer_net"],
        "liquidity": (spread_ratio >= t["spread_ratio"]) | (impact_ratio >= t["impact_ratio"]),
        "feedback loop": gain > t["gain"],
        "information flow": (ds.quoting_share < t["quoting_share"]) | (discount > t["mark_discount"]),
    }
    stressed = xr.concat([flags[r] for r in ROWS], dim=xr.Variable("row", list(ROWS)))
    regime = (stressed.sum("row") >= t["rows_for_stress"]).astype(np.int8)

    def var(x: xr.DataArray, units: str, description: str) -> xr.DataArray:
        return x.assign_attrs(units=units, description=description)

    return xr.Dataset({
        "persistence": var(persistence, "-", "AR(1) coefficient of the log gap of price to fundamental; > 1 trending"),
        "dealer_net": var(dealer_net, ds.dealer_net.attrs.get("units", "currency"),
                          "Dealers' net purchases in the round; < 0 net sellers"),
        "spread_ratio": var(spread_ratio, "-", "Bid-ask spread over its t0 value"),
        "impact_ratio": var(impact_ratio, "-", "Price impact per unit of flow over its t0 value (1/depth scale)"),
        "gain": var(gain, "-", "Loop gain: forced sales per unit sold before the round; > 1 positive"),
        "quoting_share": var(ds.quoting_share, "fraction", "Market share of dealers streaming quotes"),
        "mark_discount": var(discount, "fraction", "1 - mark / price"),
        "stressed": var(stressed.astype(np.int8), "1", "1 where the row is in its stressed state"),
        "regime": var(regime, "1", "1 where the asset's market is stressed (≥ 3 of 5 rows)"),
    })


def _worst_round(reg: xr.Dataset, gap: xr.DataArray) -> xr.DataArray:
    """Per scenario and asset: the round with the most stressed rows, ties by deeper discount."""
    score = reg.stressed.sum("row") * 1e6 - gap.fillna(0.0).clip(max=0.0) * 1e3
    return score.argmax("round")


def tipped(ds: xr.Dataset, asset: str | None = None) -> np.ndarray:
    """Whether each scenario's market tipped into the stressed regime in some round:
    of ``asset``, or of any asset. Shape (S,)."""
    reg = regimes(ds).regime
    if asset is not None:
        reg = reg.sel(asset=asset)
        return reg.max("round").values.astype(bool)
    return reg.max(("round", "asset")).values.astype(bool)


def _fmt(measure: str, value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    if measure in ("quoting_share", "mark_discount"):
        return f"{100 * value:.1f}%"
    if measure == "dealer_net":
        return f"{value:+,.1f}"
    return f"{value:.2f}"


def regime_table(ds: xr.Dataset, scenario: int = 0, asset: str | None = None) -> dict[str, Any]:
    """The narrative's table for one asset: first round and worst round side by side.

    ``asset`` defaults to the asset whose worst round is worst (most stressed rows, then
    deepest discount). Returns a JSON-ready dict: ``asset``, ``first_round``,
    ``worst_round``, ``regime`` per column and, per row, each column's measures (numbers
    and text), state and label.
    """
    one = ds.isel(scenario=[scenario])  # the measures of this scenario only
    reg = regimes(one).isel(scenario=0)
    gap = _gap(one).isel(scenario=0)
    worst = _worst_round(reg, gap)
    if asset is None:
        stressed_at_worst = reg.stressed.sum("row").isel(round=worst)
        score = stressed_at_worst * 1e6 - gap.isel(round=worst).fillna(0.0).clip(max=0.0) * 1e3
        asset = str(reg.asset.values[int(np.argmax(score.values))])
    elif asset not in reg.asset.values:
        names = [str(a) for a in reg.asset.values]
        raise ConfigError(Problem("FS301", f"asset {asset!r}", f"unknown asset.{did_you_mean(asset, names)} "
                                  f"Assets: {', '.join(names)}"))
    w = int(worst.sel(asset=asset))
    columns = {"first": 0, "worst": w}
    rows = []
    for row, measures in ROWS.items():
        entry: dict[str, Any] = {"row": row}
        for col, r in columns.items():
            at = reg.sel(asset=asset).isel(round=r)
            state = "stressed" if int(at.stressed.sel(row=row)) else "functioning"
            entry[col] = {
                "state": state,
                "label": _LABELS[row][state == "stressed"],
                "measures": {m: (None if not np.isfinite(float(at[m])) else float(at[m])) for m in measures},
                "text": ", ".join(f"{m.replace('_', ' ')} {_fmt(m, float(at[m]))}" for m in measures),
            }
        rows.append(entry)
    return {
        "asset": asset,
        "first_round": 0,
        "worst_round": w,
        "regime": {col: "stressed" if int(reg.regime.sel(asset=asset).isel(round=r)) else "functioning"
                   for col, r in columns.items()},
        "rows": rows,
        "thresholds": dict(THRESHOLDS),
    }


def asset_regimes(ds: xr.Dataset, scenario: int = 0) -> dict[str, dict[str, Any]]:
    """Per asset: its worst round, the regime then, and the rows stressed then (JSON-ready)."""
    one = ds.isel(scenario=[scenario])
    reg = regimes(one).isel(scenario=0)
    worst = _worst_round(reg, _gap(one).isel(scenario=0)).transpose("asset").values
    # plain arrays once: selecting by label per asset costs seconds at 2,000 assets
    regime = reg.regime.transpose("round", "asset").values
    stressed = reg.stressed.transpose("round", "asset", "row").values
    rows = [str(r) for r in reg.row.values]
    out = {}
    for k, asset in enumerate(reg.asset.values):
        w = int(worst[k])
        out[str(asset)] = {
            "worst_round": w,
            "state": "stressed" if int(regime[w, k]) else "functioning",
            "stressed_rows": [r for r, flag in zip(rows, stressed[w, k]) if int(flag)],
            "first_stressed_round": int(np.argmax(regime[:, k])) if regime[:, k].any() else None,
        }
    return out
