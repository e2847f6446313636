"""The round-by-round story of one institution, in plain words and numbers."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

__all__ = ["explain_institution"]


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _round_story(
    inst: xr.Dataset, row: xr.Dataset, previous_equity: float, previous_capital_out: float, assets: list[str]
) -> list[str]:
    marked = float(row.marked_equity)
    pnl = marked - previous_equity
    parts = []
    if abs(pnl) > 1e-9:
        capital = "Tier 1" if bool(inst.has_slr) else "equity"
        parts.append(f"marked to market {pnl:+.2f} → assets {float(row.marked_assets):.1f}, {capital} {marked:.1f}.")
    if bool(row.breach.sel(channel="default")):
        parts.append(f"Equity {marked:.2f}: in default → liquidates every tradable position.")
    reasons = []
    slr_trigger = float(inst.slr_trigger)
    if math.isfinite(slr_trigger) and float(row.slr) < slr_trigger:
        target = float(row.slr_target_exposure)
        shrink = f" → shrink to {target:.1f}" if math.isfinite(target) else ""
        reasons.append(f"SLR {_pct(float(row.slr))} < {_pct(slr_trigger)}{shrink}")
    limit = float(inst.var_limit)
    if math.isfinite(limit) and float(row["var"]) > limit:
        cut = 1 - limit / float(row["var"])
        reasons.append(f"VaR {float(row['var']):.2f} > limit {limit:.2f} → cut the trading book by {_pct(cut)}"
                       f" (VaR after {float(row.var_after):.2f})")
    lev_trigger = float(inst.leverage_trigger)
    if math.isfinite(lev_trigger) and float(row.leverage_ratio) < lev_trigger:
        reasons.append(f"equity/assets {_pct(float(row.leverage_ratio))} < {_pct(lev_trigger)} → delever to "
                       f"{_pct(float(inst.leverage_target))}")
    need = float(row.funding_need)
    if need > 0:
        kinds = [label for channel, label in (("margin", "margin call"), ("rollover", "repo not rolled"),
                                              ("unsecured", "short-term run"), ("redemption", "redemptions"))
                 if bool(row.breach.sel(channel=channel))]
        reasons.append(f"funding calls {need:.2f} ({', '.join(kinds)}), met {float(row.funding_paid):.2f}")
    if reasons:
        parts.append("; ".join(reasons))
    sold = float(row.sold)
    if sold > 0:
        by_asset = ""
        if "sales" in row:
            by_asset = ": " + ", ".join(f"{a} {v:.1f}" for a, v in zip(assets, row.sales.values) if v > 1e-9)
        parts.append(f"→ sell {sold:.1f}{by_asset}.")
    if float(row.purchases) > 0:
        parts.append(f"Buys {float(row.purchases):.1f} to return to its leverage target.")
    payout = float(row.capital_out) - previous_capital_out
    if payout > 1e-9:
        parts.append(f"Pays {payout:.2f} out to redeeming investors.")
    after = float(row.equity) + payout - marked
    if abs(after) > 1e-6:
        cause = "price impact on its book and its sales" if sold > 0 else "others' fire sales move prices"
        parts.append(f"{cause.capitalize()} {after:+.2f} → equity {float(row.equity):.2f}.")
    return parts


def explain_institution(ds: xr.Dataset, institution: str, scenario: int | str = 0) -> list[str]:
    """Lines telling what happened to ``institution`` in each round that touched it.

    Examples
    --------
    >>> from firesale import load_preset, simulate
    >>> p = load_preset("dealer_prime")
    >>> print(explain_institution(simulate(p.system, p.scenario), "dealer_prime")[1])
    Round 0: marked to market -6.00 → assets 494.0, Tier 1 19.0. SLR 3.85% < 5.00% → shrink to 380.0 → sell 114.0: treasuries 114.0.
    """
    one = ds.isel(scenario=scenario) if isinstance(scenario, int) else ds.sel(scenario=scenario)
    names = [str(n) for n in one.institution.values]
    if institution not in names:
        from firesale.errors import ConfigError, Problem

        raise ConfigError(Problem("FS401", f"institution {institution!r}",
                                  f"not in this system. Institutions: {', '.join(names)}"))
    n = names.index(institution)
    inst = one.isel(institution=n)
    cur = ds.attrs.get("currency", "")
    lines = [
        f"{institution} (group {inst.group.item() or '-'}, {inst.institution_type.item()}): "
        f"equity {float(inst.initial_equity):.1f} {cur} at t0."
    ]
    previous_equity = float(inst.initial_equity)
    previous_capital_out = 0.0
    assets = [str(a) for a in one.asset.values]
    eventful = one.eventful.values.astype(bool)
    acted = (inst.sold.values > 0) | (inst.purchases.values > 0) | inst.breach.values.any(axis=-1)
    last_action = int(np.flatnonzero(acted)[-1]) if acted.any() else -1
    for r in range(int(one.sizes["round"])):
        if not eventful[r]:
            break
        row = inst.isel(round=r)
        if r > last_action:
            quiet = [q for q in range(r, int(one.sizes["round"])) if eventful[q]]
            end_equity = float(inst.equity.values[quiet[-1]])
            if abs(end_equity - previous_equity) > 1e-9:
                lines.append(
                    f"Rounds {quiet[0]}-{quiet[-1]}: no trades of its own; prices move as fire-sale pressure "
                    f"fades → equity {previous_equity:.2f} → {end_equity:.2f}."
                )
            break
        lines.append(f"Round {r}: " + " ".join(_round_story(inst, row, previous_equity, previous_capital_out, assets)))
        previous_equity = float(row.equity)
        previous_capital_out = float(row.capital_out)
    ratio = float(np.nanmin(np.where(inst.has_slr, inst.slr, inst.leverage_ratio)))
    lines.append(
        f"End: equity {float(inst.equity.isel(round=-1)):.2f} {cur}, lowest capital ratio {_pct(ratio)}"
        + (", defaulted." if bool(inst.defaulted.isel(round=-1)) else ".")
    )
    return lines
