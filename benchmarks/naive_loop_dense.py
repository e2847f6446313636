"""The dense naive loop (not a competent baseline), kept for comparison.

This was the first per-institution reference loop of the firesale round. It is kept only
so that ``benchmarks/bench_engine.py`` can show how much of the engine's speed-up over a
per-institution loop came from the loop being written badly. It is *not* a competent
baseline: every institution carries a dense vector of all K assets, every institution
goes through every constraint and allocator call in every round even when nothing binds,
the VaR is a quadratic form over the full K x K correlation matrix, the pecking order and
the market are Python loops over assets. The competent loop is ``benchmarks/naive_loop.py``
(same model, same results to rounding); that one is the baseline and the cross-check.

Model: the balance-sheet mechanism of the firesale round with outside buyers only (see
``benchmarks/naive_loop.py`` for the round order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

import numpy as np

from firesale.engine.state import Inputs, ScenarioArrays

__all__ = ["NaiveResult", "simulate_naive", "simulate_naive_scenario"]

# The code tables and the result container are the competent loop's (naive_loop.py).
from naive_loop import (  # noqa: E402
    DEFAULT, INITIAL_WEIGHTS, LEVERAGE, LINEAR, PECKING_ORDER, PRO_RATA, SLR, SQRT, VAR, _TINY,
    NaiveResult,
)


# --------------------------------------------------------------------------- market
def _impact(pressure: float, law: int, depth: float, floor: float, sigma0: float, adv: float, kappa: float) -> float:
    """Ψ(Q) for one asset, signed like Q, in units of the t0 price."""
    size = abs(pressure)
    if law == SQRT:
        psi = sigma0 * kappa * math.sqrt(size / (adv if adv > 0 else 1.0))
    elif not math.isfinite(depth):
        psi = 0.0
    elif law == LINEAR:
        psi = size / depth
    else:  # exponential, Cont-Schaanning
        room = 1.0 - floor
        psi = room * -math.expm1(-size / (room * depth))
    if pressure > 0:
        return psi
    if pressure < 0:
        return -psi
    return 0.0


class _Market:
    """Per-asset parameters as plain Python lists."""

    def __init__(self, inputs: Inputs) -> None:
        self.k = inputs.p0.shape[0]
        self.p0 = [float(x) for x in inputs.p0]
        self.law = [int(x) for x in inputs.impact_law]
        self.depth = [float(x) for x in inputs.depth]
        self.floor = [float(x) for x in inputs.impact_floor]
        self.sigma0 = [float(x) for x in inputs.sigma0]
        self.adv = [float(x) for x in inputs.adv]
        self.kappa = [float(x) for x in inputs.impact_kappa]

    def price(self, k: int, fundamental: float, pressure: float) -> float:
        psi = _impact(pressure, self.law[k], self.depth[k], self.floor[k], self.sigma0[k], self.adv[k], self.kappa[k])
        return max(fundamental - self.p0[k] * psi, 0.0)


# --------------------------------------------------------------------------- liquidation
def _allocate(value: float, book: np.ndarray, policy: int, order: list[int], weights: np.ndarray) -> np.ndarray:
    """Spread a value to sell over one institution's eligible positions."""
    out = np.zeros_like(book)
    if not value > 0.0:
        return out
    if policy == PECKING_ORDER:
        remaining = value
        for k in order:  # most liquid first
            if remaining <= 0.0:
                break
            take = min(remaining, book[k])
            out[k] = take
            remaining -= take
    elif policy == PRO_RATA:
        total = book.sum()
        if total > 0:
            out = book * min(value / total, 1.0)
    elif policy == INITIAL_WEIGHTS:
        out = np.minimum(value * weights, book)
    else:  # pragma: no cover
        raise ValueError(f"unknown liquidation policy code {policy}")
    return out


# --------------------------------------------------------------------------- one scenario
def simulate_naive_scenario(inputs: Inputs, scen: ScenarioArrays, s: int, market: _Market | None = None) -> dict:
    """Run scenario ``s`` of ``scen`` to its stop; returns the final state as a dict."""
    market = market or _Market(inputs)
    n_inst, n_asset = inputs.n_institutions, inputs.n_assets
    assets = range(n_asset)
    # the t0 book as dense (N, K) rows, one per institution
    holdings, trading_held, initial_weights = inputs.to_dense(
        np.stack([inputs.held, inputs.trading_held, inputs.initial_weights]))

    # scenario settings
    switches = [bool(x) for x in scen.switches[s]]
    exemption = bool(scen.slr_exemption[s])
    alpha = float(scen.execution_alpha[s])
    rho = float(scen.mean_reversion[s])
    lam = float(scen.ewma_lambda[s])
    tol = float(scen.tolerance[s])
    max_rounds = int(scen.max_rounds[s])
    last_shock = int(scen.last_shock_round[s])
    horizon = scen.price_shock.shape[1]

    # institution settings
    tradable = inputs.tradable.astype(float)
    counted = np.array([0.0 if (inputs.slr_exempt[k] and exemption) else 1.0 for k in assets])
    order = [int(k) for k in inputs.liquidity_order]
    z = [NormalDist().inv_cdf(float(c)) for c in inputs.var_confidence]
    corr = inputs.correlation

    # state: one position vector per institution, floats for the rest
    q = [holdings[i].copy() for i in range(n_inst)]
    q_trading = [trading_held[i].copy() for i in range(n_inst)]  # VaR applies to it
    cash = [float(x) for x in inputs.cash]
    debt = [float(x) for x in inputs.debt]
    equity = [cash[i] + float(np.dot(q[i], inputs.p0)) - debt[i] for i in range(n_inst)]
    defaulted = [False] * n_inst
    price = list(market.p0)
    fundamental = list(market.p0)
    pressure = [0.0] * n_asset
    sigma = list(market.sigma0)
    sales_total = [np.zeros(n_asset) for _ in range(n_inst)]

    rounds = 0
    t = 0
    while True:
        # 1. fading pressure, shocks, price
        if t > 0:
            pressure = [(1.0 - rho) * x for x in pressure]
        shocked = [False] * n_inst
        if t < horizon:
            for k in assets:
                fundamental[k] = fundamental[k] * (1.0 + scen.price_shock[s, t, k])
                sigma[k] = sigma[k] * scen.volatility_shock[s, t, k]
            shocked = [bool(x) for x in scen.default_shock[s, t]]
        pre = [market.price(k, fundamental[k], pressure[k]) for k in assets]
        pre_vec = np.array(pre)
        move = pre_vec - np.array(price)
        sigma_vec = np.array(sigma)

        # 2.-3. each institution marks its book and decides what to trade
        units, trading_cut = [], []
        cash_used = [0.0] * n_inst
        now_defaulted = [False] * n_inst
        for i in range(n_inst):
            e = equity[i] + float(np.dot(q[i], move))
            equity[i] = e
            pos = q[i] * pre_vec
            tpos = pos * tradable
            total_assets = cash[i] + pos.sum()
            exposure = float(np.dot(pos, counted)) + (0.0 if exemption else cash[i])
            slr = e / exposure if exposure > 0 else math.inf
            lev = e / total_assets if total_assets > 0 else math.inf

            dead = switches[DEFAULT] and (
                defaulted[i] or shocked[i] or e <= 0
                or slr < inputs.slr_minimum[i] or lev < inputs.leverage_minimum[i]
            )
            now_defaulted[i] = dead

            shed = 0.0
            if switches[SLR] and not dead and e > 0 and slr < inputs.slr_trigger[i]:
                shed = max(exposure - e / inputs.slr_target[i], 0.0)

            lev_trade = 0.0
            if switches[LEVERAGE] and not dead and e > 0:
                target = inputs.leverage_target[i]
                wanted = total_assets - (e / target if math.isfinite(target) else 0.0)
                if lev < inputs.leverage_trigger[i]:
                    lev_trade = max(wanted, 0.0)
                elif inputs.two_sided[i] and lev > target:
                    lev_trade = min(wanted, 0.0)

            # cash repays debt first (it counts in the SLR exposure unless exempt)
            cash_for_slr = 0.0 if exemption else shed
            if inputs.repay_with_cash[i] and not dead:
                cash_used[i] = min(cash[i], max(lev_trade, 0.0, cash_for_slr))
            slr_value = max(shed - (0.0 if exemption else cash_used[i]), 0.0)
            lev_sell = max(lev_trade - cash_used[i], 0.0)

            book = q_trading[i] * pre_vec * tradable  # trading book at marks
            var_fraction = 0.0
            limit = inputs.var_limit[i]
            if math.isfinite(limit):
                scaled = book * sigma_vec
                variance = float(scaled @ corr @ scaled)
                var = z[i] * math.sqrt(max(variance, 0.0))
                if switches[VAR] and not dead and var > limit:
                    var_fraction = 1.0 - limit / var

            policy, weights = int(inputs.liquidation[i]), initial_weights[i]
            sales = np.maximum.reduce([
                _allocate(slr_value, tpos * counted, policy, order, weights),
                book * var_fraction,
                _allocate(lev_sell, tpos, policy, order, weights),
                tpos if dead else np.zeros(n_asset),
            ])
            if sales.sum() <= tol:
                sales = np.zeros(n_asset)
                buy = -lev_trade if lev_trade < -tol else 0.0
            else:
                buy = 0.0
            held = tpos.sum()
            buys = tpos * (buy / held) if (buy > 0 and held > 0) else np.zeros(n_asset)

            if dead:
                u = q[i] * tradable
            else:
                u = (sales - buys) / np.where(pre_vec > 0, pre_vec, 1.0)
            u = np.minimum(u, q[i])
            units.append(u)
            # the trading book gives up what VaR asked of it and at least its pro-rata share
            # of a larger sale; purchases join it in proportion
            share = np.divide(q_trading[i], q[i], out=np.zeros(n_asset), where=q[i] > 0)
            var_units = q_trading[i] * tradable * (0.0 if dead else var_fraction)
            trading_cut.append(np.where(u > 0, np.minimum(np.maximum(var_units, u * share), u), u * share))

        # 4. clearing: outside buyers absorb the net flow of each asset
        traded = [u * pre_vec for u in units]
        flow = [0.0] * n_asset
        for i in range(n_inst):
            row = traded[i]
            for k in np.flatnonzero(row):
                flow[k] += row[k]
        post = []
        for k in assets:
            pressure[k] = pressure[k] + flow[k]
            post.append(market.price(k, fundamental[k], pressure[k]))
        post_vec = np.array(post)
        executed = pre_vec + alpha * (post_vec - pre_vec)

        traded_any = False
        for i in range(n_inst):
            u = units[i]
            new_q = q[i] - u
            proceeds = float(np.dot(u, executed))
            equity[i] = equity[i] + float(np.dot(new_q, post_vec - pre_vec)) + float(np.dot(u, executed - pre_vec))
            q[i] = new_q
            q_trading[i] = np.minimum(np.maximum(q_trading[i] - trading_cut[i], 0.0), new_q)
            debt_left = debt[i] - cash_used[i]
            cash_left = cash[i] - cash_used[i]
            if now_defaulted[i]:
                repaid = min(debt_left, cash_left + proceeds)
                cash[i] = cash_left + proceeds - repaid
            else:
                repaid = min(debt_left, max(proceeds, 0.0))
                cash[i] = cash_left + max(proceeds, 0.0) - repaid
            debt[i] = debt_left - repaid - min(proceeds, 0.0)
            defaulted[i] = now_defaulted[i]
            sales_total[i] += np.where(u > 0, traded[i], 0.0)
            if np.abs(traded[i]).sum() > tol:
                traded_any = True

        # 5. EWMA volatility on the round's log return (end of previous round → post)
        moved = False
        for k in assets:
            r = math.log(max(post[k], _TINY) / max(price[k], _TINY))
            sigma[k] = math.sqrt(lam * sigma[k] ** 2 + (1.0 - lam) * r * r)
            if abs(post[k] - price[k]) > tol:
                moved = True
        price = post

        # 7. stop rule
        rounds += moved or traded_any
        t += 1
        if not ((moved or traded_any or t <= last_shock) and t < max_rounds):
            break

    return {
        "equity": np.array(equity),
        "cash": np.array(cash),
        "debt": np.array(debt),
        "holdings": np.array(q),
        "trading_holdings": np.array(q_trading),
        "defaulted": np.array(defaulted),
        "price": np.array(price),
        "sigma": np.array(sigma),
        "rounds": rounds,
        "steps": t,
        "sales_total": np.array(sales_total),
    }


def simulate_naive(inputs: Inputs, scen: ScenarioArrays, scenarios: Iterable[int] | None = None) -> NaiveResult:
    """Run scenarios one at a time (all of ``scen`` by default), results stacked in that order."""
    market = _Market(inputs)
    idx = range(scen.switches.shape[0]) if scenarios is None else list(scenarios)
    runs = [simulate_naive_scenario(inputs, scen, s, market) for s in idx]
    return NaiveResult.stacked(runs)
