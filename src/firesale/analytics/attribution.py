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

**The shock is in every coalition.** A corner switches channels only: every shock of the
scenario — price and volatility shocks and the exogenous waves, ``redemption`` shocks on
funds and ``client_sale`` shocks on assets — hits in every corner, the empty coalition
included. The engine applies a redemption wave whatever the ``redemption`` switch says (the
switch governs the endogenous, flow-performance redemptions only), so the sales a wave
forces and their price impact are part of :math:`v(\\varnothing)`, the baseline, and are
never credited to a channel: a system whose only driver is a wave gives every channel
zero. :math:`v(\\varnothing)` is the initial loss (the impulse) of
:mod:`firesale.analytics.amplification`.

**Outcomes.** The default outcome is the levered capital loss, the equity lost by the
institutions with debt, repo or derivatives at t0
(:func:`firesale.analytics.amplification.levered_institutions`); the total loss (with the
unlevered holders' mark-to-market) is attributed beside it (:data:`OUTCOMES`), as are the
forced sales, each asset's price fall and each group's loss.

**Shares.** A player's share is its Shapley value over the sum of the players' absolute
values, with its sign, :math:`s_i = φ_i / \\sum_j |φ_j|`: the shares' absolute values add up
to 1, and a player that lowers the outcome has a negative share. (The values themselves add
up to :math:`v(N) - v(\\varnothing)`, which may be near zero when channels offset each other;
dividing by it would blow the shares up.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from firesale.analytics.amplification import capital_lost, levered_institutions
from firesale.channels import MECHANISMS, SWITCHES
from firesale.errors import ConfigError, Problem

__all__ = ["PLAYERS", "OUTCOMES", "shapley_values", "shapley_shares", "harsanyi_dividends", "lattice", "attribute",
           "attribution_summary"]

#: The losses attributed, the default first: the levered institutions' capital loss, and
#: the total loss (levered capital and unlevered mark-to-market together).
OUTCOMES = ("levered_capital_loss", "total_loss")

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


def shapley_shares(values: Any, scale: float = 1.0) -> list[float | None]:
    """Each player's signed share, :math:`s_i = φ_i / \\sum_j |φ_j|`; ``None`` for every
    player when :math:`\\sum_j |φ_j|` is below 1e-12 of ``scale`` (nothing to share).

    Examples
    --------
    Two channels add 3 each and a third takes 2 away: the shares are 3/8, 3/8 and -2/8.

    >>> shapley_shares([3.0, 3.0, -2.0])
    [0.375, 0.375, -0.25]
    """
    phi = np.asarray(values, dtype=float)
    whole = float(np.abs(phi).sum())
    if whole <= 1e-12 * max(1.0, abs(scale)):
        return [None] * phi.size
    return [float(v) / whole for v in phi]


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
    """v per corner: levered capital loss, total loss, forced sales, each asset's trough
    price fall, each group's loss."""
    loss = capital_lost(ds)
    return {
        "levered_capital_loss": loss.where(levered_institutions(ds), 0.0).sum("institution"),
        "total_loss": loss.sum("institution"),
        "forced_sales": ds.sold.sum(("round", "institution")),
        "price_fall": 1.0 - ds.price.min("round"),
        "group_loss": loss.groupby("group").sum("institution"),
    }


def attribute(system, scenario, players: str = "mechanisms") -> xr.Dataset:
    """Exact Shapley attribution of a scenario's damage to the mechanisms (or channels).

    Runs the 2**n corners as one :func:`~firesale.simulate` batch. Every corner keeps every
    shock of the scenario, the exogenous redemption and client-sale waves included: they
    are part of the baseline :math:`v(\\varnothing)`, never of a player's value.

    Returns
    -------
    Dataset
        ``shapley_levered_capital_loss``, ``shapley_total_loss`` and
        ``shapley_forced_sales`` (player), ``shapley_price_fall`` (player, asset),
        ``shapley_group_loss`` (player, group); the corners' outcomes
        ``levered_capital_loss``, ``total_loss``, ``forced_sales``, ``price_fall``,
        ``group_loss`` (corner, ...); ``dividend_levered_capital_loss`` and
        ``dividend_total_loss`` (corner, the Harsanyi dividends: a corner of two or more
        players is an interaction); coordinate ``levered`` (institution); and attrs
        ``outcome`` (the default, ``levered_capital_loss``), ``baseline`` (its v(∅): every
        channel off, the shocks and waves on), ``total`` (its v(N)) and ``players``.
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
    for key in OUTCOMES:
        data[f"dividend_{key}"] = xr.DataArray(harsanyi_dividends(outcomes[key].values), dims=("corner",),
                                               coords={"corner": [c.name for c in corners]})
    out = xr.Dataset(data).assign_coords(levered=ds.levered)
    currency = system.currency
    for key, units in (("levered_capital_loss", currency), ("total_loss", currency), ("forced_sales", currency),
                       ("group_loss", currency), ("price_fall", "fraction")):
        out[key].attrs.update(units=units)
        out[f"shapley_{key}"].attrs.update(units=units, description=f"Shapley value of each player for {key}")
    default = OUTCOMES[0]
    out.attrs.update(players=";".join(names), outcome=default, baseline=float(outcomes[default].values[0]),
                     total=float(outcomes[default].values[-1]), system=system.name, scenario=scenario.name)
    return out


def attribution_summary(result: xr.Dataset, initial_loss: float | None = None,
                        outcome: str | None = None) -> dict[str, Any]:
    """JSON-ready attribution of one outcome (default: the levered capital loss).

    Parameters
    ----------
    result : Dataset
        Result of :func:`attribute`.
    initial_loss : float, optional
        Added as ``initial_loss`` when given.
    outcome : {"levered_capital_loss", "total_loss"}, optional
        The loss attributed in ``shapley``, ``share``, ``alone`` and ``interactions``
        (default: the result's ``outcome`` attr, the levered capital loss).

    Returns
    -------
    dict
        ``outcome``; ``baseline_loss`` (v(∅): every channel off, the shocks and exogenous
        waves on), ``total_loss`` (v(N)) and ``amplification_loss`` (their difference, what
        the Shapley values add up to) of the outcome; each player's Shapley value
        (``shapley``), signed share :math:`φ_i / \\sum_j |φ_j|` (``share``, ``None`` where
        there is nothing to share), standalone effect (``alone``) and the interactions
        (Harsanyi dividends of two or more players); the same for the forced sales
        (``shapley_forced_sales``, ``share_forced_sales``); per player the price falls and
        group losses; and ``outcomes``: baseline, total, Shapley values and shares of every
        outcome of :data:`OUTCOMES`.
    """
    outcome = outcome or result.attrs.get("outcome", "total_loss")
    if outcome not in OUTCOMES or outcome not in result:
        raise ConfigError(Problem("FS831", f"outcome {outcome!r}",
                                  f"not attributed: use one of {', '.join(k for k in OUTCOMES if k in result)}"))
    names = result.attrs["players"].split(";")
    corners = [str(c) for c in result.corner.values]

    def block(key: str) -> dict[str, Any]:
        v, phi = result[key].values, result[f"shapley_{key}"].values
        scale = max(abs(float(v[0])), abs(float(v[-1])))
        return {"baseline": float(v[0]), "total": float(v[-1]), "shapley": dict(zip(names, map(float, phi))),
                "share": dict(zip(names, shapley_shares(phi, scale)))}

    blocks = {key: block(key) for key in OUTCOMES if key in result}
    main, sales = blocks[outcome], block("forced_sales")
    values = result[outcome].values
    explained = main["total"] - main["baseline"]
    dividends = result[f"dividend_{outcome}"].values
    return {
        "players": names,
        "outcome": outcome,
        "baseline_loss": main["baseline"],
        "total_loss": main["total"],
        "amplification_loss": explained,
        "shapley": main["shapley"],
        "share": main["share"],
        "forced_sales": sales["total"],
        "shapley_forced_sales": sales["shapley"],
        "share_forced_sales": sales["share"],
        "alone": {n: float(values[1 << j] - values[0]) for j, n in enumerate(names)},
        "interactions": {c: float(d) for c, d in zip(corners, dividends)
                         if "+" in c and abs(d) > 1e-12 * max(1.0, abs(explained))},
        "price_fall": {n: {str(a): float(x) for a, x in zip(result.asset.values, row)}
                       for n, row in zip(names, result.shapley_price_fall.values)},
        "group_loss": {n: {str(g): float(x) for g, x in zip(result.group.values, row)}
                       for n, row in zip(names, result.shapley_group_loss.values)},
        "outcomes": blocks,
        **({"initial_loss": initial_loss} if initial_loss is not None else {}),
    }
