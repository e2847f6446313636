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
scenarios, so a scenario gives the same bits in any batch. A kernel runs on the thread
that calls it, and releases the GIL (``nogil``): the run loop runs a large batch's chunks
on threads side by side (:func:`firesale.engine.simulate.simulate_arrays`, one a core
by default, ``NUMBA_NUM_THREADS``), Python threads rather than numba's own threading
layer, whose OpenMP layer is not fork-safe (a process pool started after compiled work
would be killed). Sweeps spread batches over processes and run each on one thread,
where threads inside each would compete for the same cores. Kernels are
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

from firesale.engine.kernels import Kernels
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["CompiledKernels", "compiled_kernels", "load_kernels"]


def compiled_kernels() -> Kernels:
    """The compiled kernel set; a clear error when numba is not installed."""
    if numba is None:
        from firesale.errors import ConfigError, Problem

        raise ConfigError(Problem("FS208", "kernels 'numba'",
                                  "numba is not installed: pip install 'firesale[fast]' (or numba), or use the "
                                  "numpy kernels"))
    return _COMPILED


if numba is not None:
    from firesale.engine.compiled_passes import add_sales as _add_sales, state_violation as _state_violation


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
    from firesale.engine.compiled_intermediation import calm_dealer_cost; phases["calm_dealer_cost"] = calm_dealer_cost
    from firesale.engine.compiled_funding_calls import funding_calls; phases["funding_calls"] = funding_calls
    from firesale.engine.compiled_marking import marking; phases["marking"] = marking
    from firesale.engine.compiled_settlement import settlement; phases["settlement"] = settlement
    from firesale.engine.compiled_information import information; phases["information"] = information
    return phases


class CompiledKernels(Kernels):
    """The phases compiled whole (:attr:`~firesale.engine.kernels.Kernels.phases`), the
    round as one compiled call of them (:attr:`~firesale.engine.kernels.Kernels.whole_round`),
    and compiled the passes the run loop makes between rounds (:meth:`add_sales`,
    :meth:`state_violation`). The phases call the passes over positions inside compiled
    code (:mod:`firesale.engine.compiled_passes`), so the numpy phases' kernel methods are
    not compiled here: no numpy phase runs with this set."""

    name = "numba"
    #: A chunk's share of the batch is sized by all of a round's arrays, not by its
    #: positions alone: the compiled round keeps about ten (scenarios × institutions)
    #: arrays and four (scenarios × assets) arrays for each (scenarios × positions) one,
    #: in its state, its records and its phases' results. A chunk of about this many
    #: elements of that footprint (2 MiB of float64) runs fastest on the measured systems:
    #: on ``inet_eba2018`` (48 banks, 142 positions) 8,192 scenarios took 0.63 s in chunks
    #: of 256 or 512 against 0.77 s in chunks of 1,846 (by positions alone) and 0.83 s in
    #: chunks of 64, whose rounds' fixed cost, about 0.1 ms a call, adds up.
    chunk_elements = 1 << 18

    def chunk_scenarios(self, inputs: Inputs) -> int:
        """Scenarios stepped together by default: as many as keep a chunk's footprint,
        positions + 10 × institutions + 4 × assets a scenario, near :attr:`chunk_elements`."""
        footprint = inputs.n_entries + 10 * inputs.n_institutions + 4 * inputs.n_assets
        return max(1, self.chunk_elements // max(footprint, 1))

    def threads(self) -> int:
        """One thread per core, or ``NUMBA_NUM_THREADS``: the kernels release the GIL.
        Read from numba's configuration, which starts no thread (numba's own threading
        layer, started by ``numba.get_num_threads``, is not fork-safe)."""
        return int(numba.config.NUMBA_NUM_THREADS) if numba is not None else 1

    def __init__(self) -> None:
        self.phases = MappingProxyType(_compiled_phases())
        if numba is not None:
            from firesale.engine.compiled_round import compiled_step
            from firesale.engine.compiled_run import compiled_rounds

            self.whole_round = compiled_step
            self.run_rounds = compiled_rounds

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



_COMPILED = CompiledKernels()


def load_kernels(inputs: Inputs, scen: ScenarioArrays) -> None:
    """Compile the kernels, or load them from numba's on-disk cache, before a run needs
    them: the first two scenarios of ``scen`` run once through each of the two compiled
    paths a batch takes, all of a small chunk's rounds in one call
    (:func:`firesale.engine.compiled_run.compiled_rounds`) and a large chunk's round by
    round (:func:`firesale.engine.compiled_round.compiled_step`). Every system gives the
    kernels the same types, so any system loads all of them.

    The first use on a machine compiles them (one to two minutes), later processes load
    them (under a second). A caller with a progress display says so while this runs; a
    sweep calls it before starting its workers, which then load what it compiled instead
    of each compiling the same kernels."""
    from firesale.engine.simulate import simulate_arrays

    small = scen.take(np.arange(min(2, scen.switches.shape[0])))
    simulate_arrays(inputs, small, detail=False, kernels=compiled_kernels(), threads=1)
    round_at_a_time = CompiledKernels()
    round_at_a_time.run_rounds = None
    simulate_arrays(inputs, small, detail=False, kernels=round_at_a_time, threads=1)
