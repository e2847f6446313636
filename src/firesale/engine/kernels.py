"""The work of a round over positions, behind one small interface with two
implementations: this module's numpy reference, readable and the oracle, and the compiled
kernels of :mod:`firesale.engine.compiled` (numba), which tests compare with it.

A round's numpy phases (:mod:`firesale.engine.round`) call these for every pass over the
holdings pattern (``(S, E)`` arrays, one column per position held at t0) or over the
acting rows' positions (``(R, L)`` blocks). A kernel set may also run whole phases
(:attr:`Kernels.phases`) or the whole round (:attr:`Kernels.whole_round`): the compiled
set runs every phase as a numba kernel (``firesale.engine.compiled_<phase>``), which makes
the passes where its numpy phase does, compiled (:mod:`firesale.engine.compiled_passes`),
and the round as one compiled call of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from firesale.channels import CHANNELS
from firesale.channels.balance_sheet import value_at_risk
from firesale.channels.liquidation import allocate_sales, pro_rata_buys
from firesale.engine.state import Inputs, State

__all__ = ["Kernels", "RowOrders", "NUMPY", "kernels_named", "KERNEL_NAMES"]

#: Names of the kernel sets a run can ask for.
KERNEL_NAMES = ("numpy", "numba")


class RowOrders(NamedTuple):
    """The acting rows' positions and orders, ``(R, L)`` blocks, padding where ``valid`` is
    False (see :mod:`firesale.engine.allocation`)."""

    valid: np.ndarray  # bool
    entries: np.ndarray  # entry (position of the holdings pattern) of each slot, 0 on padding
    flat: np.ndarray  # flat index s * E + entry into (S, E) arrays (s * E on padding)
    asset_rows: np.ndarray  # asset of each slot, 0 on padding
    q_rows: np.ndarray  # holdings, 0 on padding
    qt_rows: np.ndarray  # trading-book holdings, 0 on padding
    price_rows: np.ndarray  # marks the books are valued at
    repo_rows: np.ndarray  # repo each position still secures
    sales: np.ndarray  # value sold, the largest channel's ask
    binding: np.ndarray  # int8 index into CHANNELS of that channel, -1 none
    units: np.ndarray  # units sold (negative: bought)
    trading_cut: np.ndarray  # units the trading book gives up


class Kernels:
    """The numpy reference kernels.

    ``phases`` maps a phase of :mod:`firesale.engine.round` (``"marking"``,
    ``"funding_calls"``, ``"intermediation"``, ``"settlement"``, ``"information"``) to a
    function with the phase's own signature that runs it whole; a phase not in it runs
    the numpy phase, which calls these kernels for its passes over positions. The numpy
    reference compiles none.
    """

    name = "numpy"
    phases: Mapping[str, Callable] = MappingProxyType({})
    #: A function with :func:`firesale.engine.round.step`'s signature, less ``kernels``,
    #: that runs the whole round in one call (the compiled set's
    #: :func:`firesale.engine.compiled_round.compiled_step`); None: ``step`` runs the phases.
    whole_round: Callable | None = None
    #: A function that runs several rounds in one call while every scenario goes on (the
    #: compiled set's :func:`firesale.engine.compiled_run.compiled_rounds`); None: the
    #: loop steps a round at a time.
    run_rounds: Callable | None = None
    #: Scenarios run together are chunked so that a (scenarios × positions) array stays
    #: about this many elements: 512 KiB of float64, within a core's L2 cache, so that
    #: the numpy calls of a round work in cache instead of streaming every array through
    #: memory.
    chunk_elements: int = 1 << 16

    def chunk_scenarios(self, inputs: Inputs) -> int:
        """Scenarios stepped together by default: as many as keep a (scenarios ×
        positions) array near :attr:`chunk_elements`."""
        return max(1, self.chunk_elements // max(inputs.n_entries, 1))

    def threads(self) -> int:
        """Threads a batch's chunks run on by default: one, the calling thread (numpy
        holds the GIL through most of a round's small calls)."""
        return 1

    def position_sums(self, values: np.ndarray, per_asset: np.ndarray | None, inputs: Inputs) -> np.ndarray:
        """:math:`\\sum_{e \\in i} v_{se}\\, x_{s,k(e)}` over each institution's positions,
        (S, E) values and (S, K) ``per_asset`` → (S, N); ``per_asset`` None: :math:`\\sum v_{se}`."""
        if per_asset is None:
            return inputs.per_institution(values)
        return inputs.per_institution(values * np.take(per_asset, inputs.entry_asset, axis=1))

    def desk_var(self, q_trading: np.ndarray, price: np.ndarray, sigma: np.ndarray, inputs: Inputs) -> np.ndarray:
        """VaR of the institutions with a limit (NaN for the others), shape (S, N),
        :func:`firesale.channels.balance_sheet.value_at_risk` over each desk's own
        positions with the matching block of the correlation matrix."""
        out = np.full((q_trading.shape[0], inputs.has_holdings.size), np.nan)
        desks = inputs.var_desks
        if desks.size:
            slots = inputs.row_entries[desks]
            valid = slots >= 0
            entries = np.where(valid, slots, 0)
            assets = inputs.entry_asset[entries]
            held = np.take(q_trading, entries, axis=1) * valid  # (S, V, L)
            book = held * np.take(price * inputs.tradable, assets, axis=1)
            out[:, desks] = value_at_risk(book, np.take(sigma, assets, axis=1), inputs.var_correlation,
                                          inputs.var_confidence[desks])
        return out

    def per_asset(self, values: np.ndarray, s_of: np.ndarray, assets: np.ndarray, valid: np.ndarray,
                  shape: tuple[int, int]) -> np.ndarray:
        """Sum row-slot values (R, L) into (S, K) by scenario and asset, in row order."""
        bins = (s_of[:, None] * shape[1] + assets)[valid]
        return np.bincount(bins, weights=values[valid], minlength=shape[0] * shape[1]).reshape(shape)

    def order_rows(self, inputs: Inputs, q: np.ndarray, q_trading: np.ndarray, mark: np.ndarray,
                   repo: np.ndarray | None, s_of: np.ndarray, n_of: np.ndarray, exempt_scenario: np.ndarray,
                   asks: np.ndarray, funding_label: np.ndarray, dead: np.ndarray, left: np.ndarray,
                   tolerance: np.ndarray) -> RowOrders:
        """Each acting row's channel asks allocated to its positions, the largest ask per
        position, and the units that sells (docs/model.md, the round, step 3).

        ``asks`` (R, 5): the SLR value, the VaR fraction of the trading book, the leverage
        value to sell, the funding shortfall (cash net of repo) and the leverage trade
        (negative: to buy); ``dead`` (R,) sells everything tradable; ``left`` (R,) orders left
        unexecuted; ``repo`` (S, E) the repo still secured, None without funding.

        Each value is allocated by the row's liquidation policy
        (:func:`firesale.channels.liquidation.allocate_sales`): the SLR's over the
        positions it counts, leverage's over the tradable book, a funding sale over the
        cash each position releases net of its repo, V − B. A row whose sales are within
        the tolerance sells nothing, and a two-sided leverage targeter then buys pro
        rata (nothing where its tradable book is within the tolerance). The trading book
        gives up what VaR asked of it, and at least its pro-rata share of any larger sale;
        purchases join the books in proportion.
        """
        n_entries = q.shape[1]
        slots = inputs.row_entries[n_of]
        valid = slots >= 0
        entries = np.where(valid, slots, 0)
        flat = s_of[:, None] * n_entries + entries
        asset_rows = np.where(valid, inputs.entry_asset[entries], 0)
        q_rows = np.where(valid, q.reshape(-1)[flat], 0.0)
        qt_rows = np.where(valid, q_trading.reshape(-1)[flat], 0.0)
        price_rows = np.take(mark.reshape(-1), s_of[:, None] * mark.shape[1] + asset_rows)
        tradable_mask = inputs.tradable[asset_rows] & valid
        tradable = q_rows * price_rows * tradable_mask
        counted = ~(inputs.slr_exempt[asset_rows] & exempt_scenario[:, None])
        policy = inputs.liquidation[n_of]
        weights = np.where(valid, inputs.initial_weights[entries], 0.0)
        slr_value, var_rows, lev_sell, shortfall, lev_rows = (asks[:, j] for j in range(5))
        if repo is not None:
            repo_rows = np.where(valid, repo.reshape(-1)[flat], 0.0)
            net = np.maximum(tradable - repo_rows, 0.0) * tradable_mask
            net_sold = allocate_sales(shortfall, net, policy, None, weights)
            funding_sale = np.divide(net_sold * tradable, net, out=np.zeros_like(net), where=net > 0)
        else:
            repo_rows = funding_sale = np.zeros_like(q_rows)
        candidates = (
            (allocate_sales(slr_value, tradable * counted, policy, None, weights), 0),
            (qt_rows * price_rows * tradable_mask * var_rows[:, None], 1),
            (allocate_sales(lev_sell, tradable, policy, None, weights), 2),
            (np.where(dead[:, None], tradable, 0.0), 3),
            (funding_sale, funding_label[:, None]),
        )
        sales = candidates[0][0]
        binding = np.where(sales > 0, 0, -1).astype(np.int8)
        for candidate, label in candidates[1:]:
            larger = candidate > sales
            sales = np.where(larger, candidate, sales)
            binding = np.where(larger, label, binding).astype(np.int8)
        quiet_seller = sales.sum(axis=-1) <= tolerance
        sales = np.where(quiet_seller[:, None], 0.0, sales)
        binding = np.where(quiet_seller[:, None], -1, binding).astype(np.int8)
        buys = pro_rata_buys(np.where(quiet_seller & (lev_rows < -tolerance), -lev_rows, 0.0), tradable, tolerance)
        safe_price = np.where(price_rows > 0, price_rows, 1.0)
        units = np.where(dead[:, None], q_rows * tradable_mask, (sales - buys) / safe_price)
        units = np.minimum(units, q_rows)
        units = np.where(left[:, None], 0.0, units)
        book_share = np.divide(qt_rows, q_rows, out=np.zeros_like(q_rows), where=q_rows > 0)
        var_units = qt_rows * tradable_mask * np.where(dead, 0.0, var_rows)[:, None]
        trading_cut = np.where(units > 0, np.minimum(np.maximum(var_units, units * book_share), units),
                               units * book_share)
        return RowOrders(valid, entries, flat, asset_rows, q_rows, qt_rows, price_rows, repo_rows, sales, binding, units,
                         trading_cut)

    def row_flows(self, inputs: Inputs, units: np.ndarray, price: np.ndarray, in_units: np.ndarray,
                  s_of: np.ndarray, n_of: np.ndarray, asset_rows: np.ndarray, valid: np.ndarray,
                  entries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The flow the acting rows' orders (R, L) make: the value traded at the pre-trade
        ``price`` (R, L), and what moves prices — value at the round's prices, or units at
        t0 prices where the scenario counts pressure in units (``in_units``, (R,)) — from
        clients per asset (S, K) and from dealers per dealer position (S, P)."""
        traded = units * np.take(price.reshape(-1), s_of[:, None] * price.shape[1] + asset_rows)
        flowing = np.where(in_units[:, None], units * inputs.p0[asset_rows], traded)
        by_dealer = inputs.dealer_index[n_of] >= 0
        client_flow = self.per_asset(flowing, s_of, asset_rows, valid & ~by_dealer[:, None], price.shape)
        n_pos = inputs.dealer_positions.dealer.size
        at_position = inputs.entry_position[entries]
        mine = valid & (at_position >= 0)
        dealer_sales = np.bincount((s_of[:, None] * n_pos + at_position)[mine], weights=flowing[mine],
                                   minlength=price.shape[0] * n_pos).reshape(price.shape[0], n_pos)
        return traded, client_flow, dealer_sales

    def row_records(self, traded: np.ndarray, units: np.ndarray, binding: np.ndarray, s_of: np.ndarray,
                    n_of: np.ndarray, asset_rows: np.ndarray, valid: np.ndarray, n_scen: int, n_inst: int,
                    n_assets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The round's records of the acting rows' trades: value sold and bought per
        institution (S, N), sold per binding channel (S, N, C), and forced sales per asset
        (S, K), all at the pre-trade price."""
        sold = np.where(units > 0, traded, 0.0)
        rows = s_of * n_inst + n_of
        sold_by_row = np.zeros(n_scen * n_inst)
        sold_by_row[rows] = sold.sum(axis=-1)
        bought_by_row = np.zeros(n_scen * n_inst)
        bought_by_row[rows] = np.where(units < 0, -traded, 0.0).sum(axis=-1)
        n_channels = len(CHANNELS)
        selling = binding >= 0
        cells = (rows[:, None] * n_channels + binding)[selling]
        by_channel = np.bincount(cells, weights=sold[selling], minlength=n_scen * n_inst * n_channels)
        forced = self.per_asset(np.maximum(traded, 0.0), s_of, asset_rows, valid, (n_scen, n_assets))
        return (sold_by_row.reshape(n_scen, n_inst), bought_by_row.reshape(n_scen, n_inst),
                by_channel.reshape(n_scen, n_inst, n_channels), forced)

    def add_sales(self, sales_by_entry: np.ndarray, sales: np.ndarray, s_of: np.ndarray, entries: np.ndarray,
                  assets: np.ndarray) -> None:
        """Add the acting rows' ``sales`` (R, L) to ``sales_by_entry`` (S, E) in place: each
        slot with an asset (``assets`` >= 0) to its scenario ``s_of`` and position ``entries``
        (a position appears in one slot of a round)."""
        slot = assets >= 0
        sales_by_entry.reshape(-1)[(s_of[:, None] * sales_by_entry.shape[1] + entries)[slot]] += sales[slot]

    def state_violation(self, state: State, inputs: Inputs, tolerance: float, price_bound: float,
                        equity_bound: float) -> tuple[int, int, int] | None:
        """The first check a state fails, as (check, scenario, column), None if it passes
        them all. The checks, in order: 0, a price or an equity not finite (column 0);
        1, a negative price; 2, a spread of 2 or more (a bid at or below zero); 3, a holding
        (column: its entry) and 4, cash, below ``-tolerance``; 5, a price above
        ``price_bound`` times the larger of its fundamental and t0 price; 6, an equity
        beyond ``equity_bound`` either way. Within a check, the first scenario, then column."""
        checks = (
            lambda: ~(np.isfinite(state.price).all(axis=1) & np.isfinite(state.equity).all(axis=1))[:, None],
            lambda: state.price < 0.0,
            lambda: state.spread >= 2.0,
            lambda: state.q < -tolerance,
            lambda: state.cash < -tolerance,
            lambda: state.price > price_bound * np.maximum(state.fundamental, inputs.p0),
            lambda: np.abs(state.equity) > equity_bound,
        )
        for check, flags in enumerate(check() for check in checks):
            if flags.any():
                s, j = (int(x) for x in np.argwhere(flags)[0])
                return check, s, j
        return None

    def settle_rows(self, q: np.ndarray, q_trading: np.ndarray, valid: np.ndarray, flat: np.ndarray,
                    s_of: np.ndarray, asset_rows: np.ndarray, q_rows: np.ndarray, qt_rows: np.ndarray,
                    price_rows: np.ndarray, repo_rows: np.ndarray, units: np.ndarray, trading_cut: np.ndarray,
                    bid: np.ndarray, ask: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        r"""The acting rows' orders (:class:`RowOrders`) settled: sales at the ``bid``,
        purchases at the ``ask`` (S, K).

        Returns the new holdings and trading-book holdings (S, E) (copies: the round's
        state is not modified), and per row the proceeds :math:`\sum u\,p^{ex}`, the
        execution P&L against the marks :math:`\sum u (p^{ex} - m)`, and per slot the repo
        the sale releases, :math:`B \cdot \max(u, 0) / q` (R, L)."""
        at = s_of[:, None] * bid.shape[1] + asset_rows
        executed_rows = np.where(units > 0, np.take(bid.reshape(-1), at), np.take(ask.reshape(-1), at))
        new_q = q.copy()
        new_q.reshape(-1)[flat[valid]] = (q_rows - units)[valid]
        new_q_trading = q_trading.copy()
        new_q_trading.reshape(-1)[flat[valid]] = np.minimum(np.maximum(qt_rows - trading_cut, 0.0),
                                                             q_rows - units)[valid]
        proceeds = (units * executed_rows).sum(axis=-1)
        execution = (units * (executed_rows - price_rows)).sum(axis=-1)
        sold_share = np.divide(np.maximum(units, 0.0), q_rows, out=np.zeros_like(q_rows), where=q_rows > 0)
        return new_q, new_q_trading, proceeds, execution, repo_rows * sold_share


#: The numpy reference kernels.
NUMPY = Kernels()


def kernels_named(name: str) -> Kernels:
    """The kernel set ``name`` (one of :data:`KERNEL_NAMES`)."""
    if name == "numpy":
        return NUMPY
    if name == "numba":
        from firesale.engine.compiled import compiled_kernels

        return compiled_kernels()
    from firesale.errors import ConfigError, Problem

    raise ConfigError(Problem("FS207", f"kernels {name!r}", f"unknown kernels: choose {' or '.join(KERNEL_NAMES)}"))
