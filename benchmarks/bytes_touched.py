"""Count the bytes a numpy function actually reads and writes, by tracing its array operations.

Used by item 4 of ``benchmarks/run_all.py``: the round kernel's *minimum* traffic (each
``State`` array read once and written once) says how fast a round could be; the bytes it
*actually* moves through numpy calls say how far the code is from that minimum, and
whether its time is spent moving memory or in per-call overhead.

How it counts
-------------
:func:`count_bytes` calls ``fn(*args)`` with every ``ndarray`` found in its arguments
(directly, in tuples, lists and dicts, and in the fields of dataclasses, recursively)
replaced by a view of class :class:`Traced`, an ``ndarray`` subclass that intercepts

* ufuncs (``__array_ufunc__``): every call, method (``reduce``, ``accumulate``,
  ``reduceat``, ``outer``) and operator (``a + b``, ``a @ b``, ``a > 0``, ``a.sum()``,
  ``a.max()``, ``a.any()``, ...) with at least one traced operand: **read** = the nbytes of
  every array operand (``where=`` masks included, each operand once however it
  broadcasts), **written** = the nbytes of every array it returns (``out=`` included);
  ``ufunc.at(a, idx, b)``: read ``idx``, ``b`` and the ``idx.size`` elements of ``a`` it
  updates, written those elements;
* numpy functions (``__array_function__``: ``np.where``, ``np.take``, ``np.concatenate``,
  ``np.bincount``, ``np.cumsum``, ...): read = every array argument, written = every array
  returned; a function whose results all share memory with an argument (``reshape``,
  ``transpose``, ``broadcast_to``, ...) is a view and counts nothing; ``*_like`` functions
  read nothing; gathers (``take``, ``take_along_axis``, ``compress``, ``choose``) read
  their index arrays and as many elements of the source as they return, not the whole
  source;
* indexing: ``a[key]`` with basic (slice) indices is a view and counts nothing; with
  index or mask arrays it reads the index arrays and the elements gathered and writes
  the result; ``a[key] = v`` reads the index arrays and ``v`` and writes the elements
  assigned; ``a[i]`` of one element counts one item read;
* the ndarray methods that do not go through a ufunc (``copy``, ``astype``, ``nonzero``,
  ``argsort``, ``sort``, ``cumsum``, ``cumprod``, ``take``, ``repeat``, ``fill``,
  ``argmax``, ``argmin``, ``dot``, ``tolist``, ``flatten``): read the array (and any array
  argument), write the result;
* array creation while the function runs (``np.zeros``, ``np.ones``, ``np.full``,
  ``np.arange``, ``np.array``, ``np.asarray``, ``np.ascontiguousarray``, ``np.empty``):
  written = the new array's nbytes (``np.empty`` and a no-copy ``np.asarray`` nothing;
  ``np.array`` of an array also reads it); the result is traced, so later operations on
  it are seen.

Every array an intercepted call returns is traced too, so a chain of operations stays
visible. What is *not* seen: operations whose operands are all untraced arrays (arrays
built outside numpy's namespace functions listed above, e.g. by compiled code or scipy
functions that are not ufuncs), work done inside compiled kernels, and Python-level
loops over elements. :func:`count_bytes` therefore also reports how many of the arrays
``fn`` returned are traced (``returned_traced`` / ``returned_arrays``): an untraced
result means some path lost the tracing and the count is a lower bound for it.

The count is of *logical* traffic (what each numpy call reads and writes), not of cache
or DRAM traffic measured by hardware: a small operand reused from cache counts every
time it is read. Tracing costs a Python call per numpy operation, so it is done in a
separate call from any timed run.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Traced", "count_bytes", "traced"]


class _Tally:
    """Bytes read and written, by kind of operation and by call site."""

    def __init__(self) -> None:
        self.read = 0
        self.written = 0
        self.calls = Counter()
        self.by_kind: Counter = Counter()
        self.by_site: Counter = Counter()

    def add(self, kind: str, name: str, read: int, written: int) -> None:
        self.read += read
        self.written += written
        self.calls[kind] += 1
        self.by_kind[f"{kind}:{name}"] += read + written
        self.by_site[_call_site()] += read + written


_TALLY: _Tally | None = None
_SKIP = (os.path.abspath(__file__), os.path.dirname(os.path.abspath(np.__file__)))


def _call_site() -> str:
    """File:line of the first frame outside this module and numpy."""
    frame = sys._getframe(3)
    while frame is not None:
        name = os.path.abspath(frame.f_code.co_filename)
        if not name.startswith(_SKIP):
            parts = name.replace("\\", "/").split("/")
            short = "/".join(parts[parts.index("firesale"):]) if "firesale" in parts else parts[-1]
            return f"{short}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


def _plain(x: Any) -> Any:
    """``x`` with every Traced array (also inside tuples and lists) as a plain ndarray view."""
    if isinstance(x, Traced):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def _wrap(x: Any) -> Any:
    """Results as Traced views (numpy scalars and other objects as they are)."""
    if type(x) is np.ndarray:
        return x.view(Traced)
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def _arrays(x: Any, out: list) -> list:
    """Every ndarray in ``x`` (tuples, lists and dict values searched)."""
    if isinstance(x, np.ndarray):
        out.append(x)
    elif isinstance(x, (tuple, list)):
        for v in x:
            _arrays(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _arrays(v, out)
    return out


def _nbytes(x: Any) -> int:
    if isinstance(x, np.ndarray):
        return int(x.nbytes)
    if isinstance(x, np.generic):
        return int(x.itemsize)
    return 0


def _index_arrays(key: Any) -> list:
    return _arrays(key if isinstance(key, tuple) else (key,), [])


def _is_view(result: Any, sources: list) -> bool:
    results = _arrays(result, [])
    return bool(results) and all(any(np.may_share_memory(r, s) for s in sources) for r in results)


#: numpy functions that write into their first argument and return None.
_IN_PLACE = ("copyto", "put", "putmask", "place", "fill_diagonal", "put_along_axis")


def _in_place_written(name: str, args: tuple, kwargs: dict) -> int:
    """Bytes written into the target (first argument) by one of ``_IN_PLACE``."""
    target = np.asanyarray(args[0])
    if name in ("put", "put_along_axis"):  # put(a, indices, values)
        return int(np.size(args[1])) * target.itemsize
    if name in ("putmask", "place"):  # putmask(a, mask, values)
        return int(np.count_nonzero(args[1])) * target.itemsize
    if name == "fill_diagonal":
        return min(target.shape) * target.itemsize
    where = kwargs.get("where")  # copyto(dst, src, where=...)
    return target.nbytes if where is None else int(np.count_nonzero(np.broadcast_to(where, target.shape))) * \
        target.itemsize


class Traced(np.ndarray):
    """An ndarray whose numpy operations are counted while :func:`count_bytes` runs."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain_in = _plain(inputs)
        plain_kw = {k: _plain(v) for k, v in kwargs.items()}
        result = getattr(ufunc, method)(*plain_in, **plain_kw)
        if _TALLY is not None:
            if method == "at":
                target, index = plain_in[0], plain_in[1]
                touched = int(np.size(target[index])) * target.itemsize
                rest = sum(_nbytes(a) for a in _arrays(plain_in[1:], []))
                _TALLY.add("ufunc", f"{ufunc.__name__}.at", rest + touched, touched)
            else:
                read = sum(_nbytes(a) for a in _arrays(plain_in, []))
                read += sum(_nbytes(a) for k, a in plain_kw.items() if k == "where" and isinstance(a, np.ndarray))
                written = sum(_nbytes(a) for a in _arrays(result, [])) or _nbytes(result)
                _TALLY.add("ufunc", ufunc.__name__ + ("" if method == "__call__" else f".{method}"), read, written)
        if method == "at":
            return None
        outs = kwargs.get("out")
        if isinstance(outs, tuple) and all(o is not None for o in outs):  # hand back the caller's out arrays
            return outs[0] if len(outs) == 1 else outs
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        plain_args, plain_kw = _plain(args), {k: _plain(v) for k, v in kwargs.items()}
        result = func(*plain_args, **plain_kw)
        if _TALLY is not None:
            name = func.__name__
            sources = _arrays(plain_args, []) + _arrays([v for k, v in plain_kw.items() if k != "out"], [])
            if name in _IN_PLACE:  # f(target, ...) writes into its first argument, returns None
                written = _in_place_written(name, plain_args, plain_kw)
                _TALLY.add("function", name, sum(_nbytes(a) for a in sources[1:]), written)
            elif _is_view(result, sources):
                _TALLY.add("view", name, 0, 0)
            else:
                written = sum(_nbytes(a) for a in _arrays(result, [])) or _nbytes(result)
                if name.endswith("_like"):
                    read = 0
                elif name in ("take", "take_along_axis", "compress", "choose"):
                    read = written + sum(_nbytes(a) for a in sources[1:])
                else:
                    read = sum(_nbytes(a) for a in sources)
                _TALLY.add("function", name, read, written)
        if "out" in kwargs and kwargs["out"] is not None:
            return kwargs["out"]
        return _wrap(result)

    def __getitem__(self, key):
        base = self.view(np.ndarray)
        plain_key = _plain(key)
        result = base[plain_key]
        if _TALLY is not None:
            if not isinstance(result, np.ndarray):  # one element
                _TALLY.add("index", "getitem", _nbytes(result), 0)
            elif np.may_share_memory(result, base):
                _TALLY.add("view", "getitem", 0, 0)
            else:  # a gather: index arrays and the elements taken read, the result written
                index = sum(_nbytes(a) for a in _index_arrays(plain_key))
                _TALLY.add("index", "getitem", index + result.nbytes, result.nbytes)
        return _wrap(result)

    def __setitem__(self, key, value):
        base = self.view(np.ndarray)
        plain_key, plain_value = _plain(key), _plain(value)
        if _TALLY is not None:
            target = base[plain_key]
            written = _nbytes(target) if isinstance(target, np.ndarray) else base.itemsize
            index = sum(_nbytes(a) for a in _index_arrays(plain_key))
            _TALLY.add("index", "setitem", index + _nbytes(plain_value), written)
        base[plain_key] = plain_value

    def __array_finalize__(self, obj):  # noqa: D105 - nothing to carry over
        return None


def _method(name: str) -> Callable:
    original = getattr(np.ndarray, name)

    def traced_method(self, *args, **kwargs):
        plain_args, plain_kw = _plain(args), {k: _plain(v) for k, v in kwargs.items()}
        result = original(self.view(np.ndarray), *plain_args, **plain_kw)
        if _TALLY is not None:
            read = self.nbytes + sum(_nbytes(a) for a in _arrays(plain_args, []) + _arrays(list(plain_kw.values()), []))
            written = 0 if name == "tolist" else (sum(_nbytes(a) for a in _arrays(result, [])) or _nbytes(result))
            if name == "fill":
                read, written = 0, self.nbytes
            if name == "sort":
                written = self.nbytes
            _TALLY.add("method", name, read, written)
        return _wrap(result)

    traced_method.__name__ = name
    return traced_method


for _name in ("copy", "astype", "nonzero", "argsort", "sort", "cumsum", "cumprod", "take", "repeat", "fill",
              "argmax", "argmin", "dot", "tolist", "flatten", "clip", "round", "searchsorted"):
    setattr(Traced, _name, _method(_name))


# --------------------------------------------------------------------------- creation
def _creator(name: str, original: Callable) -> Callable:
    def traced_creator(*args, **kwargs):
        result = original(*args, **kwargs)
        if _TALLY is not None and isinstance(result, np.ndarray):
            source = _plain(args[0] if args else kwargs.get("object", kwargs.get("a")))
            if name == "empty":
                read, written = 0, 0
            elif name in ("array", "asarray", "ascontiguousarray") and isinstance(source, np.ndarray):
                copied = not np.may_share_memory(result, source)
                read, written = (source.nbytes, result.nbytes) if copied else (0, 0)
            else:
                read, written = 0, result.nbytes
            _TALLY.add("create", name, read, written)
        return _wrap(result) if type(result) is np.ndarray else result

    traced_creator.__name__ = name
    return traced_creator


_CREATORS = ("zeros", "ones", "empty", "full", "arange", "array", "asarray", "ascontiguousarray")


def traced(x: Any) -> Any:
    """``x`` with every ndarray in it (tuples, lists, dict values, dataclass fields,
    recursively) replaced by a :class:`Traced` view; other objects are returned as they are."""
    if type(x) is np.ndarray:
        return x.view(Traced)
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(traced(v) for v in x)
    if isinstance(x, list):
        return [traced(v) for v in x]
    if isinstance(x, dict):
        return {k: traced(v) for k, v in x.items()}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        changes = {f.name: traced(getattr(x, f.name)) for f in dataclasses.fields(x) if f.init}
        return dataclasses.replace(x, **changes)
    return x


def count_bytes(fn: Callable, *args: Any, **kwargs: Any) -> dict:
    """Call ``fn(*args, **kwargs)`` with its arrays traced; return the bytes its numpy calls
    read and wrote.

    Returns
    -------
    dict
        ``bytes_read``, ``bytes_written``, ``bytes_touched`` (their sum), ``calls`` (counts
        by kind: ufunc, function, index, method, create, view), ``by_operation`` and
        ``by_call_site`` (bytes touched, largest first), ``returned_arrays`` and
        ``returned_traced`` (how many arrays in the result kept their tracing), and
        ``result``: what ``fn`` returned, arrays as plain ndarrays.
    """
    global _TALLY
    saved = {name: getattr(np, name) for name in _CREATORS}
    tally = _Tally()
    t_args, t_kwargs = traced(args), traced(kwargs)
    _TALLY = tally
    try:
        for name in _CREATORS:
            setattr(np, name, _creator(name, saved[name]))
        result = fn(*t_args, **t_kwargs)
    finally:
        _TALLY = None
        for name, original in saved.items():
            setattr(np, name, original)
    returned = _returned_arrays(result, [])
    return {
        "bytes_read": tally.read,
        "bytes_written": tally.written,
        "bytes_touched": tally.read + tally.written,
        "calls": dict(tally.calls),
        "by_operation": dict(tally.by_kind.most_common()),
        "by_call_site": dict(tally.by_site.most_common()),
        "returned_arrays": len(returned),
        "returned_traced": sum(isinstance(a, Traced) for a in returned),
        "result": _untraced(result),
    }


def _returned_arrays(x: Any, out: list) -> list:
    if isinstance(x, np.ndarray):
        out.append(x)
    elif isinstance(x, (tuple, list)):
        for v in x:
            _returned_arrays(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _returned_arrays(v, out)
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            _returned_arrays(getattr(x, f.name), out)
    return out


def _untraced(x: Any) -> Any:
    if isinstance(x, Traced):
        return x.view(np.ndarray)
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(_untraced(v) for v in x)
    if isinstance(x, list):
        return [_untraced(v) for v in x]
    if isinstance(x, dict):
        return {k: _untraced(v) for k, v in x.items()}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return dataclasses.replace(x, **{f.name: _untraced(getattr(x, f.name))
                                         for f in dataclasses.fields(x) if f.init})
    return x


def _self_check() -> None:
    """Hand-counted examples (float64: 8 bytes an element, bool: 1)."""
    a, b, idx = np.ones(1000), np.ones(1000), np.arange(0, 1000, 2)
    cases = [
        ("a + b: reads 2 x 8000, writes 8000", lambda x, y: x + y, (a, b), (16000, 8000)),
        ("a.sum(): reads 8000, writes one float", lambda x, y: x.sum(), (a, b), (8000, 8)),
        ("a[10:20]: a view", lambda x, y: x[10:20], (a, b), (0, 0)),
        ("a[idx]: reads 500 int64 + 500 floats, writes 500 floats", lambda x, i: x[i], (a, idx), (8000, 4000)),
        ("np.where(a > 0, a, b): compare 8000 -> 1000, then 1000 + 2 x 8000 -> 8000",
         lambda x, y: np.where(x > 0, x, y), (a, b), (25000, 9000)),
        ("np.zeros(1000) + a: creation writes 8000, add reads 16000 writes 8000",
         lambda x, y: np.zeros(1000) + x, (a, b), (16000, 16000)),
        ("a @ b: reads 16000, writes one float", lambda x, y: x @ y, (a, b), (16000, 8)),
        ("np.add.at(a, idx, 1.0): reads idx and 500 floats, writes 500 floats",
         lambda x, i: np.add.at(x, i, 1.0), (a.copy(), idx), (8000, 4000)),
        ("np.copyto(a, b): reads 8000, writes 8000", lambda x, y: np.copyto(x, y), (a.copy(), b), (8000, 8000)),
    ]
    for label, fn, args, want in cases:
        got = count_bytes(fn, *args)
        assert (got["bytes_read"], got["bytes_written"]) == want, (label, got["bytes_read"], got["bytes_written"])
    print(f"bytes_touched: {len(cases)} hand-counted examples agree")


if __name__ == "__main__":
    _self_check()
