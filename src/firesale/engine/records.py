"""Round records of a batch, written round by round as the loop runs.

Most records are dense ``(S, R, ...)`` arrays: a level or a flow per scenario, round and
institution or asset. Two kinds are mostly empty and are kept sparse instead, as the cells
that are set (the holdings pattern of the system and the acting rows, not a dense
``(N, K)`` or ``(N, C)`` block a round):

* :class:`SparseRecord` — a flow that only acting institutions have: sales by binding
  channel, and with ``detail`` the sales and binding channel of each position. Its cells
  are listed round by round.
* :class:`PositionLevels` — holdings and trading-book holdings with ``detail``: the t0
  holdings of each position of the pattern and, round by round, the positions whose
  holding changed, with the new value (a stopped scenario keeps its last holdings).

Both give the dense array they stand for with :meth:`toarray` (and ``np.asarray``), the
same bits a dense record would hold. Where the dense array of the batch's first rounds
would take at most :data:`DENSE_BELOW` bytes, as in a run of a few scenarios, a record is
dense from the start: there is no memory to save, and a round's write is one copy or one
scatter.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np

__all__ = ["Records", "SparseRecord", "PositionLevels", "SPARSE_RECORDS", "set_cells", "as_run"]

#: Per-institution flow records stored as the cells that differ from their empty value:
#: only the institutions that sold, paid or breached in a round have them (in a round of
#: a 20,000-institution system, about 1% to 13% of the cells).
SPARSE_RECORDS = frozenset({"sold", "purchases", "proceeds", "redeemed", "repo_interest", "funding_need",
                            "funding_paid", "slr_target_exposure", "sales_by_channel", "breach"})


def set_cells(value: np.ndarray, fill: float | int) -> np.ndarray:
    """Flat indices of the cells of ``value`` that differ from ``fill`` — for floats, in
    any bit (a -0.0 or a NaN of another payload is kept as it is)."""
    if value.dtype.kind == "f":
        return np.flatnonzero(value.view(np.int64) != np.asarray(fill, dtype=value.dtype).view(np.int64))
    return np.flatnonzero(value != fill)


class _Cells:
    """Cells (flat index, value) added round by round, in buffers that double when full:
    a run's sparse records are a few large arrays, not thousands of small ones left between
    a round's temporaries (which would keep the allocator from returning their memory)."""

    def __init__(self, dtype: np.dtype) -> None:
        self.index = np.zeros(0, dtype=np.int64)
        self.values = np.zeros(0, dtype=dtype)
        self.size = 0
        self.segments: list[tuple[int, int, int]] = []  # (round, start, stop)

    def add(self, t: int, index: np.ndarray, values: np.ndarray) -> None:
        stop = self.size + index.size
        if stop > self.index.size:
            capacity = max(2 * self.index.size, stop, 1024)
            for name in ("index", "values"):
                old = getattr(self, name)
                grown = np.empty(capacity, dtype=old.dtype)
                grown[:self.size] = old[:self.size]
                setattr(self, name, grown)
        self.index[self.size:stop] = index
        self.values[self.size:stop] = values
        self.segments.append((t, self.size, stop))
        self.size = stop

    @property
    def nbytes(self) -> int:
        return self.index.nbytes + self.values.nbytes

    def by_round(self):
        """(round, index, values) of each addition, in round order (stable: chunks of a
        batch run one after another, each from round 0)."""
        for t, start, stop in sorted(self.segments, key=lambda segment: segment[0]):
            yield t, self.index[start:stop], self.values[start:stop]


#: A sparse record becomes dense once it holds more than this share of the cells of the
#: batch's rounds so far: an index and a value take twice the bytes of a dense cell, so a
#: sparse record never takes more memory than the dense one would.
DENSE_SHARE = 0.5
#: Keeping cells saves memory only where there is memory to save: a record of
#: :data:`SPARSE_RECORDS` whose dense array for the batch's first rounds (``Records``'
#: capacity) would take at most this many bytes is dense from the start, and a round's
#: write is then one copy, with no search for the cells set and no index arithmetic.
DENSE_BELOW = 256 << 10


class _DenseOnRequest:
    """A record kept in another form, dense on request: ``np.asarray(record)``,
    ``record[key]`` (the dense array's item) or :meth:`toarray`."""

    def toarray(self) -> np.ndarray:
        raise NotImplementedError

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.toarray()
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key) -> np.ndarray:
        return self.toarray()[key]


class SparseRecord(_DenseOnRequest):
    """A record of shape ``(S, R) + tail`` of which only the cells added hold values, the
    others ``fill``. Cells are added round by round as flat indices into a round's
    ``(S,) + tail`` block."""

    def __init__(self, n_scen: int, tail: tuple[int, ...], dtype: np.dtype, fill: float | int = 0) -> None:
        self.n_scen, self.tail, self.dtype, self.fill = n_scen, tuple(tail), np.dtype(dtype), fill
        self.n_rounds = 0
        self._cells = _Cells(self.dtype)

    def add(self, t: int, cells: np.ndarray, values: np.ndarray) -> None:
        """Set round ``t``'s ``cells`` (flat indices into an ``(S,) + tail`` block) to ``values``."""
        self._cells.add(t, cells, values)
        self.n_rounds = max(self.n_rounds, t + 1)

    def trimmed(self, n_rounds: int) -> SparseRecord:
        """The record over ``n_rounds`` rounds (the rounds the batch ran)."""
        self.n_rounds = n_rounds
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n_scen, self.n_rounds) + self.tail

    @property
    def nbytes(self) -> int:
        return self._cells.nbytes

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def toarray(self) -> np.ndarray:
        """The dense array."""
        out = np.full(self.shape, self.fill, dtype=self.dtype)
        block = int(np.prod(self.tail, dtype=np.int64))
        flat = out.reshape(self.n_scen, self.n_rounds, block)
        for t, cells, values in self._cells.by_round():
            scenario, rest = np.divmod(cells, block)
            flat[scenario, t, rest] = values
        return out


class PositionLevels(_DenseOnRequest):
    """Holdings per round, ``(S, R, N, K)`` when dense, kept as the t0 holdings of each
    position of the pattern ``(E,)``, shared by the scenarios, and per round the
    positions that changed with their new value (flat indices ``s * E + e``; a scenario
    whose t0 holdings differ from the shared ones has the difference as changes before
    round 0)."""

    def __init__(self, n_scen: int, entry_institution: np.ndarray, entry_asset: np.ndarray,
                 n_institutions: int, n_assets: int) -> None:
        self.initial: np.ndarray | None = None
        self._entry_institution, self._entry_asset = entry_institution, entry_asset
        self.n_rounds = 0
        self.shape = (n_scen, 0, n_institutions, n_assets)
        self.dtype = np.dtype(np.float64)
        self._changes = _Cells(self.dtype)

    def _log(self, t: int, scenarios: np.ndarray, before: np.ndarray, after: np.ndarray) -> None:
        changed = np.flatnonzero(before.view(np.int64) != after.view(np.int64))
        rows, entries = np.divmod(changed, after.shape[1])
        self._changes.add(t, scenarios[rows] * after.shape[1] + entries, after.reshape(-1)[changed])

    def add(self, t: int, scenarios: np.ndarray, before: np.ndarray, after: np.ndarray) -> None:
        """Round ``t`` took the batch's ``scenarios`` (rows of ``before`` and ``after``,
        (s, E)) from the holdings ``before`` to ``after``; every bit that changed is kept."""
        before, after = before.astype(np.float64, copy=False), after.astype(np.float64, copy=False)
        if t == 0:
            if self.initial is None:
                self.initial = before[0].copy()
            self._log(-1, scenarios, np.broadcast_to(self.initial, before.shape), before)
        self._log(t, scenarios, before, after)
        self.n_rounds = max(self.n_rounds, t + 1)
        self.shape = self.shape[:1] + (self.n_rounds,) + self.shape[2:]

    def trimmed(self, n_rounds: int) -> PositionLevels:
        self.n_rounds = n_rounds
        self.shape = self.shape[:1] + (n_rounds,) + self.shape[2:]
        return self

    @property
    def nbytes(self) -> int:
        return (0 if self.initial is None else self.initial.nbytes) + self._changes.nbytes

    @property
    def ndim(self) -> int:
        return 4

    def toarray(self) -> np.ndarray:
        """The dense holdings at the end of each round, (S, R, N, K)."""
        out = np.zeros(self.shape, dtype=self.dtype)
        held = np.zeros((self.shape[0], self._entry_institution.size))
        if self.initial is not None:
            held[:] = self.initial
        changes = self._changes.by_round()
        change = next(changes, None)
        for t in range(-1, self.n_rounds):
            while change is not None and change[0] == t:
                held.reshape(-1)[change[1]] = change[2]
                change = next(changes, None)
            if t >= 0:
                out[:, t, self._entry_institution, self._entry_asset] = held
        return out


def _stored_dtype(value: np.ndarray) -> np.dtype:
    """The type a record keeps: flags (bool) and channel codes (int8) keep theirs; amounts
    are float even when the first round's happen to come out as integer zeros."""
    return value.dtype if value.dtype in (np.bool_, np.int8) else np.dtype(np.float64)


def _locked(method):
    """``method`` under the records' lock: chunks of a batch run on threads side by side
    (:func:`firesale.engine.simulate.simulate_arrays`) and write into one set of records."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)
    return locked


def as_run(rows: np.ndarray) -> np.ndarray | slice:
    """Rows of a batch as a slice where they are a run (a slice writes faster), else as
    they are."""
    return slice(int(rows[0]), int(rows[-1]) + 1) if rows[-1] - rows[0] + 1 == rows.size else rows


class Records:
    """The round records of a batch: dense arrays filled round by round, the names of
    :data:`SPARSE_RECORDS` as :class:`SparseRecord`, and the per-position detail
    (:meth:`add_cells`, :meth:`add_levels`).

    Dense records are stored round-major, ``(R, S, ...)``, allocated for ``capacity``
    rounds (doubled if a run goes longer) and not initialised: a round's records of a run
    of scenarios are one contiguous block, written in place, and :meth:`finish` fills the
    rounds after each scenario's stop. It gives them as ``(S, R, ...)`` views of that
    storage. A sparse record becomes dense once it would take more memory than the dense
    array (:data:`DENSE_SHARE`).

    Chunks of a batch may write from several threads: each method that changes what the
    records are holds :attr:`lock`, and a block handed out to be filled (:meth:`store`) is
    the calling thread's own. A dense array is not moved while threads write their rows
    into it, outside the lock (:meth:`write_round`, and the kernels writing in place), as
    long as no run goes beyond ``capacity`` rounds: the loop runs chunks on threads only
    for batches whose runs fit.
    """

    def __init__(self, n_scen: int, capacity: int, levels: frozenset[str], empty: dict[str, float | int]) -> None:
        self.n_scen, self.capacity = n_scen, capacity
        self.levels, self.empty = levels, empty
        self.arrays: dict[str, np.ndarray | SparseRecord | PositionLevels] = {}
        #: name -> (tail, dtype) of each round record seen (:meth:`write_rounds`)
        self.layout: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        self._scratches: dict[tuple[int, str], np.ndarray] = {}
        self.lock = threading.RLock()

    def _blank(self, rounds: int, tail: tuple[int, ...], dtype) -> np.ndarray:
        # not initialised: every round of a scenario up to its stop is written, and
        # finish() fills the rounds after it (no pass over memory a run never needs)
        return np.empty((rounds, self.n_scen) + tail, dtype=dtype)

    def write_round(self, t: int, scenarios: np.ndarray | slice, values: dict[str, np.ndarray],
                    keep: frozenset[str] | None = None) -> None:
        """:meth:`write` each of a round's records (those in ``keep``, default all). A dense
        record's round is one copy here, without a call per record: a round of one scenario
        writes some fifty small arrays, and the calls would cost more than the copies.

        The copies into the dense arrays, and the search for the cells a record kept as
        cells sets, are made outside the lock: chunks on threads write rows of their own,
        into arrays that do not move while the rounds fit (see the class)."""
        arrays = self.arrays
        for name, value in values.items():
            if keep is not None and name not in keep:
                continue
            out = arrays.get(name)
            if type(out) is np.ndarray and t < out.shape[0]:
                out[t, scenarios] = value
                continue
            cells = None
            if type(out) is SparseRecord:
                value = value.astype(_stored_dtype(value), copy=False)
                cells = set_cells(value, self.empty.get(name, 0))
            self.write(name, scenarios, t, value, cells)  # under the lock

    @_locked
    def write_rounds(self, t: int, scenarios: np.ndarray | slice, blocks: dict[str, np.ndarray], rounds: int,
                     keep: frozenset[str] | None = None, adopt: bool = False) -> None:
        """The records of the rounds ``t`` to ``t + rounds - 1`` as blocks, ``(R, s, ...)``
        with ``R >= rounds`` (those in ``keep``, default all; the layout of each is noted
        for :meth:`store`). A dense record's rounds are one copy. With ``adopt``, the
        first rounds of the whole batch are no copy at all: the block becomes the record's
        array (it grows if the run goes on); for small batches, as a large array allocated
        here is given huge pages (numpy asks for them from 4 MiB), which take a fraction of
        the page faults of its first writes. A record kept as cells takes its rounds one
        at a time (:meth:`write`)."""
        arrays = self.arrays
        whole = adopt and t == 0 and isinstance(scenarios, slice) and scenarios.start in (0, None) and \
            scenarios.stop == self.n_scen
        for name, block in blocks.items():
            dtype = _stored_dtype(block)
            self.layout.setdefault(name, (block.shape[2:], dtype))
            if keep is not None and name not in keep:
                continue
            first = 0
            if name not in arrays:
                dense = name not in SPARSE_RECORDS or self._small(block.shape[2:], dtype)
                if dense and whole and block.dtype == dtype:
                    arrays[name] = block
                    continue
                if dense:
                    arrays[name] = self._blank(self.capacity, block.shape[2:], dtype)
                else:  # the first round makes the record, kept as cells or dense
                    self.write(name, scenarios, t, block[0])
                    first = 1
            out = arrays[name]
            if type(out) is np.ndarray:
                out = self._fit(name, t + rounds)
                out[t + first:t + rounds, scenarios] = block[first:rounds]
                continue
            for i in range(first, rounds):
                self.write(name, scenarios, t + i, block[i])

    @_locked
    def store(self, names: tuple[str, ...], t: int, rounds: int, n_rows: int,
              keep: frozenset[str] | None = None) -> tuple[list[np.ndarray], np.ndarray] | None:
        """Where the rounds ``t`` to ``t + rounds - 1`` of ``n_rows`` scenarios can be
        written by their producer: for each of ``names``, the dense array of the batch
        (mode 1, grown to hold the rounds), a new block ``(rounds, n_rows, ...)`` for a
        record kept as cells (mode 2; :meth:`write_rounds` takes it after), or an empty
        array where the record is not kept (mode 0). None before the first rounds have
        shown each record's layout."""
        if not self.layout:
            return None
        arrays, modes = [], np.empty(len(names), dtype=np.int64)
        for i, name in enumerate(names):
            tail, dtype = self.layout[name]
            if keep is not None and name not in keep:
                arrays.append(np.empty((0, 0) + (0,) * len(tail), dtype=dtype))
                modes[i] = 0
            elif type(self.arrays.get(name)) is np.ndarray:
                arrays.append(self._fit(name, t + rounds))
                modes[i] = 1
            else:
                arrays.append(self._scratch(name, (rounds, n_rows) + tail, dtype))
                modes[i] = 2
        return arrays, modes

    def _scratch(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A block of ``shape`` for the record ``name``, over memory kept from the calling
        thread's last block where it is large enough: its pages are in memory already (a
        fresh block's first writes would fault every page in, each call)."""
        size, key = math.prod(shape), (threading.get_ident(), name)
        kept = self._scratches.get(key)
        if kept is None or kept.size < size:
            kept = self._scratches[key] = np.empty(size, dtype=dtype)
        return kept[:size].reshape(shape)

    def _fit(self, name: str, rounds: int, fill: bool = False) -> np.ndarray:
        """The dense record ``name``, grown (doubling) to hold ``rounds`` rounds. With
        ``fill`` the rounds added hold the record's empty value (for rounds written in
        part); without, they are not initialised, like a new record's."""
        out = self.arrays[name]
        if rounds > out.shape[0]:
            grown = self._blank(max(2 * out.shape[0], rounds), out.shape[2:], out.dtype)
            grown[:out.shape[0]] = out
            if fill:
                grown[out.shape[0]:] = self.empty.get(name, 0)
            out = self.arrays[name] = grown
        return out

    @_locked
    def write(self, name: str, scenarios: np.ndarray | slice, t: int, value: np.ndarray,
              cells: np.ndarray | None = None) -> None:
        """Round ``t``'s ``value`` of the batch's ``scenarios`` (its rows, in order).
        :meth:`write_round` copies a round of an existing dense record itself, without
        this call, and may pass the cells of a record kept as cells (:func:`set_cells`)."""
        out = self.arrays.get(name)
        dtype = _stored_dtype(value)
        if out is None and name in SPARSE_RECORDS and self._small(value.shape[1:], dtype):
            out = self.arrays[name] = self._densify(name, None, value.shape[1:], dtype)
        if name in SPARSE_RECORDS and (out is None or isinstance(out, SparseRecord)):
            value = value.astype(dtype, copy=False)
            if cells is None:
                cells = set_cells(value, self.empty.get(name, 0))
            stored = 0 if out is None else out._cells.size
            rounds = max(t + 1, 0 if out is None else out.n_rounds)
            tail = value.shape[1:]
            block = math.prod(tail)
            if stored + cells.size <= DENSE_SHARE * self.n_scen * rounds * block:
                if isinstance(scenarios, slice):  # a run of rows: the block's cells, shifted
                    index = cells + (scenarios.start or 0) * block
                else:
                    row, rest = np.divmod(cells, block)
                    index = scenarios[row] * block + rest
                self.add_cells(name, t, tail, dtype, index, value.reshape(-1)[cells])
                return
            # as cells the record would take more than dense, for the rounds run so far
            out = self.arrays[name] = self._densify(name, out, value.shape[1:], dtype)
        if out is None:
            out = self.arrays[name] = self._blank(self.capacity, value.shape[1:], dtype)
        self._fit(name, t + 1)[t, scenarios] = value

    def _small(self, tail: tuple[int, ...], dtype) -> bool:
        """Whether a record's dense array for the batch's capacity takes at most
        :data:`DENSE_BELOW` bytes: kept dense from the start, however few cells it sets."""
        return self.n_scen * self.capacity * math.prod(tail) * np.dtype(dtype).itemsize <= DENSE_BELOW

    def _round_of(self, name: str, t: int) -> np.ndarray:
        """Round ``t``'s block of the dense record ``name``, written in part (the cells or
        positions set)."""
        return self._fit(name, t + 1, fill=True)[t]

    def _densify(self, name: str, record: SparseRecord | None, tail: tuple[int, ...], dtype) -> np.ndarray:
        """A dense round-major array holding what ``record`` holds so far."""
        rounds = self.capacity if record is None else max(self.capacity, record.n_rounds)
        out = self._blank(rounds, tail, dtype)
        out[:] = self.empty.get(name, 0)  # the cells written so far are set below, the rest are empty
        if record is not None:
            block = int(np.prod(tail, dtype=np.int64))
            flat = out.reshape(rounds, self.n_scen * block)
            for t, cells, values in record._cells.by_round():
                flat[t, cells] = values
        return out

    @_locked
    def add_cells(self, name: str, t: int, tail: tuple[int, ...], dtype, cells: np.ndarray,
                  values: np.ndarray) -> None:
        """Set round ``t``'s ``cells`` (flat indices into an ``(S,) + tail`` block) of a
        record kept as cells (dense from the start where it is small, :meth:`_small`)."""
        record = self.arrays.get(name)
        if record is None:
            record = self.arrays[name] = (self._densify(name, None, tail, dtype) if self._small(tail, dtype)
                                          else SparseRecord(self.n_scen, tail, dtype, self.empty.get(name, 0)))
        if isinstance(record, SparseRecord):
            record.add(t, cells, values)
        else:
            self._round_of(name, t).reshape(-1)[cells] = values

    @_locked
    def add_levels(self, name: str, t: int, scenarios: np.ndarray, before: np.ndarray, after: np.ndarray,
                   entry_institution: np.ndarray, entry_asset: np.ndarray, n_institutions: int,
                   n_assets: int) -> None:
        """Round ``t`` took the batch's ``scenarios`` from holdings ``before`` to ``after``
        (per position of the pattern, (s, E)). Where the dense holdings are small
        (:meth:`_small`) they are kept dense from the start, a level record."""
        record = self._dense_if_small(name, (n_institutions, n_assets), np.dtype(np.float64), level=True)
        if isinstance(record, np.ndarray):  # scattered as Inputs.to_dense does
            self._round_of(name, t)[scenarios[:, None], entry_institution, entry_asset] = after
            return
        if record is None:
            record = self.arrays[name] = PositionLevels(self.n_scen, entry_institution, entry_asset,
                                                        n_institutions, n_assets)
        record.add(t, scenarios, before, after)

    def _dense_if_small(self, name: str, tail: tuple[int, ...], dtype: np.dtype,
                        level: bool) -> np.ndarray | SparseRecord | PositionLevels | None:
        """The per-position record ``name``, made dense from the start where it is small
        (:meth:`_small`); a ``level`` record (holdings) then joins the levels a stopped
        scenario keeps. None where it is not made yet and not small."""
        record = self.arrays.get(name)
        if record is None and self._small(tail, dtype):
            record = self.arrays[name] = self._densify(name, None, tail, dtype)
            if level:
                self.levels = self.levels | {name}
        return record

    @_locked
    def scatter_rounds(self, name: str, t: int, scenarios: np.ndarray, block: np.ndarray,
                       entry_institution: np.ndarray, entry_asset: np.ndarray, n_institutions: int, n_assets: int,
                       level: bool) -> bool:
        """The rounds ``t``, ``t + 1``, ... of a per-position record of the batch's
        ``scenarios`` as a block ``(rounds, s, E)`` over the positions of the pattern, the
        record's empty value where nothing is kept (a ``level`` record: holdings), in one
        scatter where the record is dense. Returns False, writing nothing, where it is
        kept as cells or changes: those take the rounds one at a time (:meth:`add_cells`,
        :meth:`add_levels`)."""
        record = self._dense_if_small(name, (n_institutions, n_assets), block.dtype, level)
        if not isinstance(record, np.ndarray):
            return False
        rounds = block.shape[0]
        self._fit(name, t + rounds, fill=True)[t:t + rounds, scenarios[:, None], entry_institution, entry_asset] = block
        return True

    @_locked
    def finish(self, last_step: np.ndarray) -> dict[str, np.ndarray | SparseRecord | PositionLevels]:
        """Trim to the rounds run; a scenario that stopped early repeats its last levels."""
        n_rounds = int(last_step.max(initial=0)) + 1
        out = {name: value.trimmed(n_rounds) if isinstance(value, (SparseRecord, PositionLevels))
               else value[:n_rounds].swapaxes(0, 1) for name, value in self.arrays.items()}
        dense = [name for name, value in out.items() if isinstance(value, np.ndarray)]
        for last in np.unique(last_step[last_step < n_rounds - 1]):
            stopped = np.flatnonzero(last_step == last)
            for name in dense:
                if name in self.levels:
                    out[name][stopped, last + 1:] = out[name][stopped, last:last + 1]
                else:  # nothing happens after the stop
                    out[name][stopped, last + 1:] = self.empty.get(name, 0)
        return out
