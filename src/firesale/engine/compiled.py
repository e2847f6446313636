"""The compiled kernel set (numba): the passes of a round over positions (their kernels in
:mod:`firesale.engine.compiled_passes`), every phase compiled (``firesale.engine.
compiled_<phase>``, their shared scalar helpers in :mod:`firesale.engine.compiled_scalars`)
and the round as one compiled call of the phases (:mod:`firesale.engine.compiled_round`).

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
except ImportError:  # pragma: no cover - exercised by the error test with numba hidden
    numba = None

from firesale.channels import CHANNELS
from firesale.engine.kernels import Kernels, RowOrders
from firesale.engine.state import Inputs, State

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
    from firesale.engine.compiled_passes import (
        add_sales as _add_sales, desk_var as _desk_var, order_rows as _order_rows, per_asset as _per_asset,
        position_sums as _position_sums, row_flows as _row_flows, row_records as _row_records,
        settle_rows as _settle_rows, state_violation as _state_violation)


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
    """The kernels of :class:`~firesale.engine.kernels.Kernels`, compiled, the phases
    compiled whole (:attr:`~firesale.engine.kernels.Kernels.phases`), and the round as one
    compiled call of them (:attr:`~firesale.engine.kernels.Kernels.whole_round`)."""

    name = "numba"
    #: A compiled kernel passes over a scenario's rows while they are in cache, so chunks
    #: need not fit in L2; larger ones (2 MiB of float64 per (scenarios × positions)
    #: array) spread the fixed cost of a round's kernel calls over more scenarios
    #: (1,000 × 200 × 64 scenarios: 8 scenarios a chunk instead of 2 run 1.4× as fast).
    chunk_elements = 1 << 18

    def __init__(self) -> None:
        self.phases = MappingProxyType(_compiled_phases())
        if numba is not None:
            from firesale.engine.compiled_round import compiled_step

            self.whole_round = compiled_step

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

    def state_violation(self, state: State, inputs: Inputs, tolerance: float, price_bound: float,
                        equity_bound: float) -> tuple[int, int, int] | None:
        check, s, j = _state_violation(*(np.ascontiguousarray(x) for x in (
            state.price, state.equity, state.spread, state.q, state.cash, state.fundamental)), inputs.p0,
            float(tolerance), float(price_bound), float(equity_bound))
        return None if check < 0 else (check, s, j)

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
