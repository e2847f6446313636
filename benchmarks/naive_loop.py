"""A competent per-institution loop of the firesale round: the engine's baseline and cross-check.

This is the model of :func:`firesale.engine.round.step` and
:func:`firesale.engine.simulate.simulate_arrays` (the balance-sheet mechanism with
outside buyers: no funding, dealer or information channels), written again the way an
agent-based model is written by someone who knows numpy: a Python loop over scenarios,
over rounds and, inside a round, over institutions, each institution looking only at its
own positions. It serves two purposes:

* an independent cross-check of the engine (``tests/engine/test_naive_reference.py``:
  the two agree to 1e-10 on random systems that exercise every mechanism);
* the per-institution baseline of ``benchmarks/bench_engine.py`` (item 1 of
  ``benchmarks/run_all.py``): what the batched engine is measured against.

It shares no code with the engine beyond the two input containers
(:class:`~firesale.engine.state.Inputs`, :class:`~firesale.engine.state.ScenarioArrays`)
and the constant code tables of the impact laws and liquidation policies.

What makes it a fair baseline (and not a strawman):

* holdings are the CSR pattern of :class:`~firesale.engine.state.Inputs`: one flat array
  over the E positions held, each institution a contiguous slice of its own positions
  (``segment_starts``; ``row_entries`` gives its width), already in liquidity order;
  nothing is done over assets an institution does not hold;
* market quantities (impact, clearing, EWMA volatility) are numpy over the K assets, and
  the round's prices are gathered onto the positions once per round, not per institution;
* an institution whose ratios are inside their triggers, with no VaR breach, not in
  default and not buying, skips the constraint and allocation work entirely and, at
  settlement, only marks its book;
* VaR is computed only where it can bind (a desk, the VaR channel on, not in default),
  over the desk's own positions with its correlation block ``var_correlation``;
* the pecking order is a cumulative sum: ``min(book, max(value - (cumsum(book) - book), 0))``.

Round order, for one scenario (all amounts in the system's currency unit, prices in
units of the t0 price):

1. fade of past pressure :math:`Q \\leftarrow (1-\\rho) Q` (mean reversion, from round 1
   on), fundamental and volatility shocks of the round, the pre-trade price
   :math:`p = \\max(f - p_0 \\Psi(Q), 0)` through the impact law :math:`\\Psi`: linear
   :math:`|Q|/D`, exponential :math:`(1-\\underline{p})(1 - e^{-|Q|/((1-\\underline{p}) D)})`
   (Cont and Schaanning 2017, eq. 4), square root :math:`\\sigma_0 \\kappa \\sqrt{|Q|/ADV}`;
2. mark to market: :math:`E \\leftarrow E + q \\cdot (p - p_{\\text{prev}})`;
3. default (shock, :math:`E \\le 0`, SLR or leverage below its minimum: sell every
   tradable position), SLR shrink to target, leverage targeting to target (Greenwood,
   Landier and Thesmar 2015; two-sided buys as in Adrian and Shin 2010), cash-first
   repayment, VaR cut :math:`1 - \\text{limit}/\\text{VaR}` of the trading book with
   :math:`\\text{VaR} = z_c \\sqrt{b^\\top C b}`, :math:`b = q^{tr} p \\sigma`; each
   channel's value allocated by the institution's liquidation policy; elementwise
   maximum over channels; quiet sellers (total at most the tolerance) sell nothing and a
   quiet two-sided targeter buys pro rata;
4. clearing: net flow adds to pressure, post-trade price through the impact law,
   execution at :math:`p + \\alpha (p^{post} - p)`, proceeds repay debt (a defaulter
   also uses its cash);
5. EWMA volatility :math:`\\sigma^2 \\leftarrow \\lambda \\sigma^2 + (1-\\lambda) r^2` on
   the round's log return;
6. stop: nobody traded and no price moved by more than the tolerance, no shock ahead,
   or ``max_rounds``.

References
----------
Adrian, T. and H. S. Shin (2010), "Liquidity and leverage", Journal of Financial
Intermediation 19(3).
Cont, R. and E. Schaanning (2017), "Fire sales, indirect contagion and systemic stress
testing", Norges Bank Working Paper 2/2017.
Greenwood, R., A. Landier and D. Thesmar (2015), "Vulnerable banks", Journal of Financial
Economics 115(3).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from firesale.engine.state import Inputs, ScenarioArrays

__all__ = ["NaiveResult", "simulate_naive", "simulate_naive_scenario"]

# Same codes as firesale.channels.impact.LAW_CODES / liquidation.POLICY_CODES.
LINEAR, EXPONENTIAL, SQRT = 0, 1, 2
PECKING_ORDER, PRO_RATA, INITIAL_WEIGHTS = 0, 1, 2
# Channel order of ScenarioArrays.switches (firesale.channels.CHANNELS).
SLR, VAR, LEVERAGE, DEFAULT = 0, 1, 2, 3
_TINY = 1e-300


@dataclass
class NaiveResult:
    """Final state of every scenario run by the loop (dense (N, K) books for comparison)."""

    equity: np.ndarray  # (S, N)
    cash: np.ndarray  # (S, N)
    debt: np.ndarray  # (S, N)
    holdings: np.ndarray  # (S, N, K)
    trading_holdings: np.ndarray  # (S, N, K) part of holdings in the trading book
    defaulted: np.ndarray  # (S, N) bool
    price: np.ndarray  # (S, K)
    sigma: np.ndarray  # (S, K)
    rounds: np.ndarray  # (S,) eventful rounds (the stop round not counted)
    steps: np.ndarray  # (S,) rounds stepped, the stop round included
    sales_total: np.ndarray  # (S, N, K) value sold over all rounds (pre-impact price)

    @classmethod
    def stacked(cls, runs: list[dict]) -> NaiveResult:
        """The runs of :func:`simulate_naive_scenario`, stacked on a scenario axis."""
        def stack(name: str, dtype=None) -> np.ndarray:
            return np.array([r[name] for r in runs], dtype=dtype)

        dtypes = {"defaulted": bool, "rounds": np.int64, "steps": np.int64}
        return cls(**{field.name: stack(field.name, dtypes.get(field.name)) for field in dataclasses.fields(cls)})


# --------------------------------------------------------------------------- set-up
class _Prepared:
    """Everything about the system that does not change with the scenario: the market's
    parameters as (K,) arrays, each institution's slice of the position arrays and its
    settings as Python scalars."""

    def __init__(self, inputs: Inputs) -> None:
        self.n, self.k = inputs.n_institutions, inputs.n_assets
        # market
        law = np.asarray(inputs.impact_law)
        depth = np.asarray(inputs.depth, dtype=float)
        finite = np.isfinite(depth)
        self.p0 = np.asarray(inputs.p0, dtype=float)
        self.linear = (law == LINEAR) & finite
        self.exponential = (law == EXPONENTIAL) & finite
        self.sqrt = law == SQRT
        self.depth = np.where(self.linear, depth, 1.0)
        self.room = 1.0 - np.asarray(inputs.impact_floor, dtype=float)
        self.exp_scale = np.where(self.exponential, self.room * depth, 1.0)
        adv = np.asarray(inputs.adv, dtype=float)
        self.sqrt_scale = np.asarray(inputs.sigma0) * np.asarray(inputs.impact_kappa)
        self.adv = np.where(adv > 0, adv, 1.0)
        self.sigma0 = np.asarray(inputs.sigma0, dtype=float)
        # positions: entries ordered by institution, most liquid first within one
        self.entry_asset = np.asarray(inputs.entry_asset)
        width = (np.asarray(inputs.row_entries) >= 0).sum(axis=1)
        starts = np.zeros(self.n, dtype=np.int64)
        starts[inputs.has_holdings] = inputs.segment_starts
        self.lo = [int(x) for x in starts]
        self.hi = [int(x) for x in starts + width]
        held_rows = np.asarray(inputs.row_entries)[inputs.has_holdings]
        expected = np.asarray(inputs.segment_starts)[:, None] + np.arange(held_rows.shape[1])
        if not np.array_equal(np.where(held_rows >= 0, held_rows, -1), np.where(held_rows >= 0, expected, -1)):
            raise ValueError("Inputs.row_entries is not one contiguous run of entries per institution")
        self.held = np.asarray(inputs.held, dtype=float)
        self.trading_held = np.asarray(inputs.trading_held, dtype=float)
        self.tradable_e = np.asarray(inputs.tradable, dtype=float)[self.entry_asset]
        self.weights_e = np.asarray(inputs.initial_weights, dtype=float)
        self.exempt_e = np.asarray(inputs.slr_exempt, dtype=bool)[self.entry_asset]
        self.any_exempt = bool(self.exempt_e.any())
        self.tradable_views, self.weights_views = self.views(self.tradable_e), self.views(self.weights_e)
        # institutions: plain Python scalars (a numpy scalar per comparison is slow)
        as_list = lambda a, kind=float: [kind(x) for x in np.asarray(a)]  # noqa: E731
        self.cash0, self.debt0 = as_list(inputs.cash), as_list(inputs.debt)
        self.slr_minimum, self.slr_trigger = as_list(inputs.slr_minimum), as_list(inputs.slr_trigger)
        self.slr_target = as_list(inputs.slr_target)
        self.leverage_minimum = as_list(inputs.leverage_minimum)
        self.leverage_trigger, self.leverage_target = as_list(inputs.leverage_trigger), as_list(inputs.leverage_target)
        self.two_sided, self.repay_with_cash = as_list(inputs.two_sided, bool), as_list(inputs.repay_with_cash, bool)
        self.policy = as_list(inputs.liquidation, int)
        self.var_limit = as_list(inputs.var_limit)
        # VaR desks: z of the confidence and the correlation block of the desk's own positions
        self.z = [NormalDist().inv_cdf(c) for c in as_list(inputs.var_confidence)]
        self.var_block: list[np.ndarray | None] = [None] * self.n
        for v, i in enumerate(np.asarray(inputs.var_desks)):
            i = int(i)
            if math.isfinite(self.var_limit[i]):
                m = self.hi[i] - self.lo[i]
                self.var_block[i] = np.ascontiguousarray(inputs.var_correlation[v, :m, :m])

    def views(self, per_entry: np.ndarray) -> list[np.ndarray]:
        """Each institution's slice (a view) of a per-position array."""
        return [per_entry[a:b] for a, b in zip(self.lo, self.hi)]

    def price(self, fundamental: np.ndarray, pressure: np.ndarray) -> np.ndarray:
        """:math:`\\max(f - p_0\\,\\mathrm{sign}(Q)\\,\\Psi(|Q|), 0)` for every asset."""
        size = np.abs(pressure)
        psi = np.where(self.linear, size / self.depth, 0.0)
        psi = np.where(self.exponential, self.room * -np.expm1(-size / self.exp_scale), psi)
        psi = np.where(self.sqrt, self.sqrt_scale * np.sqrt(size / self.adv), psi)
        return np.maximum(fundamental - self.p0 * (np.sign(pressure) * psi), 0.0)


# --------------------------------------------------------------------------- liquidation
def _allocate(value: float, book: np.ndarray, policy: int, weights: np.ndarray) -> np.ndarray:
    """Spread a value to sell over one institution's positions (in liquidity order)."""
    if policy == PECKING_ORDER:  # most liquid first: what is left after the positions before
        before = np.cumsum(book) - book
        return np.minimum(book, np.maximum(value - before, 0.0))
    if policy == PRO_RATA:
        total = float(book.sum())
        return book * min(value / total, 1.0) if total > 0 else np.zeros_like(book)
    if policy == INITIAL_WEIGHTS:
        return np.minimum(value * weights, book)
    raise ValueError(f"unknown liquidation policy code {policy}")  # pragma: no cover


# --------------------------------------------------------------------------- one scenario
def simulate_naive_scenario(inputs: Inputs, scen: ScenarioArrays, s: int, prepared: _Prepared | None = None) -> dict:
    """Run scenario ``s`` of ``scen`` to its stop; returns the final state as a dict."""
    prep = prepared or _Prepared(inputs)
    n_inst = prep.n
    entry_asset = prep.entry_asset

    # scenario settings
    slr_on, var_on, lev_on, default_on = (bool(x) for x in scen.switches[s][:4])
    exemption = bool(scen.slr_exemption[s])
    alpha = float(scen.execution_alpha[s])
    rho = float(scen.mean_reversion[s])
    lam = float(scen.ewma_lambda[s])
    tol = float(scen.tolerance[s])
    max_rounds = int(scen.max_rounds[s])
    last_shock = int(scen.last_shock_round[s])
    horizon = scen.price_shock.shape[1]
    cash_in_exposure = 0.0 if exemption else 1.0
    # SLR exposure counts every position unless the exemption removes some
    counted_e = (~prep.exempt_e).astype(float) if (exemption and prep.any_exempt) else None

    # state: flat per-position arrays, Python floats per institution
    q = prep.held.copy()
    q_trading = prep.trading_held.copy()
    sales_total = np.zeros_like(q)
    units = np.zeros_like(q)
    cash, debt = list(prep.cash0), list(prep.debt0)
    defaulted = [False] * n_inst
    price = prep.p0.copy()
    fundamental = prep.p0.copy()
    pressure = np.zeros(prep.k)
    sigma = prep.sigma0.copy()
    # per-position buffers refilled every round, so that each institution's slices of them
    # (views, made once) stay valid: prices at its positions, their moves, ...
    pre_e, move_e, safe_pre_e, sigma_e, gain_e, executed_e, traded_e = (np.empty_like(q) for _ in range(7))
    views = prep.views
    Q, QT, U, SOLD = views(q), views(q_trading), views(units), views(sales_total)
    PRE, MOVE, SAFE, SIGMA = views(pre_e), views(move_e), views(safe_pre_e), views(sigma_e)
    GAIN, EXECUTED, TRADED = views(gain_e), views(executed_e), views(traded_e)
    TRADABLE, WEIGHTS = prep.tradable_views, prep.weights_views
    COUNTED = None if counted_e is None else views(counted_e)
    np.take(prep.p0, entry_asset, out=pre_e)
    equity = [cash[i] + float(Q[i] @ PRE[i]) - debt[i] for i in range(n_inst)]

    rounds = 0
    t = 0
    while True:
        # 1. fading pressure, shocks, pre-trade price; the market as seen by each position
        if t > 0:
            pressure = (1.0 - rho) * pressure
        shocked = None
        if t < horizon:
            fundamental = fundamental * (1.0 + scen.price_shock[s, t])
            sigma = sigma * scen.volatility_shock[s, t]
            shocked = scen.default_shock[s, t]
            shocked = shocked.tolist() if shocked.any() else None
        pre = prep.price(fundamental, pressure)
        np.take(pre, entry_asset, out=pre_e)
        np.take(pre - price, entry_asset, out=move_e)
        np.copyto(safe_pre_e, np.where(pre_e > 0, pre_e, 1.0))
        if var_on:
            np.take(sigma, entry_asset, out=sigma_e)

        # 2.-3. each institution marks its book and decides what to trade
        units[:] = 0.0
        actors = {}  # institution -> (trading-book cut or None, cash used, in default)
        for i in range(n_inst):
            qi, pi = Q[i], PRE[i]
            e = equity[i] + float(qi @ MOVE[i])
            equity[i] = e
            assets_value = float(qi @ pi)
            total_assets = cash[i] + assets_value
            counted_value = assets_value if COUNTED is None else float((qi * pi) @ COUNTED[i])
            exposure = counted_value + cash_in_exposure * cash[i]
            slr = e / exposure if exposure > 0 else math.inf
            lev = e / total_assets if total_assets > 0 else math.inf

            dead = default_on and (
                defaulted[i] or (shocked is not None and shocked[i]) or e <= 0
                or slr < prep.slr_minimum[i] or lev < prep.leverage_minimum[i]
            )
            shed = lev_trade = var_fraction = 0.0
            if not dead and e > 0:
                if slr_on and slr < prep.slr_trigger[i]:
                    shed = max(exposure - e / prep.slr_target[i], 0.0)
                if lev_on:
                    target = prep.leverage_target[i]
                    wanted = total_assets - (e / target if math.isfinite(target) else 0.0)
                    if lev < prep.leverage_trigger[i]:
                        lev_trade = max(wanted, 0.0)
                    elif prep.two_sided[i] and lev > target:
                        lev_trade = min(wanted, 0.0)
            block = prep.var_block[i]
            if var_on and not dead and block is not None:
                book = QT[i] * pi * TRADABLE[i]
                scaled = book * SIGMA[i]
                var = prep.z[i] * math.sqrt(max(float(scaled @ block @ scaled), 0.0))
                if var > prep.var_limit[i]:
                    var_fraction = 1.0 - prep.var_limit[i] / var
            if not dead and shed == 0.0 and lev_trade == 0.0 and var_fraction == 0.0:
                continue  # nothing binds: no constraint work, settlement only marks the book

            # cash repays debt first (it counts in the SLR exposure unless exempt)
            cash_used = 0.0
            if prep.repay_with_cash[i] and not dead:
                cash_used = min(cash[i], max(lev_trade, 0.0, 0.0 if exemption else shed))
            slr_value = max(shed - (0.0 if exemption else cash_used), 0.0)
            lev_sell = max(lev_trade - cash_used, 0.0)

            qt = QT[i]
            if dead:
                u = qi * TRADABLE[i]
                var_units = 0.0
            else:
                tpos = qi * pi * TRADABLE[i]
                policy, weights = prep.policy[i], WEIGHTS[i]
                sales = None
                if slr_value > 0.0:
                    sales = _allocate(slr_value, tpos if COUNTED is None else tpos * COUNTED[i], policy, weights)
                if var_fraction > 0.0:
                    cut = book * var_fraction
                    sales = cut if sales is None else np.maximum(sales, cut)
                if lev_sell > 0.0:
                    sold = _allocate(lev_sell, tpos, policy, weights)
                    sales = sold if sales is None else np.maximum(sales, sold)
                buy = 0.0
                if sales is None or float(sales.sum()) <= tol:
                    sales = None
                    buy = -lev_trade if lev_trade < -tol else 0.0
                held = float(tpos.sum()) if buy > 0 else 0.0
                if buy > 0 and held > 0:  # sales is None here: a quiet two-sided targeter buys
                    trade = -tpos * (buy / held)
                elif sales is not None:
                    trade = sales
                else:  # nothing to trade (any cash still repays debt)
                    actors[i] = (None, cash_used, False)
                    continue
                u = np.minimum(trade / SAFE[i], qi)
                var_units = qt * TRADABLE[i] * var_fraction
            U[i][:] = u
            # the trading book gives up what VaR asked of it and at least its pro-rata share
            # of a larger sale; purchases join it in proportion
            share = np.divide(qt, qi, out=np.zeros_like(qi), where=qi > 0)
            by_share = u * share
            actors[i] = (np.where(u > 0, np.minimum(np.maximum(var_units, by_share), u), by_share), cash_used, dead)

        # 4. clearing: outside buyers absorb the net flow of each asset
        np.multiply(units, pre_e, out=traded_e)
        pressure = pressure + np.bincount(entry_asset, weights=traded_e, minlength=prep.k)
        post = prep.price(fundamental, pressure)
        executed = pre + alpha * (post - pre)
        np.subtract(post[entry_asset], pre_e, out=gain_e)  # per unit kept
        np.take(executed, entry_asset, out=executed_e)

        # settlement: everyone marks what it kept; those that acted also settle trades
        traded_any = False
        for i in range(n_inst):
            act = actors.get(i)
            if act is None:
                equity[i] += float(Q[i] @ GAIN[i])
                defaulted[i] = False
                continue
            trading_cut, cash_used, dead = act
            debt_left, cash_left = debt[i] - cash_used, cash[i] - cash_used
            if trading_cut is None:  # no trade: cash repaid debt, proceeds are zero
                equity[i] += float(Q[i] @ GAIN[i])
                repaid = min(debt_left, 0.0)
                cash[i], debt[i] = cash_left - repaid, debt_left - repaid
                defaulted[i] = dead
                continue
            u, qi = U[i], Q[i]
            new_q = qi - u
            proceeds = float(u @ EXECUTED[i])
            equity[i] += float(new_q @ GAIN[i]) + float(u @ (EXECUTED[i] - PRE[i]))
            qi[:] = new_q
            QT[i][:] = np.minimum(np.maximum(QT[i] - trading_cut, 0.0), new_q)
            if dead:
                repaid = min(debt_left, cash_left + proceeds)
                cash[i] = cash_left + proceeds - repaid
            else:
                repaid = min(debt_left, max(proceeds, 0.0))
                cash[i] = cash_left + max(proceeds, 0.0) - repaid
            debt[i] = debt_left - repaid - min(proceeds, 0.0)
            defaulted[i] = dead
            traded = TRADED[i]
            SOLD[i] += np.where(u > 0, traded, 0.0)
            if float(np.abs(traded).sum()) > tol:
                traded_any = True

        # 5. EWMA volatility on the round's log return (end of previous round → post)
        r = np.log(np.maximum(post, _TINY) / np.maximum(price, _TINY))
        sigma = np.sqrt(lam * sigma**2 + (1.0 - lam) * r * r)
        moved = bool((np.abs(post - price) > tol).any())
        price = post

        # 6. stop rule
        rounds += moved or traded_any
        t += 1
        if not ((moved or traded_any or t <= last_shock) and t < max_rounds):
            break

    return {
        "equity": np.array(equity),
        "cash": np.array(cash),
        "debt": np.array(debt),
        "holdings": _dense(inputs, q),
        "trading_holdings": _dense(inputs, q_trading),
        "defaulted": np.array(defaulted),
        "price": price,
        "sigma": sigma,
        "rounds": rounds,
        "steps": t,
        "sales_total": _dense(inputs, sales_total),
    }


def _dense(inputs: Inputs, per_entry: np.ndarray) -> np.ndarray:
    """Per-position values (E,) as an (N, K) book, zero where nothing is held."""
    out = np.zeros((inputs.n_institutions, inputs.n_assets))
    out[inputs.entry_institution, inputs.entry_asset] = per_entry
    return out


def simulate_naive(inputs: Inputs, scen: ScenarioArrays, scenarios: Iterable[int] | None = None) -> NaiveResult:
    """Run scenarios one at a time (all of ``scen`` by default), results stacked in that order."""
    prepared = _Prepared(inputs)
    idx = range(scen.switches.shape[0]) if scenarios is None else list(scenarios)
    runs = [simulate_naive_scenario(inputs, scen, s, prepared) for s in idx]
    return NaiveResult.stacked(runs)
