"""The run store: every run, comparison, sweep and replication, recorded in embedded DuckDB.

A store is a folder (default ``./firesale-runs``; the ``FIRESALE_STORE`` environment
variable or an explicit path overrides it) holding

``runs.duckdb``
    One row per record in the table ``runs`` (see :data:`RUN_COLUMNS`): kind, target,
    the command line, UTC time, firesale version, the content hash of the inputs, the
    full configuration (system name and currency, every scenario), the summary, its
    headline metrics and the timings. A table ``meta`` names the format and its version.
``runs/<run_id>/``
    The results Dataset (``results.nc``, netCDF) and the System as tables
    (``system/*.parquet``, exact binary floats), so that :meth:`RunStore.rerun` can
    recompute the result from the stored inputs and compare it bit for bit.
``runs.lock``
    The lock file: a writer holds it exclusively, a reader shared (``flock``).
``tmp/``, ``pending/``
    Files being written, and the journal of records being committed.

**Concurrency.** DuckDB lets one process at a time open the database for writing, so
every access opens a short-lived connection while holding ``runs.lock``: writers
exclusively, readers shared. Two processes recording at once take turns; a process that
waits longer than ``lock_timeout`` seconds gets a :class:`StoreError`. The lock dies with
its process, so a killed writer never leaves the store locked.

**Atomicity.** A record is written in three steps: the Dataset and tables go to
``tmp/<run_id>/`` (outside the lock, so a slow write does not hold up other writers);
then, holding the lock, a journal entry ``pending/<run_id>`` is made, the folder is
renamed to ``runs/<run_id>`` (one atomic rename) and the row is inserted in one DuckDB
transaction; the journal entry is removed last. A process killed at any point leaves
either no row (and at most an orphan folder, which :meth:`RunStore.list` never sees and
the next write removes) or a complete row whose files are all in place.

**Errors** (:class:`StoreError`): FS901 the store path is a file; FS902 the database is
damaged or not a run store (left untouched); FS903 the lock was held too long; FS904 an
unknown run ID (with the closest); FS905 an ambiguous ID prefix; FS906 a record that cannot
do that (no Dataset, nothing to recompute); FS907 stored files missing or changed; FS908 a
bad record kind or an ID collision; FS909 a folder that cannot be written; FS910 a store
from a newer firesale; FS911 a write that failed and was rolled back; FS912 run folders
without their database (``runs.duckdb`` deleted or moved); FS913 a record whose folder
points outside the store; FS914 a stored ``results.nc`` that cannot be read (truncated).

**Recording never loses a result.** A command records through :func:`recording_store`,
whose :meth:`RecordingStore.record` does not raise when the store cannot be written (a
read-only folder, a full disk, a lock held too long): it returns None, keeps the reason in
``not_recorded`` and prints it on stderr, so the command still prints what it computed.
:meth:`RunStore.try_record` gives the same as a :class:`Recording` (run ID or reason).

Only this module imports duckdb, and only when a store is opened.

Examples
--------
>>> import tempfile
>>> from firesale import load_preset, simulate
>>> from firesale.analytics.amplification import summarize
>>> preset = load_preset("dealer_prime")
>>> ds = simulate(preset.system, preset.scenario)
>>> folder = tempfile.TemporaryDirectory()
>>> store = RunStore(folder.name)
>>> run_id = store.record("run", "dealer_prime", preset.system, [preset.scenario], ds, summarize(ds))
>>> store.get(run_id).metrics["forced_sales"] == summarize(ds)["forced_sales"]
True
>>> store.rerun(run_id).equal
True
>>> folder.cleanup()
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import hashlib
import json
import math
import os
import random
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from firesale._version import __version__
from firesale.errors import FiresaleError, Problem

if TYPE_CHECKING:
    import xarray as xr

    from firesale.scenario import Scenario
    from firesale.system import System

__all__ = [
    "RunStore", "RunEntry", "RunRecord", "Rerun", "StoreError", "KINDS", "DEFAULT_STORE", "STORE_ENV",
    "RUN_COLUMNS", "input_hash", "headline_metrics", "first_difference", "recording_store", "Recording",
    "RecordingStore",
]

#: The store folder used when neither a path nor ``FIRESALE_STORE`` is given.
DEFAULT_STORE = "firesale-runs"
#: Environment variable naming the store folder.
STORE_ENV = "FIRESALE_STORE"
#: What a record can be: a ``run``, a ``compare`` batch, a ``sweep``, a ``replication`` or a
#: ``calibration`` (``firesale calibrate``: the fitted system and its targets' batch, with the
#: free parameters, bounds, fitted values and residuals before and after in its params).
KINDS = ("run", "compare", "sweep", "replication", "calibration")
#: Kinds that carry a System and scenarios, so that :meth:`RunStore.rerun` can recompute them.
RERUNNABLE_KINDS = ("run", "compare", "sweep", "calibration")

DATABASE_NAME = "runs.duckdb"
LOCK_NAME = "runs.lock"
RESULTS_NAME = "results.nc"
SYSTEM_DIR = "system"
_FORMAT = "firesale-run-store"
_SCHEMA_VERSION = 1

#: Columns of the ``runs`` table: name, DuckDB type, description.
RUN_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run_id", "VARCHAR PRIMARY KEY", "12 hex digits; any unique prefix of 4 or more names the run too"),
    ("seq", "BIGINT NOT NULL UNIQUE", "1, 2, 3, ... in the order records were committed"),
    ("kind", "VARCHAR NOT NULL", "run, compare, sweep, replication or calibration"),
    ("target", "VARCHAR NOT NULL", "the preset name, file or folder run (a replication: its name)"),
    ("command", "VARCHAR NOT NULL", "the command line that made the record ('' from Python)"),
    ("created_at", "TIMESTAMP NOT NULL", "when the record was committed (UTC)"),
    ("firesale_version", "VARCHAR NOT NULL", "the package version that computed the result"),
    ("input_hash", "VARCHAR NOT NULL", "sha256 of the canonical inputs: system tables, scenarios, version"),
    ("scenario_names", "VARCHAR NOT NULL", "the scenarios' names, comma-separated (for listing)"),
    ("config", "VARCHAR NOT NULL", "JSON: system (name, currency, description, tables_hash), scenarios, params"),
    ("summary", "VARCHAR NOT NULL", "JSON: the summary the command printed"),
    ("metrics", "VARCHAR NOT NULL", "JSON: the headline numbers of the summary"),
    ("timings", "VARCHAR NOT NULL", "JSON: seconds spent, e.g. simulate_s, store_s"),
    ("data_dir", "VARCHAR", "folder of results.nc and system/ relative to the store; NULL without a Dataset"),
)
_COLUMN_NAMES = tuple(name for name, _, _ in RUN_COLUMNS)
_LIST_COLUMNS = ("run_id", "seq", "kind", "target", "created_at", "firesale_version", "input_hash",
                 "scenario_names", "metrics")
_HEADLINE = ("total_loss", "amplification", "forced_sales", "defaults", "rounds")


class StoreError(FiresaleError):
    """The run store cannot do what was asked: a path that is not a store folder, a
    damaged database, an unknown run ID, a store held by another process too long."""


# --------------------------------------------------------------------------- records
@dataclasses.dataclass(frozen=True)
class RunEntry:
    """One line of :meth:`RunStore.list`: what a record is, without its full contents."""

    run_id: str
    seq: int
    kind: str
    target: str
    created_at: dt.datetime
    firesale_version: str
    input_hash: str
    scenario_names: str
    metrics: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class RunRecord(RunEntry):
    """A whole record, as :meth:`RunStore.get` returns it.

    Attributes
    ----------
    command : str
        The command line that made it (``""`` when recorded from Python).
    config : dict
        ``{"system": {name, currency, description, tables_hash}, "scenarios": [...],
        "params": {...}}``; scenarios as :meth:`Scenario.model_dump` mappings.
    summary : dict
        The summary the command printed (``firesale run --json`` for a run).
    timings : dict
        Seconds: ``simulate_s`` (given by the caller), ``store_s`` (writing the files).
    data_dir : Path or None
        Absolute folder of ``results.nc`` and ``system/``; None for a record without a Dataset.
    """

    command: str = ""
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    timings: dict[str, Any] = dataclasses.field(default_factory=dict)
    data_dir: Path | None = None

    def as_json(self) -> dict[str, Any]:
        """The record as plain JSON-ready values (``firesale runs show --json``)."""
        out = dataclasses.asdict(self)
        out["created_at"] = self.created_at.isoformat() + "Z"
        out["data_dir"] = None if self.data_dir is None else str(self.data_dir)
        return out


class Rerun(NamedTuple):
    """What :meth:`RunStore.rerun` found.

    Attributes
    ----------
    stored, recomputed : xarray.Dataset
        The Dataset read from the store and the one computed again from the stored inputs.
    equal : bool
        True when every variable and coordinate is equal bit for bit (NaN equal to NaN)
        and the summary recomputed from the result equals the stored one (what
        ``firesale runs show``, ``list`` and ``diff`` display).
    difference : str or None
        The first difference found, in words (None when equal): in the Dataset first,
        else in the summary or its headline metrics.
    recorded_version : str
        The firesale version that made the record (the current one may differ).
    run_id : str
        The full ID of the run.
    summary_checked : bool
        Whether the stored summary was recomputed and compared (a ``run`` or ``compare``
        record; False for kinds whose summary firesale cannot recompute).
    """

    stored: xr.Dataset
    recomputed: xr.Dataset
    equal: bool
    difference: str | None
    recorded_version: str
    run_id: str
    summary_checked: bool = False


class Recording(NamedTuple):
    """What :meth:`RunStore.try_record` did: the new run ID, or why nothing was recorded.

    Attributes
    ----------
    run_id : str or None
        The new record's ID; None when it was not recorded.
    reason : str or None
        Why it was not recorded (a read-only store, a full disk ...), with the error code
        and what to do; None when recorded.
    """

    run_id: str | None
    reason: str | None

    @property
    def recorded(self) -> bool:
        """Whether the record was made."""
        return self.run_id is not None


# --------------------------------------------------------------------------- canonical inputs
def _canonical(value: Any) -> str:
    """JSON text that is the same for equal values: sorted keys, no spaces, floats by repr."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True, default=str)


def _sha256(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()


def _system_tables(system: System) -> dict[str, Any]:
    """The System's contents as plain values: every row, and a sha256 of each (N, K)
    matrix's positions and values (the same for its dense and CSR forms) and of the
    correlation matrix."""
    import numpy as np

    from firesale.matrices import triplets, values_at

    rows, cols = system.positions

    def digest(*arrays: np.ndarray) -> str:
        h = hashlib.sha256()
        for array in arrays:
            h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()

    return {
        "institutions": [i.model_dump() for i in system.institutions],
        "assets": [a.model_dump(by_alias=True) for a in system.assets],
        **{name: digest(*triplets(getattr(system, name))) for name in (
            "holdings", "repo", "derivative", "initial_margin", "market_share")},
        # a trading fraction means something at a position only (see System)
        "trading_fraction": digest(rows, cols, values_at(system.trading_fraction, rows, cols)),
        "correlation": digest(system.correlation),
    }


def _scenario_dicts(scenarios: Sequence[Scenario]) -> list[dict[str, Any]]:
    # model_dump, not model_dump_json: pydantic writes an infinite float as null in JSON
    return [json.loads(json.dumps(s.model_dump(), allow_nan=True)) for s in scenarios]


def input_hash(system: System | None, scenarios: Sequence[Scenario] | Sequence[Mapping[str, Any]],
               version: str = __version__, params: Mapping[str, Any] | None = None) -> str:
    """sha256 of the inputs of a record: the System (name, currency, description, every
    table), the scenarios, extra parameters and the package version.

    Parameters
    ----------
    system : System or None
        None for a record without a system (a replication on public data).
    scenarios : sequence of Scenario or of their ``model_dump`` mappings
    version : str
        The firesale version; a result is only expected to reproduce under the same one.
    params : mapping, optional
        Further configuration (policy names, a replication's parameters).

    Returns
    -------
    str
        64 hex digits.
    """
    dicts = [json.loads(json.dumps(s, allow_nan=True)) if isinstance(s, Mapping) else _scenario_dicts([s])[0]
             for s in scenarios]
    payload: dict[str, Any] = {"firesale_version": version, "scenarios": dicts, "params": dict(params or {})}
    if system is not None:
        payload["system"] = {"name": system.name, "currency": system.currency, "description": system.description,
                             "tables": _system_tables(system)}
    return _sha256(payload)


def headline_metrics(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers :meth:`RunStore.list` shows: total loss, amplification, forced sales,
    defaults and rounds of a run (of each column of a comparison, ``NAME.total_loss``),
    or the top-level numbers and words of any other summary."""
    if "total_loss" in summary:
        return {k: summary[k] for k in _HEADLINE if k in summary}
    if isinstance(summary.get("baseline"), Mapping) and isinstance(summary.get("policies"), Mapping):
        columns = {"baseline": summary["baseline"], **summary["policies"]}
        return {f"{name}.{k}": s[k] for name, s in columns.items() for k in _HEADLINE if k in s}
    return {k: v for k, v in summary.items() if v is None or isinstance(v, (bool, int, float, str))}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to scalar leaves; a list of named mappings is keyed by name
    (``institutions[dealer_a].sales``), other lists by position (``shocks[0].price``)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Mapping) and "name" in v for v in value):
            names = [str(v["name"]) for v in value]
            keys = names if len(set(names)) == len(names) else [str(i) for i in range(len(value))]
        else:
            keys = [str(i) for i in range(len(value))]
        if not value:
            return {prefix: []}
        out = {}
        for key, item in zip(keys, value):
            out.update(_flatten(item, f"{prefix}[{key}]"))
        return out
    return {prefix: value}


def _same(a: Any, b: Any) -> bool:
    """Equal values, NaN equal to NaN, ``True`` not equal to ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# --------------------------------------------------------------------------- comparing Datasets
def _bits_equal(a: Any, b: Any) -> bool:
    """Two arrays equal bit for bit, NaN equal to NaN (whatever its payload)."""
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        if a.dtype.kind not in "fiub" or b.dtype.kind not in "fiub":
            return False
        a, b = a.astype(np.float64), b.astype(np.float64)
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        if not np.array_equal(nan_a, nan_b):
            return False
        return bool(np.array_equal(a[~nan_a].view(np.uint64), b[~nan_b].view(np.uint64)))
    if a.dtype.kind in "OUS" or b.dtype.kind in "OUS":  # netCDF gives text back as object arrays
        return a.astype(str).tolist() == b.astype(str).tolist()
    return bool(np.array_equal(a, b))  # int64 written as int32 by netCDF 3 compares by value


def first_difference(stored: xr.Dataset, recomputed: xr.Dataset) -> str | None:
    """The first variable or coordinate (sorted by name) in which two results differ, in
    words with the first differing cell; None when they are equal bit for bit.

    Examples
    --------
    >>> import xarray as xr
    >>> a = xr.Dataset({"loss": ("round", [1.0, float("nan")])})
    >>> first_difference(a, a.copy()) is None
    True
    >>> first_difference(a, a + 1e-12)
    'loss differs at round=0: 1.0 stored, 1.000000000001 recomputed'
    """
    import numpy as np

    names_a, names_b = set(stored.variables), set(recomputed.variables)
    if names_a != names_b:
        only_a, only_b = sorted(map(str, names_a - names_b)), sorted(map(str, names_b - names_a))
        return (f"the variables differ: only stored {', '.join(only_a) or '-'}; "
                f"only recomputed {', '.join(only_b) or '-'}")
    for name in sorted(map(str, names_a)):
        a, b = stored[name], recomputed[name]
        if a.dims != b.dims or a.shape != b.shape:
            return f"{name} has dims {dict(a.sizes)} stored and {dict(b.sizes)} recomputed"
        if _bits_equal(a.values, b.values):
            continue
        va, vb = np.asarray(a.values), np.asarray(b.values)
        if va.ndim == 0:
            return f"{name} differs: {va.item()!r} stored, {vb.item()!r} recomputed"
        cells = np.argwhere(~_cellwise_equal(va, vb))
        cell = tuple(int(i) for i in cells[0]) if len(cells) else (0,) * va.ndim
        where = ", ".join(f"{dim}={stored[dim].values[i] if dim in stored.coords else i}"
                          for dim, i in zip(a.dims, cell))
        return f"{name} differs at {where}: {va[cell].item()!r} stored, {vb[cell].item()!r} recomputed"
    return None


def _cellwise_equal(a: Any, b: Any) -> Any:
    import numpy as np

    if a.dtype.kind == "f" or b.dtype.kind == "f":
        a, b = a.astype(np.float64), b.astype(np.float64)
        same_bits = a.view(np.uint64) == b.view(np.uint64)
        return same_bits | (np.isnan(a) & np.isnan(b))
    if a.dtype.kind in "OUS" or b.dtype.kind in "OUS":
        return a.astype(str) == b.astype(str)
    return a == b


def _recompute_summary(record: RunRecord, ds: xr.Dataset, scenarios: Sequence[Scenario]) -> dict[str, Any] | None:
    """The summary the command that made ``record`` printed, computed again from ``ds``
    (JSON round-tripped as stored); None for a kind whose summary firesale does not make."""
    if record.kind == "run":
        from firesale.analytics.amplification import summarize

        summary = summarize(ds)
    elif record.kind == "compare" and isinstance(record.config.get("params", {}).get("policies"), list):
        from firesale.analytics.compare import summarize_comparison

        summary = summarize_comparison(ds, list(scenarios), list(record.config["params"]["policies"]))
    else:
        return None
    return json.loads(json.dumps(summary, allow_nan=True, default=str))


def _summary_difference(record: RunRecord, summary: Mapping[str, Any]) -> str | None:
    """The first key in which the stored summary (or its headline metrics, what ``runs
    list`` shows) differs from the recomputed one, in words; None when they agree."""
    for label, stored, again in (("summary", record.summary, summary),
                                 ("headline metrics", record.metrics, headline_metrics(summary))):
        flat_stored, flat_again = _flatten(stored), _flatten(again)
        for key in dict.fromkeys([*flat_again, *flat_stored]):
            a, b = flat_stored.get(key, _MISSING), flat_again.get(key, _MISSING)
            if not _same(a, b):
                shown = ["(missing)" if v is _MISSING else repr(v) for v in (a, b)]
                return f"the stored {label} differs at {key}: {shown[0]} stored, {shown[1]} recomputed"
    return None


_MISSING = object()


def _collision(run_id: str) -> StoreError:
    return StoreError(Problem("FS908", f"run {run_id}", "a record with this new, random ID exists already (a "
                              "1 in 10^14 coincidence): nothing was written; run the command again"))


def _new_run_id() -> str:
    """12 random hex digits (48 bits): unique in any store of practical size."""
    return uuid.uuid4().hex[:12]


# --------------------------------------------------------------------------- locks
def _flock(fd: int, exclusive: bool, blocking: bool) -> bool:
    """Take a ``flock`` on ``fd`` (released when ``fd`` is closed); False when not blocking
    and someone else holds it. Without POSIX locks (Windows), every lock is exclusive."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows, untested
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK, 1)
        except OSError:
            if blocking:
                raise StoreError(Problem("FS903", "run store lock", "another firesale process holds the run "
                                         "store: wait for it to finish and try again")) from None
            return False
        return True
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(fd, mode if blocking else mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _fsync_tree(directory: Path) -> None:
    """Flush every file under ``directory`` to disk, so a rename never exposes unwritten data."""
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


# --------------------------------------------------------------------------- the store
class RunStore:
    """A folder of recorded runs (see the module docstring for its layout).

    Opening a store touches nothing; the folder and database are created by the first
    record, and reading a store that does not exist yet finds no runs.

    Parameters
    ----------
    path : str or Path, optional
        The store folder. Default: the ``FIRESALE_STORE`` environment variable, else
        ``./firesale-runs``.
    lock_timeout : float
        Seconds to wait for another process's write before giving up with a StoreError.

    Raises
    ------
    StoreError
        ``path`` is a file, not a folder.
    """

    def __init__(self, path: str | Path | None = None, *, lock_timeout: float = 60.0) -> None:
        chosen = path if path not in (None, "") else os.environ.get(STORE_ENV) or DEFAULT_STORE
        self.path = Path(chosen).expanduser().absolute()
        self.lock_timeout = float(lock_timeout)
        self._validated = False
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(Problem(
                "FS901", str(self.path),
                "is a file, not a run store folder: give a folder with --store PATH (or FIRESALE_STORE), "
                "e.g. --store firesale-runs; the file was left as it is"))

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    @property
    def database(self) -> Path:
        """The DuckDB file, ``<store>/runs.duckdb``."""
        return self.path / DATABASE_NAME

    # ------------------------------------------------------------------ locking and connections
    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        """Hold ``runs.lock``: exclusively to write, shared to read. A read-only folder
        (no lock file and none can be made) is read without a lock: nobody writes there."""
        lock = self.path / LOCK_NAME
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            if exclusive:
                raise StoreError(Problem("FS909", str(lock), f"cannot create the lock file ({err.strerror}): "
                                         "check the folder's permissions, or use --store with a folder you "
                                         "can write")) from None
            yield
            return
        try:
            deadline = time.monotonic() + self.lock_timeout
            while not _flock(fd, exclusive, blocking=False):
                if time.monotonic() > deadline:
                    raise StoreError(Problem(
                        "FS903", str(lock),
                        f"another firesale process has held the run store for over {self.lock_timeout:g} s: "
                        "wait for it to finish and try again (or use another --store)"))
                time.sleep(0.002 + 0.008 * random.random())
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _damaged(self, err: BaseException | str) -> StoreError:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return StoreError(Problem(
            "FS902", str(self.database),
            f"is not a readable firesale run store ({detail}); the file was left untouched: move it aside "
            "(or restore it from a backup) and run again, or point --store (FIRESALE_STORE) at another folder"))

    @contextlib.contextmanager
    def _connect(self, read_only: bool) -> Iterator[Any]:
        """A DuckDB connection to the database, checked to be a firesale store.

        Call while holding the lock: exclusive for ``read_only=False``."""
        import duckdb

        try:
            conn = duckdb.connect(str(self.database), read_only=read_only)
        except duckdb.Error as err:
            if not read_only and not os.access(self.database, os.W_OK):
                raise StoreError(Problem("FS909", str(self.database), "cannot write the database (permission "
                                         "denied): use --store with a folder you can write, or --no-record")) from None
            raise self._damaged(err) from None
        try:
            if read_only or not self._validated:
                try:
                    self._check_schema(conn)
                except duckdb.Error as err:
                    raise self._damaged(err) from None
            yield conn
        finally:
            conn.close()

    def _check_schema(self, conn: Any) -> None:
        """Raise StoreError unless ``conn`` is a firesale run store this version can read."""
        import duckdb

        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except duckdb.CatalogException:
            raise self._damaged("a DuckDB database without the table meta: not a firesale run store") from None
        if meta.get("format") != _FORMAT:
            raise self._damaged(f"meta.format is {meta.get('format')!r}, not {_FORMAT!r}")
        version = int(meta.get("schema_version", "0"))
        if version > _SCHEMA_VERSION:
            raise StoreError(Problem(
                "FS910", str(self.database),
                f"was written by a newer firesale (store schema {version}; this one reads {_SCHEMA_VERSION}): "
                "upgrade firesale (pip install -U firesale), or use another --store"))
        # every column named; and the run IDs read once, so that a damaged block fails its checksum here
        conn.execute(f"SELECT {', '.join(_COLUMN_NAMES)} FROM runs LIMIT 0").fetchall()
        conn.execute("SELECT count(*), max(seq), max(length(run_id)) FROM runs").fetchall()

    def _ensure_database(self) -> None:
        """Create the database if missing (under the exclusive lock); check it otherwise.

        A new database is built under a temporary name and renamed into place, so a kill
        during creation leaves no half-made store."""
        if self.database.exists():
            if not self._validated:
                with self._connect(read_only=True):  # validate read-only first: a bad file stays untouched
                    pass
                self._validated = True
            return
        import duckdb

        self._refuse_orphans()  # a new, empty database would hide them
        part = self.path / f"{DATABASE_NAME}.{os.getpid()}.part"
        for leftover in (part, part.with_name(part.name + ".wal")):
            leftover.unlink(missing_ok=True)
        conn = duckdb.connect(str(part))
        try:
            conn.execute("BEGIN")
            conn.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
            conn.execute("INSERT INTO meta VALUES ('format', ?), ('schema_version', ?), ('created_by', ?)",
                         [_FORMAT, str(_SCHEMA_VERSION), f"firesale {__version__}"])
            columns = ", ".join(f"{name} {kind}" for name, kind, _ in RUN_COLUMNS)
            conn.execute(f"CREATE TABLE runs ({columns})")
            conn.execute("COMMIT")
            conn.execute("CHECKPOINT")
        finally:
            conn.close()
        os.replace(part, self.database)
        self._validated = True

    def _clean_up(self) -> None:
        """Remove what killed writers left behind (call under the exclusive lock): folders in
        ``tmp/`` whose writer is gone, and run folders journaled in ``pending/`` that never
        got their row."""
        tmp = self.path / "tmp"
        if tmp.is_dir():
            for entry in tmp.iterdir():
                if entry.suffix == ".lock":
                    try:
                        fd = os.open(entry, os.O_RDWR)
                    except FileNotFoundError:  # its writer just finished
                        continue
                    try:
                        if _flock(fd, exclusive=True, blocking=False):  # its writer is gone
                            shutil.rmtree(entry.with_suffix(""), ignore_errors=True)
                            entry.unlink(missing_ok=True)
                    finally:
                        os.close(fd)
                elif entry.is_dir() and not entry.with_suffix(".lock").exists():
                    shutil.rmtree(entry, ignore_errors=True)
        pending = self.path / "pending"
        if pending.is_dir():
            journaled = [p for p in pending.iterdir()]
            if journaled:
                with self._connect(read_only=False) as conn:
                    known = {row[0] for row in conn.execute(
                        f"SELECT run_id FROM runs WHERE run_id IN ({', '.join('?' for _ in journaled)})",
                        [p.name for p in journaled]).fetchall()}
                for marker in journaled:
                    if marker.name not in known:
                        shutil.rmtree(self.path / "runs" / marker.name, ignore_errors=True)
                    marker.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _tmp_folder(self, run_id: str) -> Iterator[Path]:
        """``tmp/<run_id>/``, guarded by ``tmp/<run_id>.lock`` held for as long as it is written."""
        tmp = self.path / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        lock = tmp / f"{run_id}.lock"
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
            _flock(fd, exclusive=True, blocking=True)
            try:
                if os.path.samestat(os.fstat(fd), os.stat(lock)):
                    break  # the file locked is still the one named; a clean-up did not remove it meanwhile
            except FileNotFoundError:
                pass
            os.close(fd)
        folder = tmp / run_id
        try:
            folder.mkdir()
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # gone already once renamed into runs/
            lock.unlink(missing_ok=True)
            os.close(fd)

    def check(self) -> None:
        """Check, read-only, that an existing database is a readable run store (a command
        calls this before a long simulation, so that a bad store fails at once).

        Raises
        ------
        StoreError
            The database is damaged or not a firesale run store; it is left untouched.
        """
        if self.database.exists():
            with self._locked(exclusive=False), self._connect(read_only=True):
                self._validated = True
        else:
            self._refuse_orphans()

    # ------------------------------------------------------------------ a database gone missing
    def orphaned_folders(self) -> list[str]:
        """The run folders (``runs/<run_id>/``) of a store whose database is missing: records
        that can no longer be listed (``runs.duckdb`` was deleted or moved). Empty when the
        database exists."""
        if self.database.exists():
            return []
        try:
            return sorted(p.name for p in (self.path / "runs").iterdir() if p.is_dir())
        except OSError:
            return []

    def _orphans_problem(self, folders: Sequence[str]) -> Problem:
        import shlex

        runs = self.path / "runs"
        shown = ", ".join(folders[:5]) + (f" and {len(folders) - 5} more" if len(folders) > 5 else "")
        return Problem(
            "FS912", str(self.database),
            f"is missing, but {len(folders)} run folder{'' if len(folders) == 1 else 's'} without a database "
            f"remain{'s' if len(folders) == 1 else ''} in {runs} ({shown}): their records cannot be listed or "
            f"rerun. Restore {DATABASE_NAME} from a backup; or, to start a new store, first move the old folders "
            f"aside: mv {shlex.quote(str(runs))} {shlex.quote(str(runs) + '.orphaned')}")

    def missing_database_warning(self) -> str | None:
        """A warning (FS912) naming the run folders left without a database, with how to
        recover; None when the store is whole (``firesale runs list`` prints it)."""
        folders = self.orphaned_folders()
        return str(self._orphans_problem(folders)) if folders else None

    def _refuse_orphans(self) -> None:
        folders = self.orphaned_folders()
        if folders:
            raise StoreError(self._orphans_problem(folders))

    # ------------------------------------------------------------------ writing
    def record(
        self,
        kind: str,
        target: str,
        system: System,
        scenarios: Scenario | Sequence[Scenario],
        ds: xr.Dataset,
        summary: Mapping[str, Any],
        timings: Mapping[str, float] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        command: str = "",
    ) -> str:
        """Record a run, comparison or sweep with its inputs and results.

        Parameters
        ----------
        kind : {"run", "compare", "sweep", "calibration"}
        target : str
            The preset name, ``.toml`` file or table folder that was run.
        system : System
            Stored as Parquet tables, so that :meth:`rerun` reads back the same numbers.
        scenarios : Scenario or sequence of Scenario
            The batch given to :func:`firesale.simulate`, in order.
        ds : xarray.Dataset
            The result of ``simulate(system, scenarios)``; stored as ``results.nc``.
        summary : mapping
            JSON-ready summary (what the command printed).
        timings : mapping, optional
            Seconds spent, e.g. ``{"simulate_s": 0.05}``; ``store_s`` is added.
        params : mapping, optional
            Further configuration to keep (e.g. the policy names of a comparison).
        command : str
            The command line, shown by ``firesale runs show``.

        Returns
        -------
        str
            The new run ID.

        Raises
        ------
        StoreError
            The store is damaged, not a folder, or held by another process too long.
        """
        from firesale.scenario import Scenario

        if kind not in RERUNNABLE_KINDS:
            raise StoreError(Problem("FS908", f"record kind {kind!r}",
                                     f"records with a system are of kind {', '.join(RERUNNABLE_KINDS)}; use "
                                     "record_replication for results without a system"))
        scenarios = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
        dicts = _scenario_dicts(scenarios)
        config = {
            "system": {"name": system.name, "currency": system.currency, "description": system.description,
                       "tables_hash": _sha256(_system_tables(system))},
            "scenarios": dicts,
            "params": dict(params or {}),
        }
        row = {
            "kind": kind, "target": str(target), "command": command,
            "input_hash": input_hash(system, dicts, params=params),
            "scenario_names": ", ".join(s.name for s in scenarios),
            "config": config, "summary": dict(summary), "timings": dict(timings or {}),
        }
        return self._guarded_write(row, ds, system)

    def record_replication(
        self,
        kind: str,
        params: Mapping[str, Any],
        summary: Mapping[str, Any],
        *,
        target: str = "",
        timings: Mapping[str, float] | None = None,
        command: str = "",
    ) -> str:
        """Record a replication or sweep whose inputs are parameters, not a System.

        Such a record keeps its full configuration (``params``), the summary and timings,
        but no Dataset: :meth:`rerun` cannot recompute it; run its command again.

        Parameters
        ----------
        kind : {"replication", "sweep"}
        params : mapping
            Every parameter that determines the result (model, data set, sizes, seeds), JSON-ready.
        summary : mapping
            JSON-ready summary, e.g. what ``firesale vulnerability --json`` prints.
        target : str
            What was replicated, e.g. ``"vulnerability eba2011"``.
        timings : mapping, optional
        command : str

        Returns
        -------
        str
            The new run ID.

        Examples
        --------
        >>> import tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> store = RunStore(folder.name)
        >>> run_id = store.record_replication("replication", {"model": "glt", "write_down": 0.1},
        ...                                   {"aggregate_vulnerability": 0.25}, target="vulnerability eba2011")
        >>> store.get(run_id).metrics
        {'aggregate_vulnerability': 0.25}
        >>> folder.cleanup()
        """
        if kind not in ("replication", "sweep"):
            raise StoreError(Problem("FS908", f"record kind {kind!r}",
                                     "record_replication takes kind 'replication' or 'sweep'; use record for "
                                     "a run or comparison with its system"))
        params = json.loads(json.dumps(dict(params), allow_nan=True, default=str))
        row = {
            "kind": kind, "target": target, "command": command,
            "input_hash": input_hash(None, [], params={"kind": kind, "target": target, **params}),
            "scenario_names": "", "config": {"params": params}, "summary": dict(summary),
            "timings": dict(timings or {}),
        }
        return self._guarded_write(row, None, None)

    def try_record(self, *args: Any, **kwargs: Any) -> Recording:
        """:meth:`record` that does not raise when the store cannot be written.

        Takes the arguments of :meth:`record`. A store that cannot take the record (a
        read-only folder, a full disk, a lock held too long, a damaged database) gives a
        :class:`Recording` with ``run_id`` None and the ``reason``, so that the caller can
        still show the result it computed.
        """
        return self._trying(self.record, *args, **kwargs)

    def try_record_replication(self, *args: Any, **kwargs: Any) -> Recording:
        """:meth:`record_replication` that does not raise when the store cannot be written
        (see :meth:`try_record`)."""
        return self._trying(self.record_replication, *args, **kwargs)

    def _trying(self, write: Any, *args: Any, **kwargs: Any) -> Recording:
        try:
            return Recording(write(*args, **kwargs), None)
        except (StoreError, OSError) as err:  # a record's OSError is a StoreError already; any other, too
            return Recording(None, self._not_recorded(str(err)))

    def _not_recorded(self, reason: str) -> str:
        return f"not recorded in the run store {self.path}: {reason}"

    def _guarded_write(self, row: dict[str, Any], ds: xr.Dataset | None, system: System | None) -> str:
        """:meth:`_write`, with a failed file operation (a read-only folder, a full disk) as
        a StoreError (FS909) naming the path: a record never fails with a bare OSError."""
        try:
            return self._write(row, ds, system)
        except OSError as err:
            where, reason = err.filename or self.path, err.strerror or type(err).__name__
        except FiresaleError as err:
            if isinstance(err, StoreError) or [p.code for p in err.problems] != ["FS915"]:
                raise
            found = re.search(r"\(([^()]*)\)", err.problems[0].message)
            where, reason = err.problems[0].where, found.group(1) if found else "write failed"
        raise StoreError(Problem("FS909", str(where), f"cannot write the record ({reason}); nothing was recorded: "
                                 "use --store with a folder you can write, or --no-record"))

    def _write(self, row: dict[str, Any], ds: xr.Dataset | None, system: System | None) -> str:
        run_id = _new_run_id()
        timings = row["timings"]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(Problem("FS909", str(self.path), f"cannot create the store folder "
                                     f"({err.strerror}): use --store with a folder you can write")) from None
        with contextlib.ExitStack() as stack:
            data_dir = None
            if ds is not None:
                from firesale.data.netcdf import save_dataset
                from firesale.data.tables import write_tables

                started = time.perf_counter()
                folder = stack.enter_context(self._tmp_folder(run_id))
                save_dataset(ds, folder / RESULTS_NAME)
                write_tables(system, folder / SYSTEM_DIR, fmt="parquet")
                _fsync_tree(folder)
                timings["store_s"] = time.perf_counter() - started
                data_dir = f"runs/{run_id}"
            with self._locked(exclusive=True):
                self._ensure_database()
                self._clean_up()
                marker = None
                if data_dir is not None:
                    if (self.path / data_dir).exists():
                        raise _collision(run_id)
                    marker = self.path / "pending" / run_id
                    marker.parent.mkdir(exist_ok=True)
                    marker.touch()  # journaled before the rename: a kill from here on is cleaned up
                    (self.path / "runs").mkdir(exist_ok=True)
                    try:
                        os.rename(folder, self.path / data_dir)
                    except BaseException:
                        marker.unlink(missing_ok=True)
                        raise
                try:
                    self._insert(run_id, row, data_dir)
                except BaseException:
                    if data_dir is not None:
                        shutil.rmtree(self.path / data_dir, ignore_errors=True)
                    raise
                finally:
                    if marker is not None:
                        marker.unlink(missing_ok=True)
        return run_id

    def _insert(self, run_id: str, row: dict[str, Any], data_dir: str | None) -> None:
        import duckdb

        values = {
            **row, "run_id": run_id, "data_dir": data_dir, "firesale_version": __version__,
            "created_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
            "metrics": headline_metrics(row["summary"]),
        }
        for key in ("config", "summary", "metrics", "timings"):
            values[key] = json.dumps(values[key], allow_nan=True, default=str)
        columns = [c for c in _COLUMN_NAMES if c != "seq"]
        with self._connect(read_only=False) as conn:
            try:
                conn.execute("BEGIN TRANSACTION")
                conn.execute(
                    f"INSERT INTO runs (seq, {', '.join(columns)}) SELECT coalesce(max(seq), 0) + 1, "
                    f"{', '.join('?' for _ in columns)} FROM runs", [values[c] for c in columns])
                conn.execute("COMMIT")
            except duckdb.Error as err:
                with contextlib.suppress(duckdb.Error):
                    conn.execute("ROLLBACK")
                if isinstance(err, duckdb.ConstraintException):
                    raise _collision(run_id) from None
                detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise StoreError(Problem(
                    "FS911", str(self.database),
                    f"could not write the record ({detail}); the transaction was rolled back and the store is "
                    "unchanged: check free disk space and permissions, then run again")) from None

    # ------------------------------------------------------------------ reading
    @contextlib.contextmanager
    def _reading(self) -> Iterator[Any]:
        """A read-only connection under the shared lock; None when the store has no database yet."""
        if not self.database.exists():
            yield None
            return
        with self._locked(exclusive=False):
            if not self.database.exists():
                yield None
                return
            with self._connect(read_only=True) as conn:
                yield conn

    def _rows(self, conn: Any, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import duckdb

        if conn is None:
            return []
        try:
            return conn.execute(sql, list(parameters)).fetchall()
        except duckdb.Error as err:
            raise self._damaged(err) from None

    def list(self, kind: str | None = None, limit: int | None = None) -> list[RunEntry]:
        """The records, oldest first; the latest ``limit`` of them, of one ``kind`` if given."""
        where = "WHERE kind = ?" if kind else ""
        with self._reading() as conn:
            rows = self._rows(
                conn, f"SELECT {', '.join(_LIST_COLUMNS)} FROM runs {where} ORDER BY seq DESC"
                + (f" LIMIT {int(limit)}" if limit is not None else ""), [kind] if kind else [])
        return [self._entry(r) for r in reversed(rows)]

    def _entry(self, row: Sequence[Any]) -> RunEntry:
        values = dict(zip(_LIST_COLUMNS, row))
        values["metrics"] = json.loads(values["metrics"])
        return RunEntry(**values)

    def resolve(self, run_id: str) -> str:
        """The full run ID of ``run_id`` or of a unique prefix of it (4 characters or more).

        Raises
        ------
        StoreError
            No such run (with the closest IDs), or a prefix shared by several.
        """
        with self._reading() as conn:
            return self._resolve(conn, run_id)

    def _resolve(self, conn: Any, run_id: str) -> str:
        text = str(run_id).strip().lower()
        matches = []
        if len(text) >= 4:
            matches = [r[0] for r in self._rows(
                conn, "SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY seq", [text])]
        if text in matches:
            return text
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise StoreError(Problem("FS905", f"run {run_id!r}",
                                     f"the prefix names {len(matches)} runs ({', '.join(matches[:10])}): give "
                                     "more characters of the ID"))
        ids = [r[0] for r in self._rows(conn, "SELECT run_id FROM runs ORDER BY seq DESC")]
        if not ids and conn is None:
            self._refuse_orphans()
        if not ids:
            raise StoreError(Problem("FS904", f"run {run_id!r}",
                                     f"unknown run: the store {self.path} holds no runs yet; record one with "
                                     "`firesale run`, or point --store at the folder that holds it"))
        close = difflib.get_close_matches(text, ids, n=3, cutoff=0.4)
        hint = f" Closest IDs: {', '.join(close)}." if close else f" Latest IDs: {', '.join(ids[:3])}."
        raise StoreError(Problem("FS904", f"run {run_id!r}",
                                 f"unknown run in the store {self.path}.{hint} See `firesale runs list`"))

    def get(self, run_id: str) -> RunRecord:
        """The whole record of a run (an ID or a unique prefix of 4+ characters).

        Raises
        ------
        StoreError
            An unknown or ambiguous ID, or a damaged store.
        """
        with self._reading() as conn:
            full = self._resolve(conn, run_id)
            (row,) = self._rows(conn, f"SELECT {', '.join(_COLUMN_NAMES)} FROM runs WHERE run_id = ?", [full])
        values = dict(zip(_COLUMN_NAMES, row))
        for key in ("config", "summary", "metrics", "timings"):
            values[key] = json.loads(values[key])
        values["data_dir"] = None if values["data_dir"] is None else self.path / values["data_dir"]
        return RunRecord(**values)

    def load_dataset(self, run_id: str) -> xr.Dataset:
        """The results Dataset stored with a run.

        Raises
        ------
        StoreError
            The record holds no Dataset (a replication), or its file is missing.
        """
        return self._dataset(self.get(run_id))

    def _data_dir(self, record: RunRecord) -> Path:
        """The record's folder, checked to lie in the store's ``runs/`` (FS913 otherwise:
        an edited row must not make the store read, or compare against, files elsewhere)."""
        assert record.data_dir is not None
        runs = (self.path / "runs").resolve()
        folder = record.data_dir.resolve()
        if folder == runs or not folder.is_relative_to(runs):
            raise StoreError(Problem(
                "FS913", f"run {record.run_id}",
                f"its stored folder {str(record.data_dir)!r} lies outside the store's {runs}: the record was "
                "changed by hand; it is not read. Restore runs.duckdb from a backup, or run the command again"))
        return folder

    def _dataset(self, record: RunRecord) -> xr.Dataset:
        from firesale.data.netcdf import open_dataset

        if record.data_dir is None:
            raise StoreError(Problem("FS906", f"run {record.run_id}",
                                     f"a {record.kind} record holds no Dataset, only its summary: see "
                                     f"`firesale runs show {record.run_id}`"))
        path = self._data_dir(record) / RESULTS_NAME
        if not path.is_file():
            raise StoreError(Problem("FS907", str(path), "the stored Dataset is missing: the store folder was "
                                     "changed by hand; restore the file, or run the command again"))
        try:
            return open_dataset(path)
        except FiresaleError as err:
            message = err.problems[0].message if err.problems else str(err)
            found = re.search(r"\((\w+: .*)\): it is", message)
            raise StoreError(Problem(
                "FS914", str(path),
                f"the stored Dataset of run {record.run_id} cannot be read"
                f"{f' ({found.group(1)})' if found else ''}: it is truncated or damaged; restore the file from a "
                "backup, or run the command again")) from None

    def load_inputs(self, run_id: str) -> tuple[System, list[Scenario]]:
        """The System and scenarios of a run, read back from the store.

        Raises
        ------
        StoreError
            A record without a system (a replication), or its tables are missing.
        """
        return self._inputs(self.get(run_id))

    def _inputs(self, record: RunRecord) -> tuple[System, list[Scenario]]:
        from firesale.data.tables import read_tables
        from firesale.scenario import parse_scenario

        if record.kind not in RERUNNABLE_KINDS or record.data_dir is None:
            raise StoreError(Problem(
                "FS906", f"run {record.run_id}",
                f"a {record.kind} record keeps its parameters, not a system, so it cannot be recomputed from "
                f"the store: run its command again ({record.command or 'see firesale runs show'})"))
        tables = self._data_dir(record) / SYSTEM_DIR
        if not tables.is_dir():
            raise StoreError(Problem("FS907", str(tables), "the stored system tables are missing: the store "
                                     "folder was changed by hand; run the command again"))
        meta = record.config["system"]
        system = read_tables(tables, name=meta["name"], currency=meta["currency"], description=meta["description"])
        scenarios = [parse_scenario(s, source=f"run {record.run_id}") for s in record.config["scenarios"]]
        return system, scenarios

    def rerun(self, run_id: str) -> Rerun:
        """Recompute a run from its stored inputs and compare with its stored Dataset.

        The System is read from its Parquet tables and the scenarios from the record; the
        inputs are checked against the recorded content hash before simulating.

        Returns
        -------
        Rerun
            ``equal`` is True when every variable and coordinate agrees bit for bit (NaN
            with NaN); otherwise ``difference`` names the first one that does not.

        Raises
        ------
        StoreError
            An unknown ID, a record that cannot be recomputed (a replication), or stored
            inputs that no longer hash to the recorded value.
        """
        from firesale.simulation import simulate

        record = self.get(run_id)
        system, scenarios = self._inputs(record)
        again = input_hash(system, scenarios, version=record.firesale_version, params=record.config.get("params"))
        if again != record.input_hash:
            raise StoreError(Problem(
                "FS907", f"run {record.run_id}",
                f"the stored inputs hash to {again[:12]}, not the recorded {record.input_hash[:12]}: the system "
                "tables in the store were changed; the run cannot be reproduced from them"))
        stored = self._dataset(record)
        # measured again where the run measured it (the loop gain costs K + 1 steps a round),
        # with the kernels it ran on (compiled and numpy kernels agree to rounding, not bits)
        recomputed = simulate(system, scenarios, loop_gain="loop_gain" in stored,
                              kernels=stored.attrs.get("kernels", "numpy"))
        difference = first_difference(stored, recomputed)
        summary = _recompute_summary(record, recomputed, scenarios)
        if difference is None and summary is not None:
            difference = _summary_difference(record, summary)
        return Rerun(stored, recomputed, difference is None, difference, record.firesale_version, record.run_id,
                     summary is not None)

    def diff(self, run_a: str, run_b: str) -> dict[str, Any]:
        """Configuration and metric differences between two records.

        Returns
        -------
        dict
            ``{"a": id, "b": id, "config": [...], "metrics": [...]}``: one entry
            ``{"key", "a", "b"}`` per dotted key whose value differs (``None`` where one
            record lacks it); metric entries add ``change`` (b - a) for numbers. The
            configuration includes kind, target, version, the input hash and the system's
            tables hash; the metrics are every number and word of the summaries.
        """
        a, b = self.get(run_a), self.get(run_b)

        def config_of(r: RunRecord) -> dict[str, Any]:
            return _flatten({"kind": r.kind, "target": r.target, "firesale_version": r.firesale_version,
                             "input_hash": r.input_hash, **r.config})

        def changes(fa: dict[str, Any], fb: dict[str, Any], numeric: bool) -> list[dict[str, Any]]:
            out = []
            for key in list(dict.fromkeys([*fa, *fb])):
                va, vb = fa.get(key), fb.get(key)
                if _same(va, vb):
                    continue
                entry: dict[str, Any] = {"key": key, "a": va, "b": vb}
                if numeric and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (va, vb)):
                    entry["change"] = vb - va
                out.append(entry)
            return out

        return {
            "a": a.run_id, "b": b.run_id,
            "config": changes(config_of(a), config_of(b), numeric=False),
            "metrics": changes(_flatten(a.summary), _flatten(b.summary), numeric=True),
        }


def _warn_on_stderr(message: str) -> None:
    import sys

    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()


class RecordingStore(RunStore):
    """The store a command records in (see :func:`recording_store`): :meth:`record` and
    :meth:`record_replication` never raise for a store that cannot be written.

    When a record cannot be made they return None instead of the run ID, keep the reason
    in :attr:`not_recorded` and pass it to ``warn`` (by default printed on stderr as
    ``warning: not recorded in the run store ...``; once for each error code), so the command goes on
    to print what it computed.

    Parameters
    ----------
    path : str or Path, optional
    warn : callable(str), optional
        Told each new reason; None prints it on stderr. Pass ``lambda reason: None`` to
        show :attr:`not_recorded` yourself.
    lock_timeout : float
    """

    def __init__(self, path: str | Path | None = None, *, warn: Callable[[str], None] | None = None,
                 lock_timeout: float = 60.0) -> None:
        super().__init__(path, lock_timeout=lock_timeout)
        self.warn = _warn_on_stderr if warn is None else warn
        #: Why the latest record was not made (None when it was, or before any).
        self.not_recorded: str | None = None
        self._warned: set[str] = set()

    def _settle(self, outcome: Recording) -> str | None:
        self.not_recorded = outcome.reason
        if outcome.reason is None:
            return outcome.run_id
        code = re.search(r"\[FS\d+\]", outcome.reason)
        key = code.group(0) if code else outcome.reason  # a sweep's batches fail alike: said once
        if key not in self._warned:
            self._warned.add(key)
            self.warn(outcome.reason)
        return outcome.run_id

    def record(self, *args: Any, **kwargs: Any) -> str | None:  # type: ignore[override]
        """:meth:`RunStore.record`; None (and the reason in :attr:`not_recorded`) when the
        store cannot be written."""
        return self._settle(self._trying(super().record, *args, **kwargs))

    def record_replication(self, *args: Any, **kwargs: Any) -> str | None:  # type: ignore[override]
        """:meth:`RunStore.record_replication`; None (and the reason in :attr:`not_recorded`)
        when the store cannot be written."""
        return self._settle(self._trying(super().record_replication, *args, **kwargs))

    def try_record(self, *args: Any, **kwargs: Any) -> Recording:
        return self._trying(super().record, *args, **kwargs)

    def try_record_replication(self, *args: Any, **kwargs: Any) -> Recording:
        return self._trying(super().record_replication, *args, **kwargs)


def recording_store(path: str | Path | None, no_record: bool, *,
                    warn: Callable[[str], None] | None = None) -> RecordingStore | None:
    """The store a command records in, opened and checked before the work starts so that a
    bad store (a file, a damaged database, run folders without their database) fails at
    once; None with ``--no-record``.

    A store that turns out not to be writable only when the record is made (a read-only
    folder, a full disk) does not fail the command: :meth:`RecordingStore.record` returns
    None and says why on stderr (or to ``warn``), and the command prints its result.
    """
    if no_record:
        return None
    run_store = RecordingStore(path, warn=warn)
    run_store.check()
    return run_store
