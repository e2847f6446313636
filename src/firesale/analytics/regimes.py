"""Market regimes: the narrative's "functioning vs stressed" table, measured (docs/model.md).

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
  before the round, the engine's own-market loop gain, the diagonal of the Jacobian of the
  sale → price → sale map (:func:`firesale.engine.simulate.loop_gain_round`), where the run
  measured it (``simulate(..., loop_gain=True)``). Stressed when > 1 (positive feedback).
* **information flow** — quoting share after the round, and the marks' discount
  1 − mark/price. Stressed when the share is < 0.5 or the discount > 1%.

A row the run did not measure in a round is *not measured* (variable ``measured``) and
never counts toward the verdict: the price-shock row where there is no fire-sale discount
the round before to persist; the dealer row without dealers; the liquidity row with the
information channel off (no spread is quoted and depth stays at t0: neither moves), its
spread part also where the asset has no t0 spread; the feedback row where the run did not
measure the loop gain (``simulate(..., loop_gain=True)``) or found none to measure; the
information row with the information channel off (full quotes and marks at prices by
construction). Its measures are NaN. A discount under 1 bp and flows under 0.01% of the
asset's t0 holdings count as none (``min_gap``, ``min_flow``). An asset's regime in a round
is *stressed* when at least three of its measured rows are stressed (of five; fewer rows
measured make stress harder to show, never easier). The *worst* round of an asset is the
one with the most stressed rows (ties: the larger fire-sale discount); the narrative's
table prints the first round and the worst side by side and names the rows not measured.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from firesale.errors import ConfigError, Problem, did_you_mean

__all__ = ["THRESHOLDS", "ROWS", "NOT_MEASURED", "regimes", "regime_table", "tipped", "asset_regimes",
           "scenario_settings"]

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


#: Why a row is not measured, by row (see the module docstring).
NOT_MEASURED = {
    "price shocks": "no fire-sale discount the round before to persist",
    "dealer behaviour": "no dealers in the system",
    "liquidity": "information channel off: no spread quoted, depth at t0",
    "feedback loop": "no loop gain measured in this round",
    "information flow": "information channel off: full quotes, marks at prices",
}


def scenario_settings(ds: xr.Dataset) -> list[dict[str, Any]] | None:
    """The settings of each scenario of a results Dataset, as dicts (the ``scenarios``
    attr: their JSON, joined by ``;``); None when the Dataset does not record them.

    >>> from firesale import Scenario, load_preset, simulate
    >>> system = load_preset("dealer_prime").system
    >>> [s["name"] for s in scenario_settings(simulate(system, [Scenario(name="x"), Scenario(name="y")]))]
    ['x', 'y']
    """
    text = str(ds.attrs.get("scenarios", ""))
    decoder, out, at = json.JSONDecoder(), [], 0
    try:
        while at < len(text):
            value, at = decoder.raw_decode(text, at)
            out.append(value)
            at += 1 if text[at:at + 1] == ";" else 0
    except json.JSONDecodeError:
        return None
    if len(out) != ds.sizes.get("scenario", 1) or not all(isinstance(v, dict) for v in out):
        return None
    return out


def _select(ds: xr.Dataset, scenario: int) -> xr.Dataset:
    """Scenario ``scenario`` of a batch, as a batch of one that still records its settings."""
    one = ds.isel(scenario=[scenario])
    settings = scenario_settings(ds)
    if settings is not None:
        one.attrs = {**ds.attrs, "scenarios": json.dumps(settings[scenario])}
    return one


def _information_on(ds: xr.Dataset) -> xr.DataArray:
    """Whether each scenario ran with the information channel on (dim scenario); on where
    the results do not say."""
    settings = scenario_settings(ds)
    on = [True] * ds.sizes["scenario"] if settings is None else \
        [bool(s.get("channels", {}).get("information", True)) for s in settings]
    return xr.DataArray(np.array(on, dtype=bool), dims="scenario", coords={"scenario": ds.scenario.values})


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
        The measures of :data:`ROWS` (dims scenario, round, asset; NaN where not
        measured), ``measured`` and ``stressed`` (…, row) and ``regime`` (0 functioning,
        1 stressed), with units and descriptions.
    """
    t = THRESHOLDS
    gap = _gap(ds)
    before = gap.shift(round=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        persistence = xr.where(abs(before) > t["min_gap"], gap / before, np.nan)
    negligible = t["min_flow"] * ds.supply0
    info = _information_on(ds)
    spread_ratio = xr.where(info & (ds.spread0 > 0), ds.spread / ds.spread0.where(ds.spread0 > 0), np.nan)
    impact_ratio = xr.where(info, 1.0 / ds.depth_scale, np.nan)
    gain = ds.market_loop_gain if "market_loop_gain" in ds else xr.full_like(ds.price, np.nan, dtype=float)
    has_dealers = bool((ds.institution_type == "dealer").any())
    dealer_net = xr.where(abs(ds.dealer_net) > negligible, ds.dealer_net, 0.0)
    dealer_net = dealer_net if has_dealers else xr.full_like(ds.dealer_net, np.nan, dtype=float)
    quoting_share = xr.where(info, ds.quoting_share, np.nan)
    discount = xr.where(info, 1.0 - ds.mark / ds.price.where(ds.price > 0), np.nan)
    flags = {
        "price shocks": persistence > t["persistence"],
        "dealer behaviour": dealer_net < t["dealer_net"],
        "liquidity": (spread_ratio >= t["spread_ratio"]) | (impact_ratio >= t["impact_ratio"]),
        "feedback loop": gain > t["gain"],
        "information flow": (quoting_share < t["quoting_share"]) | (discount > t["mark_discount"]),
    }
    measures_of = {"price shocks": (persistence,), "dealer behaviour": (dealer_net,),
                   "liquidity": (spread_ratio, impact_ratio), "feedback loop": (gain,),
                   "information flow": (quoting_share, discount)}
    row = xr.Variable("row", list(ROWS))
    dims = ("scenario", "round", "asset")
    measured = xr.concat([(np.isfinite(m[0]) if len(m) == 1 else np.isfinite(m[0]) | np.isfinite(m[1]))
                          .transpose(*dims) for m in measures_of.values()], dim=row)
    # a NaN measure compares false: a row not measured is never stressed
    stressed = xr.concat([flags[r].transpose(*dims) for r in ROWS], dim=row) & measured
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
        "quoting_share": var(quoting_share, "fraction", "Market share of dealers streaming quotes"),
        "mark_discount": var(discount, "fraction", "1 - mark / price"),
        "measured": var(measured.astype(np.int8), "1", "1 where the run measured the row (0: it does not count)"),
        "stressed": var(stressed.astype(np.int8), "1", "1 where the row is measured and in its stressed state"),
        "regime": var(regime, "1", "1 where the asset's market is stressed (≥ 3 measured rows stressed)"),
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
    ``worst_round``, ``regime`` per column, ``not_measured`` (per column, the rows the run
    did not measure: they do not count toward the regime) and, per row, each column's
    measures (numbers and text; None and "n/a" where not measured), ``measured``, state
    (``"functioning"``, ``"stressed"`` or ``"not measured"``) and label (for a row not
    measured, why: :data:`NOT_MEASURED`).
    """
    one = _select(ds, scenario)  # the measures of this scenario only
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
    why = dict(NOT_MEASURED)
    if "market_loop_gain" not in ds:
        why["feedback loop"] = "this run did not measure the loop gain: simulate with loop_gain=True"
    rows = []
    for row, measures in ROWS.items():
        entry: dict[str, Any] = {"row": row}
        for col, r in columns.items():
            at = reg.sel(asset=asset).isel(round=r)
            measured = bool(int(at.measured.sel(row=row)))
            state = ("stressed" if int(at.stressed.sel(row=row)) else "functioning") if measured else "not measured"
            entry[col] = {
                "state": state,
                "measured": measured,
                "label": _LABELS[row][state == "stressed"] if measured else f"not measured ({why[row]})",
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
        "not_measured": {col: [row["row"] for row in rows if not row[col]["measured"]] for col in columns},
        "rows": rows,
        "thresholds": dict(THRESHOLDS),
    }


def asset_regimes(ds: xr.Dataset, scenario: int = 0) -> dict[str, dict[str, Any]]:
    """Per asset: its worst round, the regime then, the rows stressed then and the rows not
    measured then (they do not count), and the first round it was stressed (JSON-ready)."""
    one = _select(ds, scenario)
    reg = regimes(one).isel(scenario=0)
    worst = _worst_round(reg, _gap(one).isel(scenario=0)).transpose("asset").values
    # plain arrays once: selecting by label per asset costs seconds at 2,000 assets
    regime = reg.regime.transpose("round", "asset").values
    stressed = reg.stressed.transpose("round", "asset", "row").values
    measured = reg.measured.transpose("round", "asset", "row").values
    rows = [str(r) for r in reg.row.values]
    out = {}
    for k, asset in enumerate(reg.asset.values):
        w = int(worst[k])
        out[str(asset)] = {
            "worst_round": w,
            "state": "stressed" if int(regime[w, k]) else "functioning",
            "stressed_rows": [r for r, flag in zip(rows, stressed[w, k]) if int(flag)],
            "not_measured_rows": [r for r, flag in zip(rows, measured[w, k]) if not int(flag)],
            "first_stressed_round": int(np.argmax(regime[:, k])) if regime[:, k].any() else None,
        }
    return out
