"""Amplification metrics and the cascade order, read off a results Dataset.

* initial loss :math:`L_0` — the shock's mark-to-market loss alone on t0 books (all
  channels off: plain revaluation);
* total loss :math:`L = \\sum_i (E_{i,0} - E_{i,T})` — capital lost, including what
  defaulted institutions pass on to creditors (their equity below zero);
* amplification :math:`L / L_0`; the second-round loss :math:`L - L_0`, what the
  mechanisms added to the shock's own loss;
* forced sales — value sold over all rounds (the narrative's 114 after a loss of 6: 19x);
* losses by institution type and by group; price falls by asset; time to stabilise, the
  rounds until the last one in which anything traded or moved.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from firesale.analytics.regimes import asset_regimes

__all__ = ["capital_lost", "summarize", "institution_table", "cascade_order", "sales_by_group", "yield_moves"]


def _scenario(ds: xr.Dataset, scenario: int | str) -> xr.Dataset:
    return ds.isel(scenario=scenario) if isinstance(scenario, int) else ds.sel(scenario=scenario)


def _first_round(flags: xr.DataArray) -> np.ndarray:
    """First round where ``flags`` (round, institution) is true, -1 if never."""
    values = flags.values
    first = values.argmax(axis=0)
    return np.where(values.any(axis=0), first, -1)


def capital_lost(ds: xr.Dataset) -> xr.DataArray:
    """Capital each institution lost by the end, :math:`E_{i,0} - E_{i,T}` less what it paid
    out to redeeming investors (that left the system; it is not a loss). Dims of ``ds``
    without ``round``."""
    return ds.initial_equity - ds.equity.isel(round=-1) - ds.capital_out.isel(round=-1)


def institution_table(ds: xr.Dataset, scenario: int | str = 0) -> list[dict[str, Any]]:
    """Per institution: group, first round forced to sell, sales, final equity, minimum ratio.

    ``min_capital_ratio`` is the institution's own constraint measure: SLR where it has an
    SLR constraint, equity / total assets otherwise.
    """
    one = _scenario(ds, scenario)
    first = _first_round(one.sold > 0)
    ratio = xr.where(one.has_slr == 1, one.slr, one.leverage_ratio)
    min_ratio = ratio.min("round").values
    # plain arrays once: indexing xarray objects per institution costs seconds at 20,000
    names, types, groups = (one[c].values.tolist() for c in ("institution", "institution_type", "group"))
    assets, channels = [str(a) for a in one.asset.values], [str(c) for c in one.channel.values]
    sales = one.sold.values.sum(axis=0).tolist()
    by_channel = one.sales_by_channel.values.sum(axis=0)  # (institution, channel)
    breached = one.breach.values.any(axis=0)  # (institution, channel)
    by_asset = one.sales_total.values if "sales_total" in one else None
    initial, final = one.initial_equity.values.tolist(), one.equity.values[-1].tolist()
    defaulted = (one.defaulted.values[-1] > 0).tolist()
    out = []
    for n, name in enumerate(names):
        out.append({
            "name": str(name),
            "type": str(types[n]),
            "group": str(groups[n]),
            "first_forced_round": None if first[n] < 0 else int(first[n]),
            "sales": float(sales[n]),
            **({"sales_by_asset": {a: float(v) for a, v in zip(assets, by_asset[n]) if v > 0}}
               if by_asset is not None else {}),
            "sales_by_channel": {c: float(v) for c, v in zip(channels, by_channel[n]) if v > 0},
            "initial_equity": float(initial[n]),
            "final_equity": float(final[n]),
            "min_capital_ratio": float(min_ratio[n]) if np.isfinite(min_ratio[n]) else None,
            "breached": sorted(c for c, b in zip(channels, breached[n]) if b),
            "defaulted": bool(defaulted[n]),
        })
    return out


def cascade_order(ds: xr.Dataset, scenario: int | str = 0) -> dict[str, Any]:
    """Who was first forced to sell when: institutions and groups by round.

    Returns
    -------
    dict
        ``{"institutions": [[round, [names]], ...], "groups": [[round, [groups first forced then]], ...]}``
    """
    one = _scenario(ds, scenario)
    first = _first_round(one.sold > 0)
    groups = one.group.values
    by_round: dict[int, list[str]] = {}
    group_first: dict[str, int] = {}
    for n, r in enumerate(first):
        if r < 0:
            continue
        by_round.setdefault(int(r), []).append(str(one.institution.values[n]))
        g = str(groups[n])
        group_first[g] = min(group_first.get(g, int(r)), int(r))
    group_rounds: dict[int, list[str]] = {}
    for g, r in sorted(group_first.items(), key=lambda item: (item[1], item[0])):
        group_rounds.setdefault(r, []).append(g)
    return {
        "institutions": [[r, names] for r, names in sorted(by_round.items())],
        "groups": [[r, gs] for r, gs in sorted(group_rounds.items())],
    }


def sales_by_group(ds: xr.Dataset, scenario: int | str = 0) -> dict[str, list[float]]:
    """Value sold per group in each round: ``{group: [round 0, round 1, ...]}``."""
    one = _scenario(ds, scenario)
    by_group = one.sold.groupby("group").sum("institution")
    return {str(g): [float(v) for v in by_group.sel(group=g).values] for g in by_group.group.values}


def yield_moves(one: xr.Dataset) -> dict[str, dict[str, float]]:
    """Yield moves of the bonds with a duration, in basis points: the peak rise and the
    change at the end, :math:`Δy = -\\ln(p) / D` with ``p`` the price relative to t0."""
    out: dict[str, dict[str, float]] = {"peak": {}, "end": {}}
    for k, asset in enumerate(one.asset.values):
        duration = float(one.duration.values[k]) if "duration" in one.coords else float("nan")
        if not np.isfinite(duration):
            continue
        prices = np.maximum(one.price.values[:, k], 1e-12)
        out["peak"][str(asset)] = float(-np.log(prices.min()) / duration * 1e4)
        out["end"][str(asset)] = float(-np.log(prices[-1]) / duration * 1e4)
    return out


#: Prices within this relative distance of their end count as stable.
STABLE_BAND = 1e-3


def rounds_to_stabilise(price: np.ndarray, band: float = STABLE_BAND) -> int:
    """Rounds until prices settle: the first round from which every price stays within
    ``band`` (0.1%) of its value at the end, for good. 0 when prices never leave the band.

    Parameters
    ----------
    price : ndarray, shape (R, K)
        One scenario's price path.

    Examples
    --------
    Pressure fading geometrically is settled long before its last tiny move:

    >>> import numpy as np
    >>> path = 1.0 - 0.05 * 0.5 ** np.arange(30)
    >>> rounds_to_stabilise(path[:, None])
    6
    """
    end = price[-1]
    away = np.abs(price - end) > band * np.abs(np.where(end != 0, end, 1.0))
    outside = np.flatnonzero(away.any(axis=-1))
    return int(outside[-1]) + 1 if outside.size else 0


def loop_gain_summary(one: xr.Dataset) -> dict[str, Any] | None:
    """The loop gain of one scenario (None where the run did not measure it): its peak,
    the round of the peak, its value each round, and each market's peak own gain."""
    if "loop_gain" not in one:
        return None
    by_round = one.loop_gain.values
    finite = np.isfinite(by_round)
    if not finite.any():
        return {"peak": None, "peak_round": None, "by_round": [None] * by_round.size, "market": {}}
    peak_round = int(np.nanargmax(by_round))
    own = one.market_loop_gain.values
    return {
        "peak": float(by_round[peak_round]),
        "peak_round": peak_round,
        "by_round": [float(v) if np.isfinite(v) else None for v in by_round],
        "market": {str(a): float(np.nanmax(own[:, k])) for k, a in enumerate(one.asset.values)
                   if np.isfinite(own[:, k]).any()},
    }


def summarize(ds: xr.Dataset, scenario: int | str = 0) -> dict[str, Any]:
    """The headline numbers of one scenario, as plain JSON-ready values.

    Examples
    --------
    >>> from firesale import load_preset, simulate
    >>> p = load_preset("dealer_prime")
    >>> s = summarize(simulate(p.system, p.scenario))
    >>> [round(s[k], 9) for k in ("initial_loss", "forced_sales", "forced_sales_per_initial_loss")]
    [6.0, 114.0, 19.0]
    """
    one = _scenario(ds, scenario)
    initial_loss = float(one.initial_loss)
    lost = capital_lost(one)
    total_loss = float(lost.sum())
    forced = float(one.sold.sum())
    price_change = one.price.isel(round=-1) - 1.0
    yields = yield_moves(one)
    index = scenario if isinstance(scenario, int) else list(ds.scenario.values).index(scenario)
    regimes_of = asset_regimes(ds, index)
    return {
        "system": ds.attrs.get("system"),
        "scenario": str(one.scenario.values),
        "currency": ds.attrs.get("currency"),
        "initial_loss": initial_loss,
        "total_loss": total_loss,
        "amplification": total_loss / initial_loss if initial_loss > 0 else None,
        "second_round_loss": total_loss - initial_loss,
        "losses_by_type": {str(k): float(v) for k, v in lost.groupby("institution_type").sum().to_series().items()},
        "losses_by_group": {str(k): float(v) for k, v in lost.groupby("group").sum().to_series().items()},
        "rounds_to_stabilise": rounds_to_stabilise(one.price.values),
        "forced_sales": forced,
        "forced_sales_per_initial_loss": forced / initial_loss if initial_loss > 0 else None,
        "rounds": int(one.rounds),
        "breaches": int(one.breach.any(("round", "channel")).sum()),
        "breaches_by_channel": {str(c): int(v) for c, v in zip(one.channel.values, one.breach.any("round").sum("institution").values)},
        "defaults": int(one.defaulted.isel(round=-1).sum()),
        "price_change": {str(a): float(v) for a, v in zip(one.asset.values, price_change.values)},
        "price_trough": {str(a): float(v) for a, v in zip(one.asset.values, (one.price.min("round") - 1.0).values)},
        "peak_yield_rise_bp": yields["peak"],
        "yield_change_bp": yields["end"],
        # with the information channel off there are no spreads at all, not even at t0
        "spreads": {str(a): {"t0": float(one.spread0.values[k]) if one.spread.values[:, k].any() else 0.0,
                             "peak": float(one.spread.values[:, k].max()),
                             "end": float(one.spread.values[-1, k])} for k, a in enumerate(one.asset.values)},
        "quoting_share": {str(a): {"min": float(one.quoting_share.values[:, k].min()),
                                   "end": float(one.quoting_share.values[-1, k])}
                          for k, a in enumerate(one.asset.values)},
        "regime": regimes_of,
        "market_tipped": any(r["first_stressed_round"] is not None for r in regimes_of.values()),
        "loop_gain": loop_gain_summary(one),
        "cascade": cascade_order(ds, scenario),
        "sales_by_group": sales_by_group(ds, scenario),
        "institutions": institution_table(ds, scenario),
    }
