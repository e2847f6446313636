"""Amplification metrics and the cascade order, read off a results Dataset.

Losses are capital lost, :math:`L_i = E_{i,0} - E_{i,T} - C_{i,T}` (:func:`capital_lost`:
equity lost, including what a defaulted institution passes on to its creditors, less the
capital :math:`C` paid out to redeeming investors, which left the system and is no loss).
Every loss measure comes whole and split in two parts (:func:`levered_institutions`):

* **levered capital loss** :math:`L^{lev} = \\sum_{i \\in \\mathcal{L}} L_i` — the equity lost
  by the levered institutions :math:`\\mathcal{L}`, those with debt, repo borrowing or
  derivatives at t0: their capital absorbs losses before creditors do, and its loss is
  what makes them sell, breach and fail (Greenwood, Landier and Thesmar 2015, "Vulnerable
  banks", J. Financ. Econ. 115(3), measure the systemic risk of a fire sale as the bank
  equity it destroys);
* **unlevered mark-to-market** :math:`L^{unl} = \\sum_{i \\notin \\mathcal{L}} L_i` — the fall
  in the net asset value of holders with no debt, repo or derivatives (funds, foreign
  official holders): investors' wealth, not systemic capital; nobody defaults on it.

The **initial loss** (the impulse) :math:`L_0` is the loss of the same scenario with every
channel switched off and every shock on — price and volatility shocks and the exogenous
waves (``redemption`` shocks on funds, ``client_sale`` shocks on assets), which sell
whatever the channels do: the empty coalition of the Shapley attribution
(:func:`firesale.analytics.attribution.attribute`). With :math:`L` the loss with the
channels, as a whole and per part:

* amplification :math:`A = L / L_0` (:math:`A^{lev} = L^{lev} / L_0^{lev}`,
  :math:`A^{unl} = L^{unl} / L_0^{unl}`); second-round loss :math:`L - L_0`, what the
  channels added to the impulse;
* forced sales — value sold over all rounds (the narrative's 114 after a loss of 6: 19x);
* losses by institution type and by group; price falls by asset; time to stabilise, the
  rounds until the last one in which anything traded or moved.

The impulse run comes with the results (:func:`with_impulse` puts it in the same batch,
as ``firesale run`` does), or is given to :func:`summarize`. Without one, a scenario with no
exogenous wave needs none: with every channel off nobody sells, and its impulse is the
shock's mark-to-market on t0 books, the engine's ``initial_loss`` (kept in the summary as
``shock_only_loss``), though not split in parts; with a wave, the impulse is unknown
(``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from firesale.analytics.regimes import asset_regimes, scenario_settings
from firesale.channels import SWITCHES
from firesale.errors import ConfigError, Problem

if TYPE_CHECKING:
    from firesale.scenario import Scenario
    from firesale.system import System

__all__ = ["IMPULSE_SUFFIX", "capital_lost", "channels_off", "with_impulse", "has_exogenous_waves",
           "levered_institutions", "loss_split", "summarize", "institution_table", "cascade_order",
           "sales_by_group", "yield_moves", "defaults_by_round"]

#: What the name of a scenario's impulse run ends with: the scenario with every channel off.
IMPULSE_SUFFIX = " (channels off)"


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


def channels_off(scenario: Scenario) -> Scenario:
    """The impulse run of ``scenario``: its shocks (prices, volatility, redemption waves,
    client sales), policies and parameters with every channel switch off, named
    ``NAME (channels off)`` (:data:`IMPULSE_SUFFIX`). Its loss is the initial loss
    :math:`L_0` of the module docstring."""
    return scenario.updated(name=scenario.name + IMPULSE_SUFFIX, **{f"channels.{c}": False for c in SWITCHES})


def with_impulse(scenarios: Scenario | Sequence[Scenario]) -> list[Scenario]:
    """The batch that carries each scenario's impulse run: the scenarios, then
    :func:`channels_off` of each one that has a channel on (one with every channel off is
    its own impulse). :func:`summarize` finds each impulse in the batch by its settings.

    Examples
    --------
    >>> from firesale import Scenario
    >>> [s.name for s in with_impulse(Scenario(name="shock"))]
    ['shock', 'shock (channels off)']
    """
    runs = [scenarios] if not isinstance(scenarios, Sequence) else list(scenarios)
    return runs + [channels_off(s) for s in runs if any(getattr(s.channels, c) for c in SWITCHES)]


def has_exogenous_waves(settings: dict[str, Any]) -> bool:
    """Whether a scenario (its settings, as dumped) has exogenous selling waves: a
    ``redemption`` shock on a fund or a ``client_sale`` shock on an asset."""
    return any(shock.get("redemption") or shock.get("client_sale") for shock in settings.get("shocks", ()))


def levered_institutions(ds: xr.Dataset) -> xr.DataArray:
    """Which institutions of a results Dataset are levered at t0 (bool, dim ``institution``).

    The ``levered`` coordinate (:attr:`firesale.system.System.levered0`), which every run
    carries. Results written by an earlier version lack it: for them it is read from what
    they record of t0: liabilities other than repo (``liabilities0``) above 0, or repo
    borrowing or initial margin on derivatives above 0 at the end of round 0 in some
    scenario of the batch. Repo repaid in full within round 0, or a derivative with no
    initial margin and no repo beside it, escapes that reading; no preset has either (a
    test checks the reading against the system's).
    """
    if "levered" in ds.coords:
        return ds.coords["levered"].astype(bool)
    levered = ds.liabilities0 > 0
    for name in ("repo", "margin_posted"):
        if name in ds:
            first = ds[name].isel(round=0) > 0
            levered = levered | first.any([d for d in first.dims if d != "institution"])
    return levered.reset_coords(drop=True)


def loss_split(lost: xr.DataArray, levered: xr.DataArray | np.ndarray) -> tuple[float, float]:
    """The levered capital loss and the unlevered mark-to-market of one scenario's
    per-institution losses ``lost`` (dim institution): :math:`(L^{lev}, L^{unl})`.

    >>> loss_split(xr.DataArray([3.0, 5.0], dims="institution"), np.array([True, False]))
    (3.0, 5.0)
    """
    values = np.asarray(lost.values, dtype=float)
    mask = np.asarray(levered, dtype=bool)
    return float(values[mask].sum()), float(values[~mask].sum())


def institution_table(ds: xr.Dataset, scenario: int | str = 0) -> list[dict[str, Any]]:
    """Per institution: group, whether levered at t0 (:func:`levered_institutions`), first
    round forced to sell, sales, final equity, minimum ratio.

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
    levered = levered_institutions(ds).values.tolist()
    out = []
    for n, name in enumerate(names):
        out.append({
            "name": str(name),
            "type": str(types[n]),
            "group": str(groups[n]),
            "levered": bool(levered[n]),
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


def _impulse_losses(ds: xr.Dataset, index: int, impulse: xr.Dataset | None) -> tuple[xr.DataArray | None, str]:
    """Per-institution losses of scenario ``index``'s impulse run and where they came from:
    ``impulse`` (one scenario), else the scenario of the batch that is its impulse (its
    settings with every channel off), else the scenario itself when every channel is off
    in it; ``(None, why)`` when the batch holds no impulse run."""
    if impulse is not None:
        if impulse.sizes.get("scenario", 1) != 1 or impulse.sizes["institution"] != ds.sizes["institution"]:
            raise ConfigError(Problem("FS832", "summarize impulse", f"holds {impulse.sizes.get('scenario', 1)} "
                                      f"scenarios of {impulse.sizes['institution']} institutions: give the results of "
                                      "one run, channels_off(scenario), on the same system"))
        return capital_lost(impulse.isel(scenario=0) if "scenario" in impulse.dims else impulse), "impulse run"
    settings = scenario_settings(ds)
    if settings is None:
        return None, "the results do not record their scenarios"
    own = settings[index]
    target = {**own, "channels": {c: False for c in own.get("channels", {})}}
    if target == own:
        return capital_lost(ds.isel(scenario=index)), "impulse run"
    target.pop("name", None)
    for j, other in enumerate(settings):
        if j != index and {k: v for k, v in other.items() if k != "name"} == target:
            return capital_lost(ds.isel(scenario=j)), "impulse run"
    return None, "no impulse run in the batch"


def defaults_by_round(one: xr.Dataset) -> list[int]:
    """Institutions that default in each round recorded (a default is absorbing; in a batch
    the rounds are those of its longest scenario, and a stopped scenario adds none).

    Examples
    --------
    >>> from firesale import load_preset, simulate
    >>> p = load_preset("dealer_prime")
    >>> defaults_by_round(simulate(p.system, p.scenario).isel(scenario=0))
    [0, 0]
    """
    defaulted = one.defaulted.values.astype(bool)
    before = np.vstack([np.zeros((1, defaulted.shape[1]), dtype=bool), defaulted[:-1]])
    return [int(n) for n in (defaulted & ~before).sum(axis=1)]


def summarize(ds: xr.Dataset, scenario: int | str = 0, *, impulse: xr.Dataset | None = None) -> dict[str, Any]:
    """The headline numbers of one scenario, as plain JSON-ready values.

    Parameters
    ----------
    ds : Dataset
        Results of :func:`firesale.simulate`; a batch made by :func:`with_impulse` carries
        the impulse run of each scenario.
    scenario : int or str
        Which scenario of the batch.
    impulse : Dataset, optional
        Results of the impulse run, ``simulate(system, channels_off(scenario))``, where
        ``ds`` does not carry it.

    Returns
    -------
    dict
        Among others (see the module docstring for the definitions; amounts in the
        system's currency, ``None`` where there is nothing to divide by or no impulse run):
        ``initial_loss`` (:math:`L_0`, the impulse), ``initial_loss_from`` (``"impulse
        run"``, ``"shock on t0 books"`` for a scenario with no exogenous wave and no
        impulse run, or ``None``), ``shock_only_loss`` (the shock's mark-to-market on t0
        books, leaving out the exogenous waves), ``total_loss``, ``amplification``,
        ``second_round_loss``; ``levered_capital_loss`` and ``unlevered_mark_to_market``,
        each also ``initial_…`` and ``amplification_levered`` / ``amplification_unlevered``;
        ``levered_institutions`` (their count); ``forced_sales`` and
        ``forced_sales_per_initial_loss``; per institution, ``levered``.

    Examples
    --------
    >>> from firesale import load_preset, simulate
    >>> p = load_preset("dealer_prime")
    >>> s = summarize(simulate(p.system, p.scenario))
    >>> [round(s[k], 9) for k in ("initial_loss", "forced_sales", "forced_sales_per_initial_loss")]
    [6.0, 114.0, 19.0]
    """
    one = _scenario(ds, scenario)
    index = scenario if isinstance(scenario, int) else list(ds.scenario.values).index(scenario)
    lost = capital_lost(one)
    total_loss = float(lost.sum())
    levered = levered_institutions(ds).values
    levered_loss, unlevered_loss = loss_split(lost, levered)
    shock_only = float(one.initial_loss)
    impulse_lost, source = _impulse_losses(ds, index, impulse)
    initial_levered = initial_unlevered = None
    if impulse_lost is not None:
        initial_levered, initial_unlevered = loss_split(impulse_lost, levered)
        initial_loss: float | None = float(impulse_lost.sum())
    else:
        settings = scenario_settings(ds)
        waves = settings is None or has_exogenous_waves(settings[index])
        initial_loss, source = (None, source) if waves else (shock_only, "shock on t0 books")

    def ratio(part: float, whole: float | None) -> float | None:
        return part / whole if whole is not None and whole > 0 else None

    forced = float(one.sold.sum())
    price_change = one.price.isel(round=-1) - 1.0
    yields = yield_moves(one)
    regimes_of = asset_regimes(ds, index)
    return {
        "system": ds.attrs.get("system"),
        "scenario": str(one.scenario.values),
        "currency": ds.attrs.get("currency"),
        "initial_loss": initial_loss,
        "initial_loss_from": source if initial_loss is not None else None,
        "shock_only_loss": shock_only,
        "total_loss": total_loss,
        "amplification": ratio(total_loss, initial_loss),
        "second_round_loss": None if initial_loss is None else total_loss - initial_loss,
        "levered_institutions": int(levered.sum()),
        "levered_capital_loss": levered_loss,
        "unlevered_mark_to_market": unlevered_loss,
        "initial_levered_capital_loss": initial_levered,
        "initial_unlevered_mark_to_market": initial_unlevered,
        "amplification_levered": ratio(levered_loss, initial_levered),
        "amplification_unlevered": ratio(unlevered_loss, initial_unlevered),
        "losses_by_type": {str(k): float(v) for k, v in lost.groupby("institution_type").sum().to_series().items()},
        "losses_by_group": {str(k): float(v) for k, v in lost.groupby("group").sum().to_series().items()},
        "rounds_to_stabilise": rounds_to_stabilise(one.price.values),
        "forced_sales": forced,
        "forced_sales_per_initial_loss": ratio(forced, initial_loss),
        "rounds": int(one.rounds),
        "breaches": int(one.breach.any(("round", "channel")).sum()),
        "breaches_by_channel": {str(c): int(v) for c, v in zip(one.channel.values, one.breach.any("round").sum("institution").values)},
        "defaults": int(one.defaulted.isel(round=-1).sum()),
        "defaults_by_round": defaults_by_round(one),
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
