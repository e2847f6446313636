"""The loop over rounds and the stop rule (step 7 of the round, docs/model.md).

A scenario stops when nobody trades and no price moves by more than its tolerance (and
no shock is still to come), or at its ``max_rounds``. Stopped scenarios stay frozen while
the rest of the batch runs on, so a scenario gives the same result in a batch as alone.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from firesale.engine.kernels import NUMPY, Kernels, kernels_named
from firesale.engine.records import PositionLevels, Records, SparseRecord, as_run
from firesale.engine.round import LEVEL_RECORDS, record_bytes, step
from firesale.channels.impact import LAW_CODES
from firesale.channels import CHANNELS
from firesale.engine.state import Inputs, ScenarioArrays, State, initial_state
from firesale.errors import ConfigError, ModelDivergenceError, Problem

__all__ = ["Trajectory", "simulate_arrays", "loop_gain_round", "THREAD_CHUNK"]


@dataclass(frozen=True)
class Trajectory:
    """Raw engine output: records stacked on a round axis (axis 1), plus summaries.

    Attributes
    ----------
    records : dict of ndarray, SparseRecord or PositionLevels
        Each of shape (S, R, ...): see :mod:`firesale.engine.round`. Records that are
        mostly empty are kept as the cells set (:mod:`firesale.engine.records`): sales by
        channel, and with ``detail`` the per-position holdings, sales and binding channel;
        ``np.asarray`` (or ``.toarray()``) gives the dense array.
    rounds : ndarray of int, shape (S,)
        Rounds in which something happened (the stop round is not counted).
    initial_equity : ndarray, shape (S, N)
    initial_loss : ndarray, shape (S,)
        Loss of the shocks alone on t0 books: plain mark-to-market revaluation.
    sales_by_entry : ndarray, shape (S, E)
        Value sold over all rounds, per position of the holdings pattern.
    final : State
    inputs : Inputs
    detail : bool
        Whether the per-position records (holdings, trading-book holdings, sales and
        binding channel, (S, R, N, K) when dense) were kept.
    n_rounds : int
        R: rounds stepped by the longest-running scenario.
    kernels : str
        The kernels that ran the passes over positions (``"numpy"`` or ``"numba"``).
    """

    records: dict[str, np.ndarray | SparseRecord | PositionLevels]
    rounds: np.ndarray
    initial_equity: np.ndarray
    initial_loss: np.ndarray
    sales_by_entry: np.ndarray
    final: State
    inputs: Inputs
    detail: bool = False
    n_rounds: int = 0
    kernels: str = "numpy"

    @property
    def sales_total(self) -> np.ndarray:
        """Value sold over all rounds, shape (S, N, K)."""
        return self.inputs.to_dense(self.sales_by_entry)


def shock_only_loss(inputs: Inputs, scen: ScenarioArrays) -> np.ndarray:
    """Loss of the price shocks on t0 holdings, with no channel acting, shape (S,).

    .. math:: L_0 = \\sum_{i,k} (q_{ik} + d_{ik})\\, p_{0,k} \\Bigl(1 - \\prod_t (1 + F_{tk})\\Bigr)

    with ``d`` the derivatives' signed notionals.
    """
    growth = np.prod(1.0 + scen.price_shock, axis=1)
    # the sum over assets is row-wise, the same in a batch as alone
    return (inputs.t0_book * (1.0 - growth)).sum(axis=-1)


#: A run whose state grows beyond this multiple of its t0 scale is explosive: a price above
#: it times its fundamental (and t0) price, or an institution's equity above it times the
#: system's t0 total assets. No fire sale or purchase programme of a real system gets near.
PHYSICAL_BOUND = 100.0


def system_scale(inputs: Inputs) -> float:
    """The system's t0 total assets in holdings and cash (at least 1): the scale of the
    engine guard's tolerance and of its bound on equity."""
    return float(max((inputs.held * inputs.p0[inputs.entry_asset]).sum() + np.abs(inputs.cash).sum(), 1.0))


#: What :func:`_check_state` reports for each check of
#: :meth:`~firesale.engine.kernels.Kernels.state_violation`, in its order: the code, the
#: axis the column is on, and what is wrong.
_VIOLATIONS = (
    ("FS601", None, "prices or equity are no longer finite: the feedback is explosive (e.g. two-sided leverage "
     "targeting buying into its own price impact). Lower the impact (raise depth), cap max_rounds, or make the "
     "leverage targeting sell_only"),
    *(("FS603", axis, f"{what}: the engine would give a silent wrong answer here; please report this case (the "
       "system and scenario) as a bug")
      for axis, what in (("asset", "a negative price"),
                         ("asset", "a bid at or below zero (an effective spread of 200% or more)"),
                         ("entry", "a negative holding"), ("institution", "negative cash"))),
    ("FS604", "asset", f"the price is above {PHYSICAL_BOUND:g} times its fundamental: the feedback is explosive "
     "(e.g. two-sided leverage targeting buying into its own price impact). Raise depth, make the leverage "
     "targeting sell_only, or lower max_rounds"),
    ("FS604", "institution", f"equity is beyond {PHYSICAL_BOUND:g} times the system's t0 total assets: the "
     "feedback is explosive. Raise depth, make the leverage targeting sell_only, or lower max_rounds"),
)


def _check_state(state: State, inputs: Inputs, t: int, labels: np.ndarray, scale: float, kernels: Kernels) -> None:
    """Stop with a clear error naming scenario, round, institution and asset when a
    scenario's state leaves what is physically possible: a non-finite number (FS601), a
    negative price, bid, holding or cash (FS603), or growth beyond :data:`PHYSICAL_BOUND`
    (FS604). The names are filled in by :func:`firesale.simulate`."""
    violation = kernels.state_violation(state, inputs, 1e-9 * scale, PHYSICAL_BOUND, PHYSICAL_BOUND * scale)
    if violation is not None:
        check, s, j = violation
        code, axis, message = _VIOLATIONS[check]
        _raise_at(s, j, axis, inputs, t, labels, code, message)


def _raise_at(s: int, j: int, axis: str | None, inputs: Inputs, t: int, labels: np.ndarray, code: str,
              message: str) -> None:
    institution = asset = None
    if axis == "asset":
        asset = j
    elif axis == "institution":
        institution = j
    elif axis == "entry":  # an entry of the holdings pattern
        institution, asset = int(inputs.entry_institution[j]), int(inputs.entry_asset[j])
    where = f"scenario {int(labels[s])}, round {t}"
    where += "".join(f", {name} #{index}" for name, index in (("institution", institution), ("asset", asset))
                     if index is not None)
    error = ModelDivergenceError(Problem(code, where, message))
    error.location = {"scenario": int(labels[s]), "round": t, "institution": institution, "asset": asset}
    raise error


_LEVELS = frozenset(LEVEL_RECORDS)
_EMPTY = {"binding": -1, "slr_target_exposure": np.nan, "loop_gain": np.nan, "market_loop_gain": np.nan}
#: Relative size of the sale each loop-gain probe adds: this share of the asset's t0 supply.
PROBE = 1e-6


def simulate_arrays(
    inputs: Inputs, scen: ScenarioArrays, detail: bool = True, chunk_size: int | None = None,
    variables: Collection[str] | None = None, loop_gain: bool = False, kernels: str | Kernels = "numpy",
    threads: int | None = None,
) -> Trajectory:
    """Run every scenario of a batch to its stop.

    Parameters
    ----------
    inputs : Inputs
    scen : ScenarioArrays
    detail : bool
        Keep the (S, R, N, K) records (holdings, sales, binding channel); turn off for
        large batches, where only (S, R, N) and (S, R, K) records are kept.
    chunk_size : int, optional
        Scenarios stepped together; default: the kernel set's ``chunk_scenarios``, as
        many as keep a round's arrays near its ``chunk_elements``. Results do not depend
        on it.
    variables : collection of str, optional
        Round records to keep (default: all). A sweep that keeps a few per-institution
        records of a large system needs a fraction of the memory of all of them.
    loop_gain : bool
        Also measure each round's loop gain (:func:`loop_gain_round`): one more step per
        scenario and asset that can move, so K + 1 steps a round instead of one.
    kernels : str or Kernels
        The passes over positions: ``"numpy"``, the reference, or ``"numba"``, compiled
        (:mod:`firesale.engine.compiled`; the same results to rounding, 1e-12).
    threads : int, optional
        Threads that run chunks of the batch side by side; default: the kernel set's
        :meth:`~firesale.engine.kernels.Kernels.threads` (the compiled kernels release
        the GIL and take one per core, ``NUMBA_NUM_THREADS``; the numpy ones run on the
        calling thread), at most one per chunk. Without ``chunk_size``, a large batch is
        cut into at least as many chunks, of at least :data:`THREAD_CHUNK` scenarios. A
        batch whose ``max_rounds`` passes the records' first capacity (64 rounds) runs
        its chunks one after another. Results do not depend on it.

    Each round's records are written straight into arrays for the whole batch, so a
    batch holds its records once (no per-round lists to stack, no chunks to join).
    """
    n_scen = scen.switches.shape[0]
    kernels = kernels_named(kernels) if isinstance(kernels, str) else kernels
    size = chunk_size or kernels.chunk_scenarios(inputs)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ConfigError(Problem("FS209", f"threads {threads!r}",
                                  "give a whole number of threads, at least 1, or None for one a core"))
    threads = kernels.threads() if threads is None else int(threads)
    longest = int(scen.max_rounds.max())
    if longest > _INITIAL_ROUNDS:
        # the records grow (move) once a run passes their first capacity, which threads
        # writing into them in place could not follow
        threads = 1
    if threads > 1 and chunk_size is None:
        size = min(size, max(-(-n_scen // threads), THREAD_CHUNK))
    chunks = [np.arange(lo, min(lo + size, n_scen)) for lo in range(0, n_scen, size)]
    threads = min(threads, len(chunks))
    records = Records(n_scen, min(longest, _INITIAL_ROUNDS), _LEVELS, _EMPTY)
    last_step = np.zeros(n_scen, dtype=np.int64)
    keep = None if variables is None else frozenset(variables)

    whole: _Chunk | None = None  # the batch's: a lone chunk's, or made by the first chunk to end
    making = threading.Lock()

    def run(chunk: np.ndarray) -> None:
        nonlocal whole
        part = scen if chunk.size == n_scen else scen.take(chunk)
        done = _simulate_chunk(inputs, part, detail, records, chunk, last_step, keep, loop_gain, kernels)
        if chunk.size == n_scen:
            whole = done
            return
        # each chunk's results go straight into the batch's arrays as it ends, on its own
        # thread: no chunk is kept to join
        with making:
            if whole is None:
                whole = _Chunk(*(_batch_like(field, n_scen) for field in done[:3]), done.final.blank(n_scen))
        rows = slice(int(chunk[0]), int(chunk[-1]) + 1)
        for target, value in zip(whole[:3], done[:3]):
            target[rows] = value
        whole.final.set_rows(rows, done.final)

    if threads > 1:
        pool = ThreadPoolExecutor(threads, thread_name_prefix="firesale-chunk")
        try:
            # in the order of the chunks: the first chunk's error is raised, as one thread would
            for _ in pool.map(run, chunks):
                pass
        finally:
            pool.shutdown(cancel_futures=True)
    else:
        for chunk in chunks:
            run(chunk)
    rounds, initial_equity, sales_by_entry, final = whole
    return Trajectory(
        records=records.finish(last_step),
        rounds=rounds,
        initial_equity=initial_equity,
        initial_loss=shock_only_loss(inputs, scen),
        sales_by_entry=sales_by_entry,
        final=final,
        inputs=inputs,
        detail=detail,
        n_rounds=int(last_step.max(initial=0)) + 1,
        kernels=kernels.name,
    )


def _batch_like(value: np.ndarray, n_scen: int) -> np.ndarray:
    return np.empty((n_scen,) + value.shape[1:], dtype=value.dtype)


#: Rounds the record arrays are first sized for (they double when a run goes longer);
#: pages of rounds never reached are never touched, so they cost no memory.
_INITIAL_ROUNDS = 64
#: Fewest scenarios a chunk of a batch run on several threads is cut to: a compiled
#: round's fixed cost, about 0.1 ms a call, outweighs a smaller chunk's work.
THREAD_CHUNK = 64


class _Chunk(NamedTuple):
    """What a chunk of scenarios leaves besides its records (see :class:`Trajectory`)."""

    rounds: np.ndarray
    initial_equity: np.ndarray
    sales_by_entry: np.ndarray
    final: State


def loop_gain_round(state: State, inputs: Inputs, scen: ScenarioArrays, t: int,
                    forced_sales: np.ndarray, kernels: Kernels = NUMPY) -> tuple[np.ndarray, np.ndarray]:
    """The loop gain of round ``t``: how much more is forced out per unit sold before it.

    For each asset ``j`` that sales can move, the round is stepped again from ``state``
    with a small extra sale of ``j`` (``PROBE`` × its t0 supply) already in the price,
    as if sold to outside buyers at the end of the last round. Differencing the forced
    sales by asset with the round as run (``forced_sales``, shape (S, K)) gives the
    Jacobian of the sale → price → sale map,

    .. math:: J_{ij} = \\partial F_i / \\partial x_j,

    with every channel of the round in it (marking, constraints, funding, dealers,
    spreads). Its spectral radius ρ(J) is the loop gain: a sale of the dominant mix of
    assets forces ρ(J) times as much in the next round, so the cascade grows while
    ρ(J) > 1 (the tipping point of the feedback loop) and dies out below it. The
    diagonal :math:`J_{kk}` is each market's own gain.

    Returns
    -------
    ndarray (S,), ndarray (S, K)
        ρ(J) and diag(J); NaN where no asset can move.
    """
    n_scen, n_assets = forced_sales.shape
    supply = np.bincount(inputs.entry_asset, weights=inputs.held * inputs.p0[inputs.entry_asset],
                         minlength=n_assets)
    movable = np.flatnonzero(inputs.tradable & (supply > 0)
                             & (np.isfinite(inputs.depth) | (inputs.impact_law == LAW_CODES["sqrt"])))
    if not movable.size or not n_scen:
        return np.full(n_scen, np.nan), np.full((n_scen, n_assets), np.nan)
    probe = PROBE * supply[movable]
    copies = np.repeat(np.arange(n_scen), movable.size)
    probed = state.take(copies)
    pressure = probed.pressure.copy()
    column = np.tile(movable, n_scen)
    pressure[np.arange(copies.size), column] += np.tile(probe, n_scen)
    probed = dataclasses.replace(probed, pressure=pressure)
    _, records, _ = step(probed, inputs, scen.take(copies), t, kernels)
    response = records["forced_sales"].reshape(n_scen, movable.size, n_assets) - forced_sales[:, None, :]
    jacobian = np.zeros((n_scen, n_assets, n_assets))
    jacobian[:, :, movable] = np.swapaxes(response / probe[None, :, None], 1, 2)
    radius = np.abs(np.linalg.eigvals(jacobian)).max(axis=-1)
    own = np.full((n_scen, n_assets), np.nan)
    own[:, movable] = jacobian[:, movable, movable]
    return radius, own


def _simulate_chunk(inputs: Inputs, scen: ScenarioArrays, detail: bool, records: Records, chunk: np.ndarray,
                    last_step: np.ndarray, keep: frozenset[str] | None, loop_gain: bool,
                    kernels: Kernels) -> _Chunk:
    """Run the scenarios ``chunk`` of the batch (``scen`` holds them), writing their records
    into ``records`` and their last step into ``last_step``.

    Only running scenarios are stepped. The state the loop carries holds them alone: when
    some stop, their final state is written once into the chunk's and the rest are taken
    on, so a round in which nobody stops gathers and scatters nothing."""
    n_scen = scen.switches.shape[0]
    state = initial_state(inputs, scen)
    scale = system_scale(inputs)
    initial_equity = state.equity.copy()
    sales_by_entry = np.zeros_like(state.q)
    rounds = np.zeros(n_scen, dtype=np.int64)
    running = np.arange(n_scen)  # the chunk's scenarios ``state`` holds, in order
    final: State | None = None
    t = 0
    while running.size:
        if (kernels.run_rounds is not None and not loop_gain  # rounds in one call while all go on
                and record_bytes(running.size, inputs.n_institutions, inputs.n_assets, len(CHANNELS)) <= RUN_BYTES):
            ran = kernels.run_rounds(state, inputs, scen, t, _block_rounds(inputs, running.size, detail, t, scen),
                                     records, chunk[running], running, rounds, sales_by_entry, detail, keep,
                                     1e-9 * scale, PHYSICAL_BOUND, PHYSICAL_BOUND * scale)
            if ran.rounds and detail:
                _keep_detail(records, t, chunk[running], state, ran.detail, inputs)
            if ran.violation is not None:
                check, s, j = ran.violation
                code, axis, message = _VIOLATIONS[check]
                _raise_at(s, j, axis, inputs, t + ran.rounds, chunk[running], code, message)
            t += ran.rounds - 1
            new = ran.state
        else:
            new = _step_once(state, inputs, scen, t, chunk, running, records, rounds, sales_by_entry, detail, scale,
                             keep, loop_gain, kernels)
        last_step[chunk[running]] = t
        if not new.active.all():
            if running.size == n_scen and not new.active.any():  # the whole chunk stops together
                final = new
                break
            if final is None:
                final = new.blank(n_scen)
            stopped, going = np.flatnonzero(~new.active), np.flatnonzero(new.active)
            final.set_rows(running[stopped], new, stopped)
            if going.size:
                new, scen = new.take(going), scen.take(going)
            running = running[going]
        state = new
        t += 1
    return _Chunk(rounds, initial_equity, sales_by_entry, final)


def _step_once(state: State, inputs: Inputs, scen: ScenarioArrays, t: int, chunk: np.ndarray, running: np.ndarray,
               records: Records, rounds: np.ndarray, sales_by_entry: np.ndarray, detail: bool, scale: float,
               keep: frozenset[str] | None, loop_gain: bool, kernels: Kernels) -> State:
    """Round ``t`` of the running scenarios, one :func:`~firesale.engine.round.step`, its
    records written; returns the new state."""
    n_inst, n_assets = inputs.n_institutions, inputs.n_assets
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite results: reported below
        new, rec, trades = step(state, inputs, scen, t, kernels)
    _check_state(new, inputs, t, chunk[running], scale, kernels)
    if loop_gain:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            rec["loop_gain"], rec["market_loop_gain"] = loop_gain_round(state, inputs, scen, t,
                                                                         rec["forced_sales"], kernels)
    sub_s, n_of = np.divmod(trades.rows, n_inst)
    s_of = running[sub_s]
    records.write_round(t, as_run(chunk[running]), rec, keep)
    rounds[running] += rec["eventful"]
    kernels.add_sales(sales_by_entry, trades.sales, s_of, trades.entries, trades.assets)
    if detail:  # per position of the pattern: the acting rows' trades, the holdings that changed
        traded = (trades.assets >= 0) & _traded(trades.sales, trades.binding)
        cells = ((chunk[s_of][:, None] * n_inst + n_of[:, None]) * n_assets + trades.assets)[traded]
        records.add_cells("sales", t, (n_inst, n_assets), np.float64, cells, trades.sales[traded])
        records.add_cells("binding", t, (n_inst, n_assets), np.int8, cells, trades.binding[traded])
        for name, before, after in (("holdings", state.q, new.q), ("trading_holdings", state.q_trading,
                                                                    new.q_trading)):
            records.add_levels(name, t, chunk[running], before, after, inputs.entry_institution,
                               inputs.entry_asset, n_inst, n_assets)
    return new


#: A chunk whose round's records take at most this many bytes runs its rounds in one
#: compiled call while all of its scenarios go on (:attr:`~firesale.engine.kernels.Kernels.
#: run_rounds`), where Python's work between rounds would weigh on each; a larger one steps
#: a round at a time, as fast (measured: ``dealer_groups`` 5.0 against 10.8 ms for 8
#: scenarios, 42 against 51 ms for 128, alike for 400 and 1,024; ``inet_eba2018`` alike
#: from 128).
RUN_BYTES = 2 << 20
#: Bytes of blocks a compiled call of several rounds fills at most
#: (:attr:`~firesale.engine.kernels.Kernels.run_rounds`): the records a batch keeps as cells
#: and the per-position detail come back in blocks, the others are written in place. A run
#: of a few scenarios goes to its stop in one call, a large chunk steps a few rounds a call.
BLOCK_BYTES = 16 << 20


def _block_rounds(inputs: Inputs, n_scen: int, detail: bool, t: int, scen: ScenarioArrays) -> int:
    """Rounds one call of ``run_rounds`` may step: to the chunk's last ``max_rounds``, and
    as many as keep its blocks within :data:`BLOCK_BYTES` (the records that may be kept as
    cells, eight per institution and two per institution and channel, eight bytes a cell,
    and with ``detail`` four per position)."""
    per_scenario = 8 * inputs.n_institutions * (8 + 2 * len(CHANNELS))
    if detail:
        per_scenario += 25 * inputs.n_entries
    return int(max(1, min(int(scen.max_rounds.max()) - t, BLOCK_BYTES // (per_scenario * n_scen))))


def _traded(sales: np.ndarray, binding: np.ndarray) -> np.ndarray:
    """Where a trade is kept in the per-position detail: a sale of any bits (-0.0 too), or
    a binding channel."""
    return (sales.view(np.int64) != 0) | (binding >= 0)


def _keep_detail(records: Records, t: int, scenarios: np.ndarray, state: State, blocks: dict[str, np.ndarray],
                 inputs: Inputs) -> None:
    """The per-position detail of the rounds ``t``, ``t + 1``, ... of a compiled call
    (:data:`~firesale.engine.compiled_run.DETAIL_BLOCKS`): a dense record takes the blocks
    in one scatter; one kept as cells takes the positions that traded (a sale of any
    bits, or a binding channel) and the holdings that changed a round at a time, as the
    loop keeps them."""
    n_inst, n_assets = inputs.n_institutions, inputs.n_assets
    dense = {name: records.scatter_rounds(name, t, scenarios, blocks[name], inputs.entry_institution,
                                          inputs.entry_asset, n_inst, n_assets, level=name.endswith("holdings"))
             for name in ("sales", "binding", "holdings", "trading_holdings")}
    if all(dense.values()):  # the common case of a small batch: nothing a round at a time
        return
    cells = (scenarios[:, None] * n_inst + inputs.entry_institution) * n_assets + inputs.entry_asset
    before = {"holdings": state.q, "trading_holdings": state.q_trading}
    for i in range(blocks["sales"].shape[0]):
        if not (dense["sales"] and dense["binding"]):
            sold, binding = blocks["sales"][i], blocks["binding"][i]
            traded = _traded(sold, binding)
            for name, values in (("sales", sold), ("binding", binding)):
                if not dense[name]:
                    records.add_cells(name, t + i, (n_inst, n_assets), values.dtype, cells[traded], values[traded])
        for name in ("holdings", "trading_holdings"):
            after = blocks[name][i]
            if not dense[name]:
                records.add_levels(name, t + i, scenarios, before[name], after, inputs.entry_institution,
                                   inputs.entry_asset, n_inst, n_assets)
            before[name] = after
