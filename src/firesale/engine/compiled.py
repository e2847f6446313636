"""Compiled kernels (numba) for the passes of a round over positions, and the kernel set
that runs every phase compiled (the phases are in ``firesale.engine.compiled_<phase>``,
their shared scalar helpers in :mod:`firesale.engine.compiled_scalars`).

Each kernel computes what the numpy reference of :class:`firesale.engine.kernels.Kernels`
computes, in one pass instead of one numpy call (and one temporary) per operation:
``tests/engine/test_compiled.py`` runs both round by round on random systems with every
mechanism on and compares every record to 1e-12. Sums are sequential here where numpy
sums pairwise, so the two agree to rounding, not bit for bit.

Each kernel works scenario by scenario (or acting row by row) and never sums across
scenarios, so a scenario gives the same bits in any batch. Kernels run on the calling
thread: firesale spreads a large batch over processes (sweeps, Dask), where threads inside
each would compete for the same cores, and numba's OpenMP threading layer is not
fork-safe (a process pool started after compiled work would be killed). They release the
GIL (``nogil``), so threads of the caller's own can run them side by side. Kernels are
compiled on first use and cached on disk (numba's ``cache=True``; ``NUMBA_CACHE_DIR``
chooses where); no ``fastmath``, so IEEE arithmetic is kept.

numba is an optional dependency (``pip install firesale[fast]``): without it the numpy
kernels run and :func:`compiled_kernels` says how to install it.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

try:
    import numba
    from numba import njit
except ImportError:  # pragma: no cover - exercised by the error test with numba hidden
    numba = None

from firesale.channels import CHANNELS
from firesale.engine.kernels import Kernels, RowOrders
from firesale.engine.state import Inputs

__all__ = ["CompiledKernels", "compiled_kernels"]


def compiled_kernels() -> Kernels:
    """The compiled kernel set; a clear error when numba is not installed."""
    if numba is None:
        from firesale.errors import ConfigError, Problem

        raise ConfigError(Problem("FS208", "kernels 'numba'",
                                  "numba is not installed: pip install 'firesale[fast]' (or numba), or use the "
                                  "numpy kernels"))
    return _COMPILED


if numba is not None:
    from firesale.engine.compiled_scalars import institution_sums

    _jit = njit(cache=True, nogil=True)

    @_jit
    def _position_sums(values, per_asset, weighted, entry_asset, starts, has_holdings):  # pragma: no cover
        out = np.zeros((values.shape[0], has_holdings.size))
        for s in range(values.shape[0]):
            institution_sums(values[s], per_asset[s] if weighted else per_asset[0], weighted, entry_asset, starts,
                             has_holdings, out[s])
        return out

    @_jit
    def _desk_var(q_trading, price, tradable, sigma, desks, row_entries, entry_asset, correlation, z,
                  n_inst):  # pragma: no cover
        n_scen, width = q_trading.shape[0], row_entries.shape[1]
        out = np.full((n_scen, n_inst), np.nan)
        for s in range(n_scen):
            scaled = np.zeros(width)
            for v in range(desks.size):
                n = desks[v]
                for m in range(width):
                    e = row_entries[n, m]
                    if e < 0:
                        scaled[m] = 0.0
                    else:
                        k = entry_asset[e]
                        scaled[m] = q_trading[s, e] * (price[s, k] * tradable[k]) * sigma[s, k]
                variance = 0.0
                for i in range(width):
                    weighted = 0.0
                    for m in range(width):
                        weighted += correlation[v, i, m] * scaled[m]
                    variance += weighted * scaled[i]
                out[s, n] = z[v] * np.sqrt(max(variance, 0.0))
        return out

    @_jit
    def _per_asset(values, assets, valid, row_starts, n_assets):  # pragma: no cover
        n_scen = row_starts.size - 1
        out = np.zeros((n_scen, n_assets))
        for s in range(n_scen):
            for r in range(row_starts[s], row_starts[s + 1]):
                for slot in range(values.shape[1]):
                    if valid[r, slot]:
                        out[s, assets[r, slot]] += values[r, slot]
        return out

    @_jit
    def _allocate(value, book, policy, weights, count, out):  # pragma: no cover
        """:func:`firesale.channels.liquidation.allocate_sales` for one row's ``count`` slots."""
        value = max(value, 0.0)
        if policy == 0:  # pecking order: most liquid first
            running = 0.0
            for i in range(count):
                running += book[i]
                out[i] = min(max(value - (running - book[i]), 0.0), book[i])
        elif policy == 1:  # pro rata
            total = 0.0
            for i in range(count):
                total += book[i]
            share = min(value / total, 1.0) if total > 0 else 0.0
            for i in range(count):
                out[i] = book[i] * share
        else:  # initial weights
            for i in range(count):
                out[i] = min(value * weights[i], book[i])

    @_jit
    def _order_rows(row_entries, entry_asset, tradable_asset, slr_exempt, liquidation, initial_weights, q,
                    q_trading, mark, repo, has_repo, s_of, n_of, exempt_scenario, asks, funding_label, dead, left,
                    tolerance, valid, entries, flat, asset_rows, q_rows, qt_rows, price_rows, repo_rows, sales,
                    binding, units, trading_cut):  # pragma: no cover
        n_rows, width = valid.shape
        n_entries = q.shape[1]
        # one set of scratch arrays for every row: no allocation per row
        scratch = np.zeros((8, width))
        book, counted_book, net, weights, mask = scratch[0], scratch[1], scratch[2], scratch[3], scratch[4]
        slr_sale, lev_sale, funding_sale = scratch[5], scratch[6], scratch[7]
        for r in range(n_rows):
            s, n = s_of[r], n_of[r]
            policy = liquidation[n]
            slr_value, var_share, lev_sell, shortfall, lev_trade = asks[r, 0], asks[r, 1], asks[r, 2], asks[r, 3], \
                asks[r, 4]
            book[:] = 0.0
            counted_book[:] = 0.0
            net[:] = 0.0
            weights[:] = 0.0
            mask[:] = 0.0
            count = 0
            for slot in range(width):
                e = row_entries[n, slot]
                valid[r, slot] = e >= 0
                entry = e if e >= 0 else 0
                k = entry_asset[entry] if e >= 0 else 0
                entries[r, slot] = entry
                flat[r, slot] = s * n_entries + entry
                asset_rows[r, slot] = k
                price_rows[r, slot] = mark[s, k]
                if e < 0:
                    q_rows[r, slot] = qt_rows[r, slot] = repo_rows[r, slot] = 0.0
                    continue
                count += 1
                q_rows[r, slot] = q[s, e]
                qt_rows[r, slot] = q_trading[s, e]
                mask[slot] = 1.0 if tradable_asset[k] else 0.0
                book[slot] = q[s, e] * mark[s, k] * mask[slot]
                counted_book[slot] = 0.0 if (slr_exempt[k] and exempt_scenario[r]) else book[slot]
                weights[slot] = initial_weights[e]
                repo_rows[r, slot] = repo[s, e] if has_repo else 0.0
                net[slot] = max(book[slot] - repo_rows[r, slot], 0.0) * mask[slot]
            slr_sale[:] = 0.0
            lev_sale[:] = 0.0
            funding_sale[:] = 0.0
            _allocate(slr_value, counted_book, policy, weights, count, slr_sale)
            _allocate(lev_sell, book, policy, weights, count, lev_sale)
            if has_repo:
                _allocate(shortfall, net, policy, weights, count, funding_sale)
                for slot in range(count):
                    funding_sale[slot] = funding_sale[slot] * book[slot] / net[slot] if net[slot] > 0 else 0.0
            total = 0.0
            for slot in range(width):
                best = slr_sale[slot]
                label = 0 if best > 0 else -1
                candidate = qt_rows[r, slot] * price_rows[r, slot] * mask[slot] * var_share
                if candidate > best:
                    best, label = candidate, 1
                if lev_sale[slot] > best:
                    best, label = lev_sale[slot], 2
                candidate = book[slot] if dead[r] else 0.0
                if candidate > best:
                    best, label = candidate, 3
                if funding_sale[slot] > best:
                    best, label = funding_sale[slot], funding_label[r]
                sales[r, slot] = best
                binding[r, slot] = label
                total += best
            quiet = total <= tolerance[r]
            buy_share = 0.0
            if quiet:
                book_total = 0.0
                for slot in range(width):
                    sales[r, slot] = 0.0
                    binding[r, slot] = -1
                    book_total += book[slot]
                buy = -lev_trade if lev_trade < -tolerance[r] else 0.0
                buy_share = max(buy, 0.0) / book_total if book_total > 0 else 0.0
            for slot in range(width):
                held = q_rows[r, slot]
                price = price_rows[r, slot]
                if dead[r]:
                    sold = held * mask[slot]
                else:
                    sold = (sales[r, slot] - book[slot] * buy_share) / (price if price > 0 else 1.0)
                sold = min(sold, held)
                if left[r]:
                    sold = 0.0
                units[r, slot] = sold
                share = qt_rows[r, slot] / held if held > 0 else 0.0
                var_units = qt_rows[r, slot] * mask[slot] * (0.0 if dead[r] else var_share)
                if sold > 0:
                    trading_cut[r, slot] = min(max(var_units, sold * share), sold)
                else:
                    trading_cut[r, slot] = sold * share

    @_jit
    def _row_flows(units, price, p0, in_units, asset_rows, valid, entries, client_rows, entry_position, row_starts,
                   n_pos, traded, client_flow, dealer_sales):  # pragma: no cover
        n_scen = row_starts.size - 1
        for s in range(n_scen):
            for r in range(row_starts[s], row_starts[s + 1]):
                for slot in range(units.shape[1]):
                    k = asset_rows[r, slot]
                    value = units[r, slot] * price[s, k]
                    traded[r, slot] = value
                    if not valid[r, slot]:
                        continue
                    flowing = units[r, slot] * p0[k] if in_units[r] else value
                    if client_rows[r]:
                        client_flow[s, k] += flowing
                    position = entry_position[entries[r, slot]]
                    if position >= 0:
                        dealer_sales[s, position] += flowing

    @_jit
    def _row_records(traded, units, binding, n_of, asset_rows, valid, row_starts, sold, bought, by_channel,
                     forced):  # pragma: no cover
        n_scen = row_starts.size - 1
        for s in range(n_scen):
            for r in range(row_starts[s], row_starts[s + 1]):
                n = n_of[r]
                for slot in range(units.shape[1]):
                    value = traded[r, slot]
                    if units[r, slot] > 0:
                        sold[s, n] += value
                        if binding[r, slot] >= 0:
                            by_channel[s, n, binding[r, slot]] += value
                    elif units[r, slot] < 0:
                        bought[s, n] -= value
                    if valid[r, slot]:
                        forced[s, asset_rows[r, slot]] += max(value, 0.0)

    @_jit
    def _add_sales(sales_by_entry, sales, s_of, entries, assets):  # pragma: no cover
        for r in range(sales.shape[0]):
            s = s_of[r]
            for slot in range(sales.shape[1]):
                if assets[r, slot] >= 0:
                    sales_by_entry[s, entries[r, slot]] += sales[r, slot]

    @_jit
    def _settle_rows(new_q, new_q_trading, valid, flat, s_of, asset_rows, q_rows, qt_rows, price_rows, repo_rows,
                     units, trading_cut, bid, ask, proceeds, execution, released):  # pragma: no cover
        n_rows, width = valid.shape
        flat_q = new_q.reshape(-1)
        flat_qt = new_q_trading.reshape(-1)
        for r in range(n_rows):
            received = 0.0
            gained = 0.0
            s = s_of[r]
            for slot in range(width):
                sold = units[r, slot]
                executed = bid[s, asset_rows[r, slot]] if sold > 0 else ask[s, asset_rows[r, slot]]
                received += sold * executed
                gained += sold * (executed - price_rows[r, slot])
                held = q_rows[r, slot]
                released[r, slot] = repo_rows[r, slot] * (max(sold, 0.0) / held if held > 0 else 0.0)
                if valid[r, slot]:
                    flat_q[flat[r, slot]] = held - sold
                    flat_qt[flat[r, slot]] = min(max(qt_rows[r, slot] - trading_cut[r, slot], 0.0), held - sold)
            proceeds[r] = received
            execution[r] = gained


def _row_starts(s_of: np.ndarray, n_scen: int) -> np.ndarray:
    """First acting row of each scenario (rows are in scenario order), and the row count last."""
    return np.searchsorted(s_of, np.arange(n_scen + 1)).astype(np.int64)


def _compiled_phases() -> dict:
    """The phases compiled whole, each in its module ``firesale.engine.compiled_<phase>``."""
    phases: dict = {}
    if numba is None:
        return phases
    # compiled phases: one line each
    from firesale.engine.compiled_round_records import round_records; phases["round_records"] = round_records
    from firesale.engine.compiled_clearing import clearing; phases["clearing"] = clearing
    from firesale.engine.compiled_constraints import constraints; phases["constraints"] = constraints
    from firesale.engine.compiled_shocks import shocks; phases["shocks"] = shocks
    from firesale.engine.compiled_allocation import allocation; phases["allocation"] = allocation
    from firesale.engine.compiled_intermediation import intermediation; phases["intermediation"] = intermediation
    from firesale.engine.compiled_funding_calls import funding_calls; phases["funding_calls"] = funding_calls
    from firesale.engine.compiled_marking import marking; phases["marking"] = marking
    from firesale.engine.compiled_settlement import settlement; phases["settlement"] = settlement
    from firesale.engine.compiled_information import information; phases["information"] = information
    return phases


class CompiledKernels(Kernels):
    """The kernels of :class:`~firesale.engine.kernels.Kernels`, compiled, and the phases
    compiled whole (:attr:`~firesale.engine.kernels.Kernels.phases`)."""

    name = "numba"
    #: A compiled kernel passes over a scenario's rows while they are in cache, so chunks
    #: need not fit in L2; larger ones (2 MiB of float64 per (scenarios × positions)
    #: array) spread the fixed cost of a round's kernel calls over more scenarios
    #: (1,000 × 200 × 64 scenarios: 8 scenarios a chunk instead of 2 run 1.4× as fast).
    chunk_elements = 1 << 18

    def __init__(self) -> None:
        self.phases = MappingProxyType(_compiled_phases())

    def position_sums(self, values: np.ndarray, per_asset: np.ndarray | None, inputs: Inputs) -> np.ndarray:
        weighted = per_asset is not None
        x = np.ascontiguousarray(per_asset, dtype=np.float64) if weighted else np.zeros((1, 1))
        return _position_sums(np.ascontiguousarray(values, dtype=np.float64), x, weighted, inputs.entry_asset,
                              inputs.segment_starts, inputs.has_holdings)

    def desk_var(self, q_trading: np.ndarray, price: np.ndarray, sigma: np.ndarray, inputs: Inputs) -> np.ndarray:
        from scipy.special import ndtri

        desks = inputs.var_desks
        if not desks.size:
            return np.full((q_trading.shape[0], inputs.n_institutions), np.nan)
        return _desk_var(np.ascontiguousarray(q_trading), np.ascontiguousarray(price), inputs.tradable,
                         np.ascontiguousarray(sigma), desks, inputs.row_entries,
                         inputs.entry_asset, inputs.var_correlation, ndtri(inputs.var_confidence[desks]),
                         inputs.n_institutions)

    def per_asset(self, values: np.ndarray, s_of: np.ndarray, assets: np.ndarray, valid: np.ndarray,
                  shape: tuple[int, int]) -> np.ndarray:
        return _per_asset(np.ascontiguousarray(values, dtype=np.float64), np.ascontiguousarray(assets),
                          np.ascontiguousarray(valid), _row_starts(s_of, shape[0]), shape[1])

    def order_rows(self, inputs: Inputs, q: np.ndarray, q_trading: np.ndarray, mark: np.ndarray,
                   repo: np.ndarray | None, s_of: np.ndarray, n_of: np.ndarray, exempt_scenario: np.ndarray,
                   asks: np.ndarray, funding_label: np.ndarray, dead: np.ndarray, left: np.ndarray,
                   tolerance: np.ndarray) -> RowOrders:
        shape = (s_of.size, inputs.row_entries.shape[1])
        out = RowOrders(valid=np.empty(shape, dtype=bool), entries=np.empty(shape, dtype=np.int64),
                        flat=np.empty(shape, dtype=np.int64), asset_rows=np.empty(shape, dtype=np.int64),
                        q_rows=np.empty(shape), qt_rows=np.empty(shape), price_rows=np.empty(shape),
                        repo_rows=np.empty(shape), sales=np.empty(shape), binding=np.empty(shape, dtype=np.int8),
                        units=np.empty(shape), trading_cut=np.empty(shape))
        has_repo = repo is not None
        _order_rows(inputs.row_entries, inputs.entry_asset, inputs.tradable, inputs.slr_exempt,
                    inputs.liquidation, inputs.initial_weights, np.ascontiguousarray(q),
                    np.ascontiguousarray(q_trading), np.ascontiguousarray(mark),
                    np.ascontiguousarray(repo) if has_repo else np.zeros((1, 1)), has_repo, s_of,
                    n_of, np.ascontiguousarray(exempt_scenario), np.ascontiguousarray(asks),
                    funding_label, np.ascontiguousarray(dead), np.ascontiguousarray(left),
                    np.ascontiguousarray(tolerance, dtype=np.float64), *out)
        return out

    def row_flows(self, inputs: Inputs, units: np.ndarray, price: np.ndarray, in_units: np.ndarray,
                  s_of: np.ndarray, n_of: np.ndarray, asset_rows: np.ndarray, valid: np.ndarray,
                  entries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_scen = price.shape[0]
        n_pos = inputs.dealer_positions.dealer.size
        traded = np.empty_like(units)
        client_flow, dealer_sales = np.zeros(price.shape), np.zeros((n_scen, n_pos))
        _row_flows(units, np.ascontiguousarray(price), inputs.p0, np.ascontiguousarray(in_units), asset_rows, valid,
                   entries, inputs.dealer_index[n_of] < 0, inputs.entry_position,
                   _row_starts(s_of, n_scen), n_pos, traded, client_flow, dealer_sales)
        return traded, client_flow, dealer_sales

    def row_records(self, traded: np.ndarray, units: np.ndarray, binding: np.ndarray, s_of: np.ndarray,
                    n_of: np.ndarray, asset_rows: np.ndarray, valid: np.ndarray, n_scen: int, n_inst: int,
                    n_assets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        sold, bought = np.zeros((n_scen, n_inst)), np.zeros((n_scen, n_inst))
        by_channel, forced = np.zeros((n_scen, n_inst, len(CHANNELS))), np.zeros((n_scen, n_assets))
        _row_records(np.ascontiguousarray(traded), np.ascontiguousarray(units), np.ascontiguousarray(binding), n_of,
                     asset_rows, valid, _row_starts(s_of, n_scen), sold, bought, by_channel, forced)
        return sold, bought, by_channel, forced

    def add_sales(self, sales_by_entry: np.ndarray, sales: np.ndarray, s_of: np.ndarray, entries: np.ndarray,
                  assets: np.ndarray) -> None:
        _add_sales(sales_by_entry, np.ascontiguousarray(sales, dtype=np.float64), np.ascontiguousarray(s_of),
                   np.ascontiguousarray(entries, dtype=np.int64), np.ascontiguousarray(assets, dtype=np.int64))

    def settle_rows(self, q: np.ndarray, q_trading: np.ndarray, valid: np.ndarray, flat: np.ndarray,
                    s_of: np.ndarray, asset_rows: np.ndarray, q_rows: np.ndarray, qt_rows: np.ndarray,
                    price_rows: np.ndarray, repo_rows: np.ndarray, units: np.ndarray, trading_cut: np.ndarray,
                    bid: np.ndarray, ask: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        new_q, new_q_trading = np.array(q, order="C"), np.array(q_trading, order="C")
        proceeds, execution = np.empty(units.shape[0]), np.empty(units.shape[0])
        released = np.empty_like(units)
        arrays = [np.ascontiguousarray(x) for x in (valid, flat, s_of, asset_rows, q_rows, qt_rows, price_rows,
                                                     repo_rows, units, trading_cut, bid, ask)]
        _settle_rows(new_q, new_q_trading, *arrays, proceeds, execution, released)
        return new_q, new_q_trading, proceeds, execution, released


_COMPILED = CompiledKernels()
