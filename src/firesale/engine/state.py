"""Batched engine arrays: the t0 inputs of a system, the scenarios, and the state.

Three kinds of arrays, kept apart (PyPSA keeps static tables apart from time series):

* :class:`Inputs` — t0 data of the system, shapes ``(N,)``, ``(K,)``, ``(N, K)``;
* :class:`ScenarioArrays` — one row per scenario, shapes ``(S, ...)``;
* :class:`State` — what changes every round, shapes ``(S, E)`` (one column per position
  held at t0), ``(S, N)``, ``(S, K)``.

Holdings are stored per *entry* of the t0 holdings pattern rather than as a dense
``(S, N, K)`` block: real portfolios hold a small share of all assets, and the pattern
cannot grow (sales shrink positions, purchases add to existing ones).

The funding mechanism adds repo borrowing per entry and haircuts ``h (S, K)`` to
:class:`State`; the information mechanism adds marks below prices
(``mark = p · (1 − opacity · u)``), the uncertainty index ``u``, spreads, quoting shares
and depth ``(S, K)`` and the inter-dealer layoff share ``(S,)``. Dealers hold a (possibly
empty) position in every asset they make a market in, so that inventory they absorb has
a place in the pattern.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass

import numpy as np

from firesale.channels import CHANNELS
from firesale.channels._sums import segment_sums
from firesale.channels.dealers import Positions
from firesale.channels.impact import LAW_CODES
from firesale.channels.liquidation import POLICY_CODES
from firesale.matrices import triplets, values_at
from firesale.scenario import POLICY_LEVERS, Scenario
from firesale.system import System

__all__ = ["Inputs", "ScenarioArrays", "State", "initial_state"]


@dataclass(frozen=True)
class Inputs:
    """t0 arrays of a system (read-only during a run)."""

    cash: np.ndarray  # (N,)
    debt: np.ndarray  # (N,)
    p0: np.ndarray  # (K,) t0 price (1)
    impact_law: np.ndarray  # (K,) int
    relative_impact: np.ndarray  # (K,) bool, impact a fraction of the fundamental (multiplicative law)
    depth: np.ndarray  # (K,)
    impact_floor: np.ndarray  # (K,)
    sigma0: np.ndarray  # (K,)
    adv: np.ndarray  # (K,)
    impact_kappa: np.ndarray  # (K,)
    slr_exempt: np.ndarray  # (K,) bool
    tradable: np.ndarray  # (K,) bool
    liquidity_order: np.ndarray  # (K,) int, most liquid first
    correlation: np.ndarray  # (K, K)
    slr_minimum: np.ndarray  # (N,) NaN = none
    slr_trigger: np.ndarray
    slr_target: np.ndarray
    leverage_minimum: np.ndarray
    leverage_trigger: np.ndarray
    leverage_target: np.ndarray
    two_sided: np.ndarray  # (N,) bool
    var_limit: np.ndarray  # (N,) NaN = none
    var_confidence: np.ndarray  # (N,)
    liquidation: np.ndarray  # (N,) int
    repay_with_cash: np.ndarray  # (N,) bool
    other_liabilities: np.ndarray  # (N,) liabilities that are not repaid early
    slr_at_minimum: np.ndarray  # (N,) bool, SLR sales only below the minimum (slr_deleveraging = "minimum")
    # The holdings pattern: positions held at t0, one *entry* each, ordered by institution
    # and, within it, most liquid first. Sales shrink positions and purchases add to
    # existing ones, so the pattern never grows and the state is stored per entry.
    entry_institution: np.ndarray  # (E,) int
    entry_asset: np.ndarray  # (E,) int
    segment_starts: np.ndarray  # (N',) first entry of each institution with holdings
    has_holdings: np.ndarray  # (N,) bool
    row_entries: np.ndarray  # (N, L) entries of each institution in liquidity order, -1 padding
    held: np.ndarray  # (E,) quantity at t0
    trading_held: np.ndarray  # (E,) quantity in the trading book at t0
    initial_weights: np.ndarray  # (E,) t0 weight of each entry in its institution's tradable book
    haircut0: np.ndarray  # (K,) t0 repo haircut
    haircut_beta: np.ndarray  # (K,)
    haircut_cap: np.ndarray  # (K,)
    repo: np.ndarray  # (E,) t0 repo borrowing per position
    short_term_debt: np.ndarray  # (N,)
    repo_lending: np.ndarray  # (N,) cash lent in the tri-party repo market
    run_threshold: np.ndarray  # (N,) NaN = none
    run_share: np.ndarray  # (N,)
    rollover_threshold: np.ndarray  # (N,) NaN = none
    rollover_share: np.ndarray  # (N,)
    shares: np.ndarray  # (N,) fund shares at t0
    # derivatives, one per (institution, asset) with a notional, ordered by institution
    derivative_asset: np.ndarray  # (M,) int
    derivative_starts: np.ndarray  # first derivative of each institution with derivatives
    has_derivative: np.ndarray  # (N,) bool
    derivative: np.ndarray  # (M,) signed notional of swaps and futures
    margin_base: np.ndarray  # (M,) initial margin at t0 volatility: rate × |notional|
    hedges: np.ndarray  # (H,) int, the derivatives closed in step with their position's sales
    hedge_entry: np.ndarray  # (H,) int, the entry of the position each of them hedges
    redemption_sensitivity: np.ndarray  # (N,)
    first_mover: np.ndarray  # (N,)
    swing_pricing: np.ndarray  # (N,) bool
    redemption_gate: np.ndarray  # (N,) 1 without a gate
    redemption_cap: np.ndarray  # (N,) inf without a cap
    recapitalisation_lag: np.ndarray  # (N,) int, a very large number: never recapitalised
    var_desks: np.ndarray  # (V,) institutions with a VaR limit
    var_correlation: np.ndarray  # (V, L, L) correlation between each desk's positions, 0 on padding
    mu0: np.ndarray  # (K,) adverse-selection share at t0
    opacity: np.ndarray  # (K,)
    dealers: np.ndarray  # (D,) institutions that make markets
    dealer_positions: Positions  # (P,) dealer, asset and market share of each dealer position
    dealer_position_entry: np.ndarray  # (P,) entry of each dealer position
    entry_position: np.ndarray  # (E,) dealer position of each entry, -1 for non-dealers' entries
    dealer_index: np.ndarray  # (N,) position of each institution in ``dealers``, -1 for others

    @classmethod
    def from_system(cls, system: System) -> Inputs:
        """Array view of a validated :class:`~firesale.system.System`."""
        insts, assets = system.institutions, system.assets

        def level(ratio: str, which: str) -> np.ndarray:
            return np.array([i.level(ratio, which) for i in insts], dtype=float)

        def optional(field: str) -> np.ndarray:
            return np.array([np.nan if getattr(i, field) is None else getattr(i, field) for i in insts], dtype=float)

        n, k = system.n_institutions, system.n_assets
        tradable = np.array([a.is_tradable for a in assets], dtype=bool)
        liquidity_order = np.argsort([a.rank for a in assets], kind="stable")
        liquidity_rank = np.empty(k, dtype=np.int64)
        liquidity_rank[liquidity_order] = np.arange(k)
        dealer = np.array([i.type == "dealer" for i in insts], dtype=bool)
        # The pattern: every position held, and (possibly empty) a position of each dealer in
        # every asset it makes a market in, so that absorbed inventory has a place in it.
        # Entries run by institution and, within one, most liquid first.
        held_rows, held_cols, _ = triplets(system.holdings)
        share_rows, share_cols, share_values = triplets(system.market_share)
        quoted = dealer[share_rows] & tradable[share_cols] & (share_values > 0)
        codes = np.unique(np.concatenate([held_rows * k + liquidity_rank[held_cols],
                                          share_rows[quoted] * k + liquidity_rank[share_cols[quoted]]]))
        inst_of, asset_of = codes // k, liquidity_order[codes % k]
        counts = np.bincount(inst_of, minlength=n)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        width = int(counts.max(initial=0))
        slot = np.arange(inst_of.size) - starts[inst_of]
        row_entries = np.full((n, max(width, 1)), -1, dtype=np.int64)
        row_entries[inst_of, slot] = np.arange(inst_of.size)
        share = np.zeros(inst_of.size)
        share_entry = np.searchsorted(codes, share_rows[quoted] * k + liquidity_rank[share_cols[quoted]])
        share[share_entry] = share_values[quoted]
        dealers = np.flatnonzero(dealer & (np.bincount(inst_of, weights=share, minlength=n) > 0))
        dealer_index = _positions(dealers, n)
        # the dealers' positions: every entry of a dealer that makes markets
        dealer_entry = np.flatnonzero(dealer_index[inst_of] >= 0)
        entry_position = np.full(inst_of.size, -1, dtype=np.int64)
        entry_position[dealer_entry] = np.arange(dealer_entry.size)
        held = values_at(system.holdings, inst_of, asset_of)
        book = held * tradable[asset_of]
        book_total = segment_sums(book[None, :], starts[counts > 0], counts > 0)[0]
        weights = np.divide(book, book_total[inst_of], out=np.zeros_like(book), where=book_total[inst_of] > 0)
        d_rows, d_cols, notional = triplets(system.derivative)
        d_counts = np.bincount(d_rows, minlength=n)
        # a hedge closes with the position in the asset it hedges (itself, or its hedge_of)
        hedged_asset = np.array([k_ if a.hedge_of is None else system.asset_index(a.hedge_of)
                                 for k_, a in enumerate(assets)], dtype=np.int64)
        d_codes = d_rows * k + liquidity_rank[hedged_asset[d_cols]]
        d_at = np.searchsorted(codes, d_codes)
        found = d_at < codes.size
        found[found] = codes[d_at[found]] == d_codes[found]
        d_entry = np.where(found, d_at, -1).astype(np.int64)
        hedges = np.flatnonzero(np.array([i.close_hedges for i in insts], dtype=bool)[d_rows] & (d_entry >= 0))
        d_starts = np.concatenate([[0], np.cumsum(d_counts)[:-1]])
        return _read_only(cls(
            cash=system.cash0,
            debt=system.liabilities0,
            p0=np.ones(system.n_assets),
            impact_law=np.array([LAW_CODES[a.impact] for a in assets], dtype=np.int8),
            relative_impact=np.array([a.impact == "multiplicative" for a in assets], dtype=bool),
            depth=np.array([a.depth for a in assets], dtype=float),
            impact_floor=np.array([a.impact_floor for a in assets], dtype=float),
            sigma0=np.array([a.sigma0 for a in assets], dtype=float),
            adv=np.array([a.adv for a in assets], dtype=float),
            impact_kappa=np.array([a.impact_kappa for a in assets], dtype=float),
            slr_exempt=np.array([a.is_slr_exempt for a in assets], dtype=bool),
            tradable=tradable,
            liquidity_order=liquidity_order,
            correlation=np.array(system.correlation, dtype=float),
            slr_minimum=level("slr", "minimum"),
            slr_trigger=level("slr", "trigger"),
            slr_target=level("slr", "target"),
            leverage_minimum=level("leverage", "minimum"),
            leverage_trigger=level("leverage", "trigger"),
            leverage_target=level("leverage", "target"),
            two_sided=np.array([i.leverage_targeting == "two_sided" for i in insts], dtype=bool),
            var_limit=np.array([np.nan if i.var_limit is None else i.var_limit for i in insts], dtype=float),
            var_confidence=np.array([i.var_confidence for i in insts], dtype=float),
            liquidation=np.array([POLICY_CODES[i.liquidation] for i in insts], dtype=np.int8),
            repay_with_cash=np.array([i.repay_with_cash for i in insts], dtype=bool),
            other_liabilities=np.array([i.other_liabilities for i in insts], dtype=float),
            slr_at_minimum=np.array([i.slr_deleveraging == "minimum" for i in insts], dtype=bool),
            entry_institution=inst_of,
            entry_asset=asset_of,
            segment_starts=starts[counts > 0],
            has_holdings=counts > 0,
            row_entries=row_entries,
            held=held,
            trading_held=held * values_at(system.trading_fraction, inst_of, asset_of),
            initial_weights=weights,
            haircut0=np.array([a.haircut for a in assets], dtype=float),
            haircut_beta=np.array([a.beta for a in assets], dtype=float),
            haircut_cap=np.array([a.haircut_cap for a in assets], dtype=float),
            repo=values_at(system.repo, inst_of, asset_of),
            short_term_debt=np.array([i.short_term_debt for i in insts], dtype=float),
            repo_lending=system.lending0,
            run_threshold=optional("run_threshold"),
            run_share=np.array([i.run_share for i in insts], dtype=float),
            rollover_threshold=optional("repo_rollover_threshold"),
            rollover_share=np.array([i.repo_rollover_share for i in insts], dtype=float),
            derivative_asset=d_cols,
            derivative_starts=d_starts[d_counts > 0],
            has_derivative=d_counts > 0,
            derivative=notional,
            margin_base=values_at(system.initial_margin, d_rows, d_cols) * np.abs(notional),
            hedges=hedges,
            hedge_entry=d_entry[hedges],
            shares=np.where(np.isnan(optional("shares")), system.equity0, optional("shares")),
            redemption_sensitivity=np.array([i.redemption_sensitivity for i in insts], dtype=float),
            first_mover=np.array([i.first_mover for i in insts], dtype=float),
            swing_pricing=np.array([i.swing_pricing for i in insts], dtype=bool),
            redemption_gate=np.array([1.0 if i.redemption_gate is None else i.redemption_gate for i in insts]),
            redemption_cap=np.array([np.inf if i.redemption_cap is None else i.redemption_cap for i in insts]),
            recapitalisation_lag=np.array([_NEVER if i.recapitalisation_lag is None else i.recapitalisation_lag
                                           for i in insts], dtype=np.int64),
            var_desks=np.flatnonzero([i.var_limit is not None for i in insts]),
            var_correlation=_position_correlation(system.correlation, row_entries, asset_of,
                                                  [i.var_limit is not None for i in insts]),
            mu0=np.array([a.mu0 for a in assets], dtype=float),
            opacity=np.array([a.opacity_share for a in assets], dtype=float),
            dealers=dealers,
            dealer_positions=Positions(dealer=dealer_index[inst_of[dealer_entry]], asset=asset_of[dealer_entry],
                                       share=share[dealer_entry],
                                       n_dealers=int(dealers.size), n_assets=system.n_assets),
            dealer_position_entry=dealer_entry,
            entry_position=entry_position,
            dealer_index=dealer_index,
        ))

    @property
    def has_funding(self) -> bool:
        """Whether anything can call for cash: repo, short-term debt, fund investors, derivatives."""
        return bool(self.repo.any() or self.short_term_debt.any() or self.redemption_sensitivity.any()
                    or self.has_derivatives or self.repo_lending.any())

    @property
    def has_derivatives(self) -> bool:
        return bool(self.derivative.any())

    @property
    def n_entries(self) -> int:
        return int(self.entry_asset.size)

    @property
    def n_institutions(self) -> int:
        return int(self.has_holdings.size)

    @property
    def n_assets(self) -> int:
        return int(self.p0.size)

    @functools.cached_property
    def t0_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each institution's t0 total assets (cash, repo lent and holdings at ``p0``), repo
        borrowed and initial margin posted, (N,) each: the sums every run's initial state
        starts from, made once (the arrays they sum are read-only)."""
        assets = self.cash + self.repo_lending + self.per_institution((self.held * self.p0[self.entry_asset])[None])[0]
        repo = self.per_institution(self.repo[None])[0]
        margin = segment_sums(self.margin_base[None], self.derivative_starts, self.has_derivative)[0]
        return assets, repo, margin

    @functools.cached_property
    def t0_book(self) -> np.ndarray:
        """Book value per asset (K,) at ``p0`` of the holdings and the derivatives' signed
        notionals, made once."""
        return (np.bincount(self.entry_asset, weights=self.held, minlength=self.n_assets)
                + np.bincount(self.derivative_asset, weights=self.derivative, minlength=self.n_assets)) * self.p0

    def per_institution(self, values: np.ndarray) -> np.ndarray:
        """Sum per-entry values (S, E) over each institution's entries → (S, N)."""
        return segment_sums(values, self.segment_starts, self.has_holdings)

    def derivatives_per_institution(self, per_asset: np.ndarray, amounts: np.ndarray | None = None) -> np.ndarray:
        """:math:`\\sum_k a_{ik} x_{sk}` over each institution's derivatives → (S, N), with
        ``a`` the notionals (or ``amounts`` per derivative) and ``x`` = ``per_asset`` (S, K)."""
        amounts = self.derivative if amounts is None else amounts
        return segment_sums(amounts * per_asset[:, self.derivative_asset], self.derivative_starts,
                             self.has_derivative)

    def to_dense(self, values: np.ndarray) -> np.ndarray:
        """Per-entry values (S, E) as a dense (S, N, K) array, zero where nothing is held."""
        out = np.zeros((values.shape[0], self.n_institutions, self.n_assets), dtype=values.dtype)
        out[:, self.entry_institution, self.entry_asset] = values
        return out


def _read_only(inputs: Inputs) -> Inputs:
    """``inputs`` with every array read-only: a system's t0 arrays are shared by every run
    on it (and by the System), so no run may change what the next one starts from; and the
    compiled kernels then see one array type whichever way the inputs were built."""
    for field in fields(inputs):
        value = getattr(inputs, field.name)
        for array in ([getattr(value, f.name) for f in fields(value)] if is_dataclass(value) else [value]):
            if isinstance(array, np.ndarray):
                array.setflags(write=False)
    return inputs


def _positions(members: np.ndarray, size: int) -> np.ndarray:
    out = np.full(size, -1, dtype=np.int64)
    out[members] = np.arange(members.size)
    return out


def _position_correlation(correlation: np.ndarray, row_entries: np.ndarray, entry_asset: np.ndarray,
                          desks: list[bool]) -> np.ndarray:
    """For each VaR desk, the block of the correlation matrix between its own positions."""
    slots = row_entries[np.asarray(desks, dtype=bool)]
    valid = slots >= 0
    assets = np.where(valid, entry_asset[np.where(valid, slots, 0)], 0)
    block = correlation[assets[:, :, None], assets[:, None, :]]
    return np.where(valid[:, :, None] & valid[:, None, :], block, 0.0)


def _eligible(system: System, programmes: list) -> np.ndarray:
    """(S, K) mask of the assets a policy programme (purchases, facility) covers."""
    out = np.zeros((len(programmes), system.n_assets), dtype=bool)
    for s, programme in enumerate(programmes):
        for name in () if programme is None else programme.assets:
            out[s, system.asset_index(name)] = True
    return out


def _per_outside_demand(system: System, scenarios: Sequence[Scenario], rule: str) -> np.ndarray:
    """(S, K) of an asset rule (``discount_bound``, ``arrival_rate``) that depends on the
    scenario only through ``market.outside_demand``: each asset's value with and without
    it (only the variants some scenario uses), computed once, then picked per scenario."""
    on = np.array([sc.market.outside_demand for sc in scenarios], dtype=bool)
    both = np.full((2, system.n_assets), np.nan)
    for flag in set(on.tolist()):
        both[int(flag)] = [getattr(a, rule)(flag) for a in system.assets]
    return both[on.astype(np.int64)].reshape(len(scenarios), system.n_assets)


def _lookup(names: Callable[[], list[str]], index: Callable[[str], int]) -> Callable[[str], int]:
    """Position of a name, from a dict of ``names()`` built on first use (so many shocks
    cost one pass over the names, not one each); an unknown name gets ``index``'s error."""
    positions: dict[str, int] = {}

    def position(name: str) -> int:
        if not positions:
            positions.update((known, at) for at, known in enumerate(names()))
        at = positions.get(name)
        return index(name) if at is None else at

    return position


#: A round no run reaches (a lever that never ends, a programme never announced).
_NEVER = np.iinfo(np.int64).max


def _cap_schedule(scenarios: Sequence[Scenario]) -> np.ndarray:
    """(S, T) daily cap of purchases in each round from the programmes' schedules (NaN:
    the programme's daily_cap)."""
    rows = [() if sc.policy.purchases is None else
            (np.nan,) * sc.policy.timing.purchases.start + sc.policy.purchases.daily_cap_by_round for sc in scenarios]
    out = np.full((len(scenarios), max(1, max(map(len, rows), default=1))), np.nan)
    for s, row in enumerate(rows):
        out[s, :len(row)] = row
    return out


@dataclass(frozen=True)
class Levers:
    """The policy levers in force in one round (:meth:`ScenarioArrays.levers_at`)."""

    slr_exemption: np.ndarray  # (S,) bool
    haircut_floor: np.ndarray  # (S,) bool
    swing_pricing: np.ndarray  # (S,) bool
    slr_buffer_release: np.ndarray  # (S,)
    all_to_all: np.ndarray  # (S,)
    purchase_eligible: np.ndarray  # (S, K) bool
    facility_eligible: np.ndarray  # (S, K) bool
    max_discount: np.ndarray  # (S, K) outside buyers' largest discount, after any announcement
    repricing: np.ndarray  # (S, K) return of fundamentals the announcement brings in this round
    purchase_daily_cap: np.ndarray  # (S,) most the central bank buys in this round


@dataclass(frozen=True)
class ScenarioArrays:
    """Scenario settings stacked on the scenario axis."""

    price_shock: np.ndarray  # (S, T, K) return applied to fundamentals in round t
    volatility_shock: np.ndarray  # (S, T, K) multiplier of sigma in round t
    default_shock: np.ndarray  # (S, T, N) bool
    redemption_shock: np.ndarray  # (S, T, N) share of NAV redeemed in round t
    repo_rate_shock: np.ndarray  # (S, T, K) market repo rate from round t on (annual), NaN = unchanged
    client_sale_shock: np.ndarray  # (S, T, K) value sold to dealers by outside clients in round t
    capital_shock: np.ndarray  # (S, T, N) capital added in cash in round t (negative: a loss)
    switches: np.ndarray  # (S, C) bool, order of CHANNELS
    slr_exemption: np.ndarray  # (S,) bool
    haircut_floor: np.ndarray  # (S,) bool
    swing_pricing: np.ndarray  # (S,) bool, every fund swing-prices
    slr_buffer_release: np.ndarray  # (S,)
    all_to_all: np.ndarray  # (S,)
    purchase_eligible: np.ndarray  # (S, K) bool
    purchase_daily_cap: np.ndarray  # (S,)
    purchase_total: np.ndarray  # (S,)
    purchase_floor: np.ndarray  # (S,) NaN = buy the round's net sales
    facility_eligible: np.ndarray  # (S, K) bool
    facility_haircut: np.ndarray  # (S,)
    facility_min_rate: np.ndarray  # (S,) annual, inf without a facility
    execution_alpha: np.ndarray  # (S,)
    mean_reversion: np.ndarray  # (S,)
    ewma_lambda: np.ndarray  # (S,)
    volatility_anchor: np.ndarray  # (S,) γ
    volatility_cap: np.ndarray  # (S,) c, inf = none
    max_discount: np.ndarray  # (S, K) outside demand's largest discount, inf = none
    capital_arrival: np.ndarray  # (S, K) share of pressure outside capital absorbs a round
    capital_delay: np.ndarray  # (K,) int, rounds before outside capital starts to arrive
    resilience: np.ndarray  # (S,) decay of transient impact a round
    balance_sheet_cost: np.ndarray  # (S,) κ
    information: np.ndarray  # (S,) bool, the information channel's switch
    intermediation: np.ndarray  # (S,) bool
    pressure_in_units: np.ndarray  # (S,) bool
    final_settlement: np.ndarray  # (S,) bool
    next_round_clearing: np.ndarray  # (S,) bool, the last round's orders are left unexecuted
    hold_proceeds: np.ndarray  # (S,) bool, solvent sellers keep proceeds as cash for a round
    layoff_share: np.ndarray  # (S,) ω0
    dealer_lean: np.ndarray  # (S,)
    absorption_impact: np.ndarray  # (S,)
    info_elasticity: np.ndarray  # (S,)
    info_cap: np.ndarray  # (S,)
    info_rfq_spread: np.ndarray  # (S,)
    info_rfq_depth: np.ndarray  # (S,)
    info_depth_elasticity: np.ndarray  # (S,)
    info_fear_freeze: np.ndarray  # (S,)
    info_depth_floor: np.ndarray  # (S,)
    info_spread_cap: np.ndarray  # (S,)
    tolerance: np.ndarray  # (S,)
    price_tolerance: np.ndarray  # (S,) relative
    max_rounds: np.ndarray  # (S,) int
    last_shock_round: np.ndarray  # (S,) int, -1 without shocks (or policy events: a lever starting or ending)
    lever_start: np.ndarray  # (S, L) int, first round of each policy lever (order of POLICY_LEVERS)
    lever_end: np.ndarray  # (S, L) int, first round it no longer acts (a large number: never)
    announced: np.ndarray  # (S,) int, round the purchases are announced (a large number: never)
    announcement_discount: np.ndarray  # (S,) outside buyers' largest discount once announced, inf = unchanged
    announcement_repricing: np.ndarray  # (S,) return of eligible fundamentals in the announcement round
    purchase_cap_by_round: np.ndarray  # (S, T) cap of round t (NaN: daily_cap)

    @classmethod
    def from_scenarios(cls, system: System, scenarios: Sequence[Scenario]) -> ScenarioArrays:
        """Stack scenarios; shock targets are checked against the system's names."""
        n_s, n, k = len(scenarios), system.n_institutions, system.n_assets
        horizon = 1 + max((sh.round for sc in scenarios for sh in sc.shocks), default=0)
        price = np.zeros((n_s, horizon, k))
        vol = np.ones((n_s, horizon, k))
        default = np.zeros((n_s, horizon, n), dtype=bool)
        redemption = np.zeros((n_s, horizon, n))
        repo_rate = np.full((n_s, horizon, k), np.nan)
        client = np.zeros((n_s, horizon, k))
        capital = np.zeros((n_s, horizon, n))
        asset_index = _lookup(lambda: system.asset_names, system.asset_index)
        institution_index = _lookup(lambda: system.institution_names, system.institution_index)
        for s, sc in enumerate(scenarios):
            for sh in sc.shocks:
                if sh.asset is not None:
                    j = asset_index(sh.asset)
                    if sh.price is not None:
                        price[s, sh.round, j] = (1 + price[s, sh.round, j]) * (1 + sh.price) - 1
                    if sh.volatility is not None:
                        vol[s, sh.round, j] *= sh.volatility
                    if sh.repo_rate is not None:
                        repo_rate[s, sh.round, j] = sh.repo_rate
                    if sh.client_sale is not None:
                        client[s, sh.round, j] += sh.client_sale
                else:
                    i = institution_index(sh.institution)
                    default[s, sh.round, i] |= sh.default
                    if sh.redemption is not None:
                        redemption[s, sh.round, i] += sh.redemption
                    if sh.capital is not None:
                        capital[s, sh.round, i] += sh.capital
        # outside capital that starts to arrive late is an event the run must reach
        arrival_starts = max((a.capital_delay + 1 for a in system.assets if a.capital_delay), default=-1)
        return cls(
            price_shock=price,
            volatility_shock=vol,
            default_shock=default,
            redemption_shock=redemption,
            repo_rate_shock=repo_rate,
            client_sale_shock=client,
            capital_shock=capital,
            switches=np.array([[getattr(sc.channels, c) for c in CHANNELS] for sc in scenarios], dtype=bool).reshape(n_s, len(CHANNELS)),
            slr_exemption=np.array([sc.policy.slr_exemption for sc in scenarios], dtype=bool),
            haircut_floor=np.array([sc.policy.haircut_floor for sc in scenarios], dtype=bool),
            swing_pricing=np.array([sc.policy.swing_pricing for sc in scenarios], dtype=bool),
            slr_buffer_release=np.array([sc.policy.slr_buffer_release for sc in scenarios], dtype=float),
            all_to_all=np.array([sc.policy.all_to_all for sc in scenarios], dtype=float),
            purchase_eligible=_eligible(system, [sc.policy.purchases for sc in scenarios]),
            purchase_daily_cap=np.array([np.inf if sc.policy.purchases is None else sc.policy.purchases.daily_cap
                                         for sc in scenarios], dtype=float),
            purchase_total=np.array([np.inf if sc.policy.purchases is None else sc.policy.purchases.total
                                     for sc in scenarios], dtype=float),
            purchase_floor=np.array([np.nan if sc.policy.purchases is None or sc.policy.purchases.price_floor is None
                                     else sc.policy.purchases.price_floor for sc in scenarios], dtype=float),
            facility_eligible=_eligible(system, [sc.policy.repo_facility for sc in scenarios]),
            facility_haircut=np.array([1.0 if sc.policy.repo_facility is None else sc.policy.repo_facility.haircut
                                       for sc in scenarios], dtype=float),
            facility_min_rate=np.array([np.inf if sc.policy.repo_facility is None else sc.policy.repo_facility.min_rate
                                        for sc in scenarios], dtype=float),
            execution_alpha=np.array([sc.market.execution_alpha for sc in scenarios], dtype=float),
            mean_reversion=np.array([sc.market.mean_reversion for sc in scenarios], dtype=float),
            ewma_lambda=np.array([sc.volatility.ewma_lambda for sc in scenarios], dtype=float),
            volatility_anchor=np.array([sc.volatility.anchor for sc in scenarios], dtype=float),
            volatility_cap=np.array([sc.volatility.cap for sc in scenarios], dtype=float),
            max_discount=_per_outside_demand(system, scenarios, "discount_bound"),
            capital_arrival=_per_outside_demand(system, scenarios, "arrival_rate"),
            capital_delay=np.broadcast_to(np.array([a.capital_delay for a in system.assets], dtype=np.int64),
                                          (n_s, k)).copy(),
            resilience=np.array([sc.market.resilience for sc in scenarios], dtype=float),
            balance_sheet_cost=np.array([sc.market.balance_sheet_cost for sc in scenarios], dtype=float),
            information=np.array([sc.channels.information for sc in scenarios], dtype=bool),
            intermediation=np.array([sc.market.intermediation for sc in scenarios], dtype=bool),
            pressure_in_units=np.array([sc.market.pressure_in_units for sc in scenarios], dtype=bool),
            final_settlement=np.array([sc.market.settlement == "final" for sc in scenarios], dtype=bool),
            next_round_clearing=np.array([sc.market.clearing == "next_round" for sc in scenarios], dtype=bool),
            hold_proceeds=np.array([sc.market.proceeds == "hold" for sc in scenarios], dtype=bool),
            layoff_share=np.array([sc.market.layoff_share for sc in scenarios], dtype=float),
            dealer_lean=np.array([sc.market.dealer_lean for sc in scenarios], dtype=float),
            absorption_impact=np.array([sc.market.absorption_impact for sc in scenarios], dtype=float),
            info_elasticity=np.array([sc.information.adverse_selection_elasticity for sc in scenarios], dtype=float),
            info_cap=np.array([sc.information.quote_spread_cap for sc in scenarios], dtype=float),
            info_rfq_spread=np.array([sc.information.rfq_spread_multiplier for sc in scenarios], dtype=float),
            info_rfq_depth=np.array([sc.information.rfq_depth for sc in scenarios], dtype=float),
            info_depth_elasticity=np.array([sc.information.depth_volatility_elasticity for sc in scenarios],
                                           dtype=float),
            info_fear_freeze=np.array([sc.information.fear_freeze for sc in scenarios], dtype=float),
            info_depth_floor=np.array([sc.information.depth_floor for sc in scenarios], dtype=float),
            info_spread_cap=np.array([sc.information.spread_cap for sc in scenarios], dtype=float),
            tolerance=np.array([sc.tolerance for sc in scenarios], dtype=float),
            price_tolerance=np.array([sc.price_tolerance for sc in scenarios], dtype=float),
            max_rounds=np.array([sc.max_rounds for sc in scenarios], dtype=np.int64),
            last_shock_round=np.array([max([sh.round for sh in sc.shocks] + [r for r in sc.policy.events() if r < sc.max_rounds]
                                           + [min(arrival_starts, sc.max_rounds - 1)], default=-1)
                                       for sc in scenarios], dtype=np.int64),
            lever_start=np.array([[getattr(sc.policy.timing, lever).start for lever in POLICY_LEVERS]
                                  for sc in scenarios], dtype=np.int64).reshape(n_s, len(POLICY_LEVERS)),
            lever_end=np.array([[_NEVER if getattr(sc.policy.timing, lever).end is None
                                 else getattr(sc.policy.timing, lever).end for lever in POLICY_LEVERS]
                                for sc in scenarios], dtype=np.int64).reshape(n_s, len(POLICY_LEVERS)),
            announced=np.array([_NEVER if sc.policy.purchases is None
                                else (sc.policy.timing.purchases.start if sc.policy.purchases.announced is None
                                      else sc.policy.purchases.announced) for sc in scenarios], dtype=np.int64),
            announcement_repricing=np.array([0.0 if sc.policy.purchases is None
                                             else sc.policy.purchases.announcement_repricing for sc in scenarios]),
            purchase_cap_by_round=_cap_schedule(scenarios),
            announcement_discount=np.array([np.inf if sc.policy.purchases is None
                                            or sc.policy.purchases.announcement_discount is None
                                            else sc.policy.purchases.announcement_discount for sc in scenarios],
                                           dtype=float),
        )

    def take(self, scenarios: np.ndarray) -> ScenarioArrays:
        """The settings of some scenarios (indices into the scenario axis)."""
        return ScenarioArrays(**{f.name: getattr(self, f.name)[scenarios] for f in fields(self)})

    def at(self, name: str, round_index: int) -> np.ndarray | None:
        """The shock array of a round, or None when no shock of that kind is set then."""
        arr = getattr(self, name)
        return arr[:, round_index] if round_index < arr.shape[1] else None

    def levers_at(self, t: int) -> Levers:
        """The policy levers in force in round ``t`` (each outside its window is off)."""
        on = (self.lever_start <= t) & (t < self.lever_end)  # (S, L)

        def acts(lever: str) -> np.ndarray:
            return on[:, POLICY_LEVERS.index(lever)]

        purchase_eligible = self.purchase_eligible & acts("purchases")[:, None]
        # from the announcement to the programme's end, outside buyers need at most the
        # announced discount on eligible assets
        backstop = (self.announced <= t) & (t < self.lever_end[:, POLICY_LEVERS.index("purchases")])
        max_discount = np.where(self.purchase_eligible & backstop[:, None],
                                np.minimum(self.max_discount, self.announcement_discount[:, None]), self.max_discount)
        return Levers(
            slr_exemption=self.slr_exemption & acts("slr_exemption"),
            haircut_floor=self.haircut_floor & acts("haircut_floor"),
            swing_pricing=self.swing_pricing & acts("swing_pricing"),
            slr_buffer_release=np.where(acts("slr_buffer_release"), self.slr_buffer_release, 0.0),
            all_to_all=np.where(acts("all_to_all"), self.all_to_all, 0.0),
            purchase_eligible=purchase_eligible,
            facility_eligible=self.facility_eligible & acts("repo_facility")[:, None],
            max_discount=max_discount,
            repricing=np.where(self.purchase_eligible & (self.announced == t)[:, None],
                               self.announcement_repricing[:, None], 0.0),
            purchase_daily_cap=self.purchase_daily_cap if t >= self.purchase_cap_by_round.shape[1] else np.where(
                np.isnan(self.purchase_cap_by_round[:, t]), self.purchase_daily_cap, self.purchase_cap_by_round[:, t]),
        )

    def switch(self, channel: str) -> np.ndarray:
        """Whether a channel acts, shape (S, 1)."""
        return self.switches[:, CHANNELS.index(channel), None]


@dataclass(frozen=True)
class State:
    """Per-round state of every scenario. Prices start at 1 (``p0``)."""

    q: np.ndarray  # (S, E) quantity held, per entry of the holdings pattern
    q_trading: np.ndarray  # (S, E) part of q in the trading book (VaR applies to it), ≤ q
    repo: np.ndarray  # (S, E) repo borrowing secured on each position
    cash: np.ndarray  # (S, N)
    debt: np.ndarray  # (S, N) other liabilities (includes the short-term debt)
    short_term: np.ndarray  # (S, N) unsecured short-term part of debt that can run
    shares: np.ndarray  # (S, N) fund shares outstanding
    last_nav: np.ndarray  # (S, N) NAV per share at the last marking (what investors compare with)
    capital_out: np.ndarray  # (S, N) capital paid out to redeeming investors, cumulative
    flow_redeemed: np.ndarray  # (S, N) share of NAV redeemed by flow-performance so far (against the cap)
    rounds_below: np.ndarray  # (S, N) int, rounds in a row its equity / assets has been below its leverage trigger
    lending: np.ndarray  # (S, N) tri-party repo lending (an asset at par)
    margin_posted: np.ndarray  # (S, N) initial margin posted on derivatives (an asset)
    derivative_open: np.ndarray  # (S, M) share of each derivative's t0 notional still open
    vm_owed: np.ndarray  # (S, N) variation margin owed (in debt), called in the next round
    equity: np.ndarray  # (S, N) carried by profit and loss, checked against assets − liabilities
    price: np.ndarray  # (S, K) market price at the end of the round
    mark: np.ndarray  # (S, K) price books are valued at, p (1 - opacity u)
    spread: np.ndarray  # (S, K) effective bid-ask spread sellers face in the next round
    quoting_share: np.ndarray  # (S, K) market share of dealers streaming quotes
    uncertainty: np.ndarray  # (S, K) u, marks of the next round use it
    depth_scale: np.ndarray  # (S, K) multiplier of market depth in the next round
    layoff: np.ndarray  # (S,) inter-dealer layoff share ω
    calm_cost: np.ndarray  # (S, D) dealers' balance-sheet cost at t0 (set in round 0)
    pending: np.ndarray  # (S, E) units sold that settle at the final price (settlement = "final")
    fundamental: np.ndarray  # (S, K)
    pressure: np.ndarray  # (S, K) cumulative net value sold at calm depth, decays with mean reversion
    transient: np.ndarray  # (S, K) what thin depth added to it, decays with resilience too
    sigma: np.ndarray  # (S, K) volatility (EWMA anchored to sigma_fundamental)
    sigma_fundamental: np.ndarray  # (S, K) fundamental volatility path (sigma0 moved by volatility shocks)
    haircut: np.ndarray  # (S, K) repo haircut in force
    repo_rate: np.ndarray  # (S, K) market repo rate on each collateral (annual)
    defaulted: np.ndarray  # (S, N) bool
    outside_q: np.ndarray  # (S, K) held by outside buyers (what institutions sold)
    outside_cash: np.ndarray  # (S,) net cash of outside buyers and creditors
    purchased: np.ndarray  # (S,) value the central bank has bought so far
    active: np.ndarray  # (S,) bool, False once the scenario has stopped

    def take(self, scenarios: np.ndarray) -> State:
        """The state of some scenarios (indices into the scenario axis)."""
        return State(**{f.name: getattr(self, f.name)[scenarios] for f in fields(self)})

    def blank(self, n_scen: int) -> State:
        """A state of ``n_scen`` scenarios shaped like this one, not initialised: for
        :meth:`set_rows` to fill."""
        return State(**{f.name: np.empty((n_scen,) + getattr(self, f.name).shape[1:],
                                         dtype=getattr(self, f.name).dtype) for f in fields(self)})

    def set_rows(self, scenarios: np.ndarray | slice, part: State, rows: np.ndarray | slice = slice(None)) -> None:
        """Write the ``rows`` of ``part`` into these ``scenarios``, in place."""
        for f in fields(self):
            getattr(self, f.name)[scenarios] = getattr(part, f.name)[rows]


def _rows(values: np.ndarray, n_scen: int) -> np.ndarray:
    """``values`` repeated on a new leading scenario axis, a new C-contiguous array."""
    out = np.empty((n_scen,) + values.shape, dtype=values.dtype)
    out[...] = values
    return out


def initial_state(inputs: Inputs, scen: ScenarioArrays) -> State:
    """The t0 state broadcast over scenarios: a calm market, every dealer quoting at the
    t0 Glosten-Milgrom spread (none with the information channel off)."""
    s = scen.tolerance.size
    n, k = inputs.n_institutions, inputs.n_assets
    held, trading = inputs.held, inputs.trading_held
    assets, repo, margin = inputs.t0_sums
    return State(
        q=_rows(held, s),
        q_trading=_rows(trading, s),
        repo=_rows(inputs.repo, s),
        # t0 initial margin is posted out of the cash the system declares
        cash=_rows(inputs.cash - margin, s),
        margin_posted=_rows(margin, s),
        derivative_open=np.ones((s, inputs.derivative.size)),
        vm_owed=np.zeros((s, n)),
        debt=_rows(inputs.debt, s),
        short_term=_rows(inputs.short_term_debt, s),
        shares=_rows(inputs.shares, s),
        last_nav=_rows(np.divide(assets - inputs.debt - repo, inputs.shares), s),
        capital_out=np.zeros((s, n)),
        flow_redeemed=np.zeros((s, n)),
        rounds_below=np.zeros((s, n), dtype=np.int64),
        lending=_rows(inputs.repo_lending, s),
        equity=_rows(assets - inputs.debt - repo, s),
        price=_rows(inputs.p0, s),
        mark=_rows(inputs.p0, s),
        spread=np.where(scen.information[:, None], 2.0 * inputs.mu0 * inputs.sigma0, 0.0),
        quoting_share=np.ones((s, k)),
        uncertainty=np.zeros((s, k)),
        depth_scale=np.ones((s, k)),
        layoff=scen.layoff_share.copy(),
        calm_cost=np.zeros((s, inputs.dealers.size)),
        pending=np.zeros((s, held.size)),
        fundamental=_rows(inputs.p0, s),
        pressure=np.zeros((s, k)),
        transient=np.zeros((s, k)),
        sigma=_rows(inputs.sigma0, s),
        sigma_fundamental=_rows(inputs.sigma0, s),
        haircut=_rows(inputs.haircut0, s),
        repo_rate=np.zeros((s, k)),
        defaulted=np.zeros((s, n), dtype=bool),
        outside_q=np.zeros((s, k)),
        outside_cash=np.zeros(s),
        purchased=np.zeros(s),
        active=np.ones(s, dtype=bool),
    )
