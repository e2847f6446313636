"""Attribution of the damage to the mechanisms: exact Shapley values over the on/off lattice.

With players :math:`N` (the mechanisms, or the single channels) and :math:`v(S)` the
outcome with only the players in :math:`S` switched on — the total loss, each asset's price
fall, each group's loss — the Shapley value of player :math:`i` is

.. math::

    φ_i = \\sum_{S \\subseteq N \\setminus \\{i\\}} \\frac{|S|!\\,(n - |S| - 1)!}{n!}
          \\bigl(v(S \\cup \\{i\\}) - v(S)\\bigr)

(Shapley 1953): the values add up to :math:`v(N) - v(\\varnothing)` (efficiency), equal
players get equal shares (symmetry), a player that changes nothing gets zero (null
player). The interactions are the Harsanyi dividends
:math:`d(T) = \\sum_{S \\subseteq T} (-1)^{|T| - |S|} v(S)` of the coalitions of two or
more players; :math:`φ_i = \\sum_{T \\ni i} d(T) / |T|`.

All :math:`2^n` corners run as one batch (:func:`attribute`). A player switched off in the
scenario stays off in every corner, so it gets exactly zero.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from firesale.analytics.amplification import capital_lost
from firesale.channels import MECHANISMS, SWITCHES
from firesale.errors import ConfigError, Problem

__all__ = ["PLAYERS", "shapley_values", "harsanyi_dividends", "lattice", "attribute", "attribution_summary"]

#: Player sets: the three mechanisms, or every channel switch on its own.
PLAYERS: dict[str, dict[str, tuple[str, ...]]] = {
    "mechanisms": dict(MECHANISMS),
    "channels": {c: (c,) for c in SWITCHES},
}


def shapley_values(values: np.ndarray) -> np.ndarray:
    """Shapley values from the outcomes of every coalition.

    Parameters
    ----------
    values : ndarray, shape (2**n, ...)
        ``values[mask]`` is v(S) for the coalition whose members are the set bits of
        ``mask`` (player j is bit j); trailing axes are outcomes attributed together.

    Returns
    -------
    ndarray, shape (n, ...)

    Examples
    --------
    Two players, v(∅) = 0, v({0}) = 1, v({1}) = 1, v({0, 1}) = 4: the interaction of 2 is
    split equally.

    >>> shapley_values(np.array([0.0, 1.0, 1.0, 4.0])).tolist()
    [2.0, 2.0]
    """
    v = np.asarray(values, dtype=float)
    n = int(round(math.log2(v.shape[0])))
    if 2 ** n != v.shape[0]:
        raise ConfigError(Problem("FS830", "values", f"{v.shape[0]} coalitions: need 2**n, one per subset"))
    phi = np.zeros((n, *v.shape[1:]))
    for i in range(n):
        bit = 1 << i
        for mask in range(2 ** n):
            if mask & bit:
                continue
            size = bin(mask).count("1")
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            phi[i] += weight * (v[mask | bit] - v[mask])
    return phi


def harsanyi_dividends(values: np.ndarray) -> np.ndarray:
    """Harsanyi dividends d(T) of every coalition (the Möbius transform of v), same shape.

    >>> harsanyi_dividends(np.array([0.0, 1.0, 1.0, 4.0])).tolist()
    [0.0, 1.0, 1.0, 2.0]
    """
    d = np.array(values, dtype=float, copy=True)
    n = int(round(math.log2(d.shape[0])))
    for i in range(n):
        bit = 1 << i
        for mask in range(2 ** n):
            if mask & bit:
                d[mask] = d[mask] - d[mask ^ bit]
    return d


def lattice(scenario, players: str = "mechanisms") -> tuple[list[str], list]:
    """The player names and the 2**n scenarios, corner ``mask`` with the players of its set bits on."""
    if players not in PLAYERS:
        raise ConfigError(Problem("FS830", f"players {players!r}", f"unknown: use one of {', '.join(PLAYERS)}"))
    groups = PLAYERS[players]
    names = list(groups)
    corners = []
    for mask in range(2 ** len(names)):
        off = {f"channels.{c}": False for j, name in enumerate(names) if not mask >> j & 1 for c in groups[name]}
        label = "+".join(name for j, name in enumerate(names) if mask >> j & 1) or "none"
        corners.append(scenario.updated(name=label, **off))
    return names, corners


def _outcomes(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """v per corner: total loss, forced sales, each asset's trough price fall, each group's loss."""
    loss = capital_lost(ds)
    return {
        "total_loss": loss.sum("institution"),
        "forced_sales": ds.sold.sum(("round", "institution")),
        "price_fall": 1.0 - ds.price.min("round"),
        "group_loss": loss.groupby("group").sum("institution"),
    }


def attribute(system, scenario, players: str = "mechanisms") -> xr.Dataset:
    """Exact Shapley attribution of a scenario's damage to the mechanisms (or channels).

    Runs the 2**n corners as one :func:`~firesale.simulate` batch.

    Returns
    -------
    Dataset
        ``shapley_total_loss`` and ``shapley_forced_sales`` (player), ``shapley_price_fall`` (player, asset),
        ``shapley_group_loss`` (player, group); the corners' outcomes ``total_loss``,
        ``price_fall``, ``group_loss`` (corner, ...); ``dividend_total_loss`` (corner, the
        Harsanyi dividends: a corner of two or more players is an interaction); and attrs
        ``baseline`` (v(∅), plain revaluation), ``total`` (v(N)) and ``players``.
    """
    from firesale.simulation import simulate

    names, corners = lattice(scenario, players)
    ds = simulate(system, corners)
    outcomes = _outcomes(ds)
    data: dict[str, Any] = {}
    for key, value in outcomes.items():
        arr = value.values
        phi = shapley_values(arr)
        dims = value.dims[1:]
        coords = {d: value[d].values for d in dims}
        data[f"shapley_{key}"] = xr.DataArray(phi, dims=("player", *dims), coords={"player": names, **coords})
        data[key] = xr.DataArray(arr, dims=("corner", *dims), coords={"corner": [c.name for c in corners], **coords})
    dividends = harsanyi_dividends(outcomes["total_loss"].values)
    data["dividend_total_loss"] = xr.DataArray(dividends, dims=("corner",),
                                               coords={"corner": [c.name for c in corners]})
    out = xr.Dataset(data)
    currency = system.currency
    for key, units in (("total_loss", currency), ("forced_sales", currency), ("group_loss", currency),
                       ("price_fall", "fraction")):
        out[key].attrs.update(units=units)
        out[f"shapley_{key}"].attrs.update(units=units, description=f"Shapley value of each player for {key}")
    out.attrs.update(players=";".join(names), baseline=float(outcomes["total_loss"].values[0]),
                     total=float(outcomes["total_loss"].values[-1]), system=system.name, scenario=scenario.name)
    return out


def attribution_summary(result: xr.Dataset, initial_loss: float | None = None) -> dict[str, Any]:
    """JSON-ready attribution: each player's Shapley value and share of the loss beyond plain
    revaluation and of the forced sales (``None`` where there is nothing to share), the
    standalone effects and the interactions (Harsanyi dividends of two or more players)."""
    names = result.attrs["players"].split(";")
    phi = result.shapley_total_loss.values
    explained = result.attrs["total"] - result.attrs["baseline"]
    corners = [str(c) for c in result.corner.values]
    sales = result.forced_sales.values
    sales_phi = result.shapley_forced_sales.values
    sales_explained = float(sales[-1] - sales[0])

    def shares(values, whole):
        return {n: (float(v) / whole if abs(whole) > 1e-12 else None) for n, v in zip(names, values)}

    return {
        "players": names,
        "baseline_loss": result.attrs["baseline"],
        "total_loss": result.attrs["total"],
        "amplification_loss": explained,
        "shapley": {n: float(v) for n, v in zip(names, phi)},
        "share": shares(phi, explained),
        "forced_sales": float(sales[-1]),
        "shapley_forced_sales": {n: float(v) for n, v in zip(names, sales_phi)},
        "share_forced_sales": shares(sales_phi, sales_explained),
        "alone": {n: float(result.total_loss.values[1 << j] - result.attrs["baseline"]) for j, n in enumerate(names)},
        "interactions": {c: float(d) for c, d in zip(corners, result.dividend_total_loss.values)
                         if "+" in c and abs(d) > 1e-12 * max(1.0, abs(explained))},
        "price_fall": {n: {str(a): float(x) for a, x in zip(result.asset.values, row)}
                       for n, row in zip(names, result.shapley_price_fall.values)},
        "group_loss": {n: {str(g): float(x) for g, x in zip(result.group.values, row)}
                       for n, row in zip(names, result.shapley_group_loss.values)},
        **({"initial_loss": initial_loss} if initial_loss is not None else {}),
    }
