"""Red-team mutator: bounded, seeded random mutations of firesale inputs.

A loader must answer every input with either a clear error (a
:class:`~firesale.errors.FiresaleError` whose problems name a file, row, field or key)
or a system and scenario that simulate and pass :func:`firesale.testing.assert_invariants`.
This module draws the inputs that probe that contract:

* **table folders**, as ``firesale generate`` writes them
  (:func:`firesale.data.synthetic.write_generated`, small sizes) and the built-in presets
  exported as tables (:func:`firesale.data.write_tables` and a ``scenario.toml`` written
  from the preset's scenario and policy bundles);
* **preset TOML files**, from the built-in presets' text (``src/firesale/presets/*.toml``).

Each mutation is a small pure function ``(rng, MutatedInput) -> (description,
MutatedInput) | None`` (None: it does not apply to this input) over in-memory file
contents: delete or rename a column or key, blank a cell, write NaN, ±inf, negative, huge
or tiny numbers, text or booleans where a number belongs, duplicate a row, reference an
unknown asset or institution, scale a column by 100 (percent for fractions), empty or
delete a table, add unknown top-level keys, nest very deeply, set extreme but valid values
(depth 1e-6, sigma0 near 1, ``max_rounds = 1``, a -99% shock) and put scenario fields at
and just beyond their bounds. Field names and bounds are read off the pydantic models
(:class:`~firesale.system.Institution`, :class:`~firesale.system.Asset`,
:class:`~firesale.scenario.Scenario`), so new fields are mutated too.

:func:`mutations` yields ``(description, MutatedInput)`` cases, a deterministic function
of ``(seed, n)``; :meth:`MutatedInput.write` puts one on disk and returns the path to hand
to :func:`firesale.load` or the command line. The cases are bounded: small systems (at
most 17 institutions and 6 assets) and no valid scenario runs more than ``max_rounds``
rounds (the bases cap ``max_rounds``; mutations never raise it above the cap unless the
value is out of range).

Examples
--------
>>> from firesale.testing.mutator import mutations
>>> cases = list(mutations(seed=1, n=3))
>>> len(cases), cases == list(mutations(seed=1, n=3))
(3, True)
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import math
import random
import re
import tempfile
import tomllib
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "MutatedInput",
    "Mutation",
    "MUTATIONS",
    "ENGINE_MUTATIONS",
    "Raw",
    "WEIGHTS",
    "base_inputs",
    "dumps_toml",
    "mutate",
    "mutations",
]

#: Table names in load order (mirrors :data:`firesale.data.tables.TABLE_NAMES`).
_TABLES = ("institutions", "assets", "holdings", "correlations", "market_shares")
#: Generated bases: (institutions, assets, density, seed).
_GENERATED = ((6, 3, 0.5, 11), (8, 5, 0.4, 12), (10, 6, 0.3, 13), (1, 1, 1.0, 14), (12, 4, 1.0, 15))
#: Default cap on a scenario's rounds.
MAX_ROUNDS = 10


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Raw:
    """Literal text written as is into a TOML value or a CSV cell (deep nesting, bad syntax)."""

    text: str


class _Blank:
    """An empty CSV cell; a key left out in TOML."""

    def __repr__(self) -> str:
        return "<blank>"


BLANK = _Blank()


@dataclass(frozen=True)
class MutatedInput:
    """An input as file contents in memory.

    Attributes
    ----------
    kind : str
        ``"tables"`` (a directory of CSV tables and ``scenario.toml``) or ``"toml"``
        (one preset file, ``preset.toml``, perhaps with table files beside it).
    origin : str
        The unmutated input it came from.
    files : tuple of (name, text or bytes)
    steps : tuple of str
        The mutations applied, in order.
    max_rounds : int
        The cap on rounds of the bases it came from.
    """

    kind: str
    origin: str
    files: tuple[tuple[str, str | bytes], ...]
    steps: tuple[str, ...] = ()
    max_rounds: int = MAX_ROUNDS

    @property
    def description(self) -> str:
        return f"{self.origin}: {'; '.join(self.steps) if self.steps else 'unmutated'}"

    @property
    def doc_name(self) -> str:
        """The TOML file holding the scenario: ``scenario.toml`` or ``preset.toml``."""
        return "scenario.toml" if self.kind == "tables" else "preset.toml"

    def get(self, name: str) -> str | bytes | None:
        return dict(self.files).get(name)

    def with_file(self, name: str, content: str | bytes | None) -> MutatedInput:
        """A copy with file ``name`` replaced (``None``: removed)."""
        files = dict(self.files)
        if content is None:
            files.pop(name, None)
        else:
            files[name] = content
        return replace(self, files=tuple(sorted(files.items())))

    def step(self, text: str) -> MutatedInput:
        return replace(self, steps=(*self.steps, text))

    def target(self, directory: str | Path) -> Path:
        """The path to load: the directory (tables) or the preset file in it."""
        directory = Path(directory)
        return directory if self.kind == "tables" else directory / "preset.toml"

    def write(self, directory: str | Path) -> Path:
        """Write the files into ``directory`` (created) and return :meth:`target`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in self.files:
            path = directory / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", newline="")
        return self.target(directory)


#: ``(rng, input) -> (description, mutated input)``, or None when it does not apply.
Mutation = Callable[[random.Random, MutatedInput], "tuple[str, MutatedInput] | None"]


# --------------------------------------------------------------------------- TOML writing

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: Any) -> str:
    key = str(key)
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not BLANK) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def _array_of_tables(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit(lines: list[str], path: list[str], table: dict[str, Any]) -> None:
    for key, value in table.items():
        if value is None or value is BLANK:
            continue
        if not isinstance(value, dict) and not _array_of_tables(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        header = ".".join(_key(p) for p in (*path, key))
        if isinstance(value, dict):
            lines += ["", f"[{header}]"]
            _emit(lines, [*path, key], value)
        elif _array_of_tables(value):
            for item in value:
                lines += ["", f"[[{header}]]"]
                _emit(lines, [*path, key], item)


def dumps_toml(data: dict[str, Any]) -> str:
    """``data`` as TOML text: tables as ``[sections]``, lists of tables as ``[[arrays]]``,
    NaN and infinities as TOML's ``nan``/``inf``, :class:`Raw` values verbatim."""
    lines: list[str] = []
    _emit(lines, [], data)
    return "\n".join(lines).lstrip("\n") + "\n"


# --------------------------------------------------------------------------- field specs


@dataclass(frozen=True)
class _Field:
    """One input field: its dotted path, kind and bounds (read off a pydantic model)."""

    path: str
    kind: str  # float, int, bool, str, literal, names, other
    lower: float | None = None
    lower_strict: bool = False
    upper: float | None = None
    upper_strict: bool = False
    finite: bool = False
    choices: tuple[str, ...] = ()
    required: bool = False
    unit: str = "-"
    default: Any = None
    #: The plausible range (low, high; None: open) where the model has one: values beyond
    #: it (within the hard bounds) are errors unless ``allow_implausible = true``.
    plausible: tuple[float | None, float | None] | None = None


def _spec(path: str, info: Any) -> _Field:
    from pydantic_core import PydanticUndefined

    annotation = info.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and args:
        annotation = args[0]
    kind = "other"
    choices: tuple[str, ...] = ()
    if typing.get_origin(annotation) is typing.Literal:
        kind, choices = "literal", tuple(str(c) for c in typing.get_args(annotation))
    elif annotation is bool:
        kind = "bool"
    elif annotation is int:
        kind = "int"
    elif annotation is float:
        kind = "float"
    elif annotation is str:
        kind = "str"
    elif typing.get_origin(annotation) is tuple:
        kind = "names"
    lower = upper = None
    lower_strict = upper_strict = False
    finite = False
    for meta in info.metadata:
        name = type(meta).__name__
        if name == "Gt":
            lower, lower_strict = float(meta.gt), True
        elif name == "Ge":
            lower, lower_strict = float(meta.ge), False
        elif name == "Lt":
            upper, upper_strict = float(meta.lt), True
        elif name == "Le":
            upper, upper_strict = float(meta.le), False
        elif name == "AllowInfNan":
            finite = not meta.allow_inf_nan
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    required = info.default is PydanticUndefined and info.default_factory is None
    default = None if required or info.default_factory is not None else info.default
    plausible = extra.get("plausible")
    return _Field(path, kind, lower, lower_strict, upper, upper_strict, finite, choices, required,
                  str(extra.get("unit", "-")), default, tuple(plausible) if plausible else None)


def _model_fields(model: Any, prefix: str = "", skip: tuple[str, ...] = ()) -> list[_Field]:
    from pydantic import BaseModel

    out: list[_Field] = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        nested = [a for a in (info.annotation, *typing.get_args(info.annotation))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested:
            out += _model_fields(nested[0], f"{prefix}{name}.")
        else:
            out.append(_spec(prefix + (info.alias or name), info))
    return out


@lru_cache(maxsize=None)
def _table_fields() -> dict[str, tuple[_Field, ...]]:
    from firesale.schema import TABLES
    from firesale.system import Asset, Institution

    out = {"institutions": tuple(_model_fields(Institution)), "assets": tuple(_model_fields(Asset))}
    for table in ("holdings", "correlations", "market_shares"):
        out[table] = tuple(
            _Field(c["column"], "float" if c["type"] == "float" else "str",
                   required=c["role"] == "Input (required)", unit=c["unit"])
            for c in TABLES[table]
        )
    return out


@lru_cache(maxsize=None)
def _scenario_fields() -> tuple[_Field, ...]:
    import firesale.scenario
    from firesale.scenario import Scenario

    channel_ranges = getattr(firesale.scenario, "CHANNEL_PLAUSIBLE", {})
    return tuple(replace(f, plausible=tuple(channel_ranges[f.path][0])) if f.path in channel_ranges else f
                 for f in _model_fields(Scenario, skip=("shocks",)))


@lru_cache(maxsize=None)
def _shock_fields() -> tuple[_Field, ...]:
    from firesale.scenario import Shock

    return tuple(_model_fields(Shock))


# --------------------------------------------------------------------------- values

_TINY = (5e-324, 1e-300, 1e-12)
_HUGE = (1e300, 1.7976931348623157e308, 1e15)
_TEXTS = ("abc", "1,5", "10%", "$5", "1e", "None", "null", "NA", "--1", "\u00bd", "0x10", "1 000")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, str)):
        try:
            return float(value)
        except (ValueError, OverflowError):
            return None
    return None


def _edge(rng: random.Random, field: _Field, valid: bool, cap: int | None = None) -> tuple[str, Any] | None:
    """A value at a hard bound of ``field`` (valid: the bound, or the nearest value inside
    a strict one) or just beyond it (invalid); a huge value where a float is open above.
    ``cap`` bounds a valid integer (max_rounds)."""
    integer = field.kind == "int"
    options = []
    if field.lower is not None:
        b, strict = field.lower, field.lower_strict
        if integer:
            inside = math.floor(b) + 1 if strict else math.ceil(b)
            options.append(("lower bound", inside) if valid else ("below lower bound", inside - 1))
        elif valid:
            options.append(("lower bound", math.nextafter(b, math.inf) if strict else b))
        else:
            options.append(("below lower bound", b if strict else b - max(abs(b) * 1e-9, 1e-12)))
    if field.upper is not None:
        b, strict = field.upper, field.upper_strict
        if integer:
            inside = math.ceil(b) - 1 if strict else math.floor(b)
            if valid:
                options.append(("upper bound", inside if cap is None else min(inside, cap)))
            else:
                options += [("above upper bound", inside + 1), ("far above upper bound", max(inside, 1) * 100)]
        elif valid:
            options.append(("upper bound", math.nextafter(b, -math.inf) if strict else b))
        else:
            options += [("above upper bound", b if strict else b + max(abs(b) * 1e-9, 1e-12)),
                        ("far above upper bound", b * 100 if b else 100.0)]
    elif valid and not integer and field.kind == "float":
        options.append(("unbounded above, huge", rng.choice(_HUGE)))
    return rng.choice(options) if options else None


def _random_valid(rng: random.Random, field: _Field, cap: int | None = None) -> tuple[str, Any] | None:
    """A value drawn inside the hard bounds and the plausible range (log-uniform where open)."""
    if field.kind not in ("float", "int"):
        return None
    low = field.lower if field.lower is not None else None
    high = field.upper
    if field.plausible is not None:
        p_low, p_high = field.plausible
        low = p_low if p_low is not None and (low is None or p_low > low) else low
        high = p_high if p_high is not None and (high is None or p_high < high) else high
    if cap is not None:
        high = cap if high is None else min(high, cap)
    if low is None:
        low = -1e3 if high is None else high - 1e3
    if high is None:
        value = low + 10 ** rng.uniform(-9, 9)
    else:
        value = rng.uniform(low, high)
    if field.kind == "int":
        value = max(int(math.ceil(low)), min(int(round(value)), int(math.floor(high)) if high is not None else 10**6))
    elif field.lower_strict and value <= field.lower or field.upper_strict and value >= field.upper:
        value = (low + high) / 2 if high is not None else low + 1.0
    return f"random valid {value:g}", value


def _bad_value(rng: random.Random, field: _Field, original: Any, toml: bool, family: str,
               cap: int | None = None) -> tuple[str, Any] | None:
    """A value of ``family`` for ``field``: (label, value), or None when it does not apply."""
    number = _number(original)
    if number is None and original is None:  # not set: the default is what is in force
        number = _number(field.default)
    if family == "nan":
        return "NaN", float("nan") if toml else rng.choice(("nan", "NaN", "-nan", "NAN"))
    if family == "inf":
        sign = rng.choice((1, -1))
        if toml:
            return ("inf" if sign > 0 else "-inf"), math.inf * sign
        return ("inf" if sign > 0 else "-inf"), rng.choice(("inf", "Infinity", "1e400")) if sign > 0 else \
            rng.choice(("-inf", "-Infinity", "-1e400"))
    if family == "negative":
        value = -abs(number) if number else rng.choice((-1.0, -1e-9, -1e12))
        return f"negative {value:g}", value
    if family == "huge":
        if toml and rng.random() < 0.3:
            value = rng.choice((10**30, 10**400))
            return f"huge integer 1e{len(str(value)) - 1}", value
        value = rng.choice(_HUGE)
        return f"huge {value:g}", value
    if family == "tiny":
        value = rng.choice(_TINY)
        return f"tiny {value:g}", value
    if family == "zero":
        value = rng.choice((0.0, -0.0, 0))
        return f"zero {value!r}", value
    if family == "string":
        value = rng.choice(_TEXTS)
        return f"text {value!r}", value
    if family == "bool":
        value = rng.choice((True, False)) if toml else rng.choice(("true", "FALSE", "True", "yes"))
        return f"boolean {value!r}", value
    if family == "x100":
        if number is None or number == 0:
            return None
        return f"x100 ({number:g} -> {number * 100:g})", number * 100
    if family == "container":
        value = rng.choice(([1, 2], {"value": 1.0}, [], {})) if toml else rng.choice(("[1, 2]", "{value = 1}"))
        return f"container {value!r}", value
    if family in ("edge_valid", "edge_invalid"):
        return _edge(rng, field, family == "edge_valid", cap)
    if family in ("plausible_edge", "implausible"):
        return _plausible_edge(rng, field, family == "plausible_edge")
    if family == "random_valid":
        return _random_valid(rng, field, cap)
    if family == "bad_choice":
        if field.kind == "literal":
            choice = rng.choice(field.choices) if field.choices else "x"
            value = rng.choice((choice.upper(), choice[:-1], choice + "s", " ", "unknown", 5 if toml else "5"))
        elif field.kind == "bool":
            value = rng.choice(("maybe", 2, "yes", 1, "off", 0.5)) if toml else rng.choice(("maybe", "2", "yes", "0.5"))
        else:
            return None
        return f"value {value!r}", value
    if family == "other_choice":
        if field.kind == "literal" and len(field.choices) > 1:
            value = rng.choice([c for c in field.choices if c != original] or list(field.choices))
        elif field.kind == "bool":
            value = not (original in (True, "true", "True")) if toml else rng.choice(("true", "false"))
        else:
            return None
        return f"valid value {value!r}", value
    raise ValueError(f"unknown value family {family!r}")


_NUMBER_FAMILIES = ("nan", "inf", "negative", "huge", "tiny", "zero", "string", "bool", "x100", "edge_valid",
                    "edge_invalid", "container", "plausible_edge", "implausible")


def _families(field: _Field) -> tuple[str, ...]:
    if field.kind in ("float", "int"):
        return _NUMBER_FAMILIES
    if field.kind in ("literal", "bool"):
        return ("bad_choice", "other_choice", "container")
    return ("container",)


@lru_cache(maxsize=None)
def allow_key() -> str | None:
    """The top-level TOML key that lets implausible values through (``allow_implausible``),
    or None when this version of firesale has no plausibility check."""
    from firesale.data import load

    return "allow_implausible" if "allow_implausible" in inspect.signature(load).parameters else None


def _implausible(field: _Field, value: Any) -> bool:
    number = _number(value)
    if field.plausible is None or number is None or not math.isfinite(number):
        return False
    low, high = field.plausible
    return (low is not None and number < low) or (high is not None and number > high)


def _plausible_edge(rng: random.Random, field: _Field, valid: bool) -> tuple[str, Any] | None:
    """A value at the edge of the plausible range (valid) or just beyond it, within the hard
    bounds (an error unless ``allow_implausible``)."""
    if field.plausible is None:
        return None
    low, high = field.plausible
    options = []
    if high is not None:
        options.append(("plausible upper edge", high) if valid else
                       ("just above the plausible range", high * (1 + 1e-6) if high else 1e-9))
    if low is not None:
        options.append(("plausible lower edge", low) if valid else
                       ("just below the plausible range", low * (1 - 1e-6) if low else -1e-9))
    label, value = rng.choice(options)
    if field.kind == "int":
        value = int(value)
    return label, value


def allowing(inp: MutatedInput) -> MutatedInput | None:
    """``inp`` with ``allow_implausible = true`` at the top of its TOML (None when this
    firesale has no such switch or the TOML cannot be parsed)."""
    key = allow_key()
    data = _doc(inp)
    if key is None or data is None:
        return None
    data[key] = True
    return _with_doc(inp, data)


# --------------------------------------------------------------------------- table views


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _cell(value: Any) -> str:
    """A value as CSV cell text."""
    if value is BLANK or value is None:
        return ""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _doc(inp: MutatedInput) -> dict[str, Any] | None:
    """The TOML document holding the scenario, parsed; None when it cannot be."""
    text = inp.get(inp.doc_name)
    if text is None:
        return {} if inp.kind == "tables" else None
    if isinstance(text, bytes):
        return None
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        return None
    return data if _depth(data) <= _MAX_EMIT_DEPTH else None


#: Documents nested deeper than this (after a deep-nesting mutation) take no further
#: structured mutations: :func:`dumps_toml` recurses once per level.
_MAX_EMIT_DEPTH = 100


def _depth(data: Any) -> int:
    """How deep dicts and lists nest in ``data`` (iterative, for any depth)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, dict):
            stack += [(v, level + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, level + 1) for v in node]
    return deepest


def _with_doc(inp: MutatedInput, data: dict[str, Any]) -> MutatedInput:
    return inp.with_file(inp.doc_name, dumps_toml(data))


@dataclass
class _Table:
    """A table as columns and rows of mappings (CSV cells are text, TOML values typed)."""

    columns: list[str]
    rows: list[dict[str, Any]]


def _get_table(inp: MutatedInput, table: str) -> _Table | None:
    if inp.kind == "tables":
        text = inp.get(f"{table}.csv")
        if not isinstance(text, str):
            return None
        rows = _csv_rows(text)
        if not rows or len(set(rows[0])) != len(rows[0]) or any(len(r) != len(rows[0]) for r in rows[1:]):
            return None
        return _Table(list(rows[0]), [dict(zip(rows[0], r)) for r in rows[1:]])
    data = _doc(inp)
    if data is None or "tables" in data:
        return None
    rows = data.get(table)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return None
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return _Table(columns, [dict(r) for r in rows])


def _put_table(inp: MutatedInput, table: str, t: _Table) -> MutatedInput:
    if inp.kind == "tables":
        rows = [list(t.columns)] + [[_cell(r.get(c, BLANK)) for c in t.columns] for r in t.rows]
        return inp.with_file(f"{table}.csv", _csv_text(rows))
    data = _doc(inp)
    assert data is not None
    data[table] = [{k: v for k, v in r.items() if v is not BLANK} for r in t.rows]
    return _with_doc(inp, data)


def _tables_present(inp: MutatedInput) -> list[str]:
    return [t for t in _TABLES if _get_table(inp, t) is not None]


def _field_of(table: str, column: str) -> _Field:
    for field in _table_fields().get(table, ()):
        if field.path == column:
            return field
    return _Field(column, "other")


def _names(inp: MutatedInput, table: str) -> list[str]:
    t = _get_table(inp, table)
    return [] if t is None else [str(r["name"]) for r in t.rows if "name" in r and r["name"] is not BLANK]


# --------------------------------------------------------------------------- table mutations


def _pick_table(rng: random.Random, inp: MutatedInput, need_rows: bool = True,
                tables: tuple[str, ...] = _TABLES) -> tuple[str, _Table] | None:
    choices = [(name, t) for name in tables if (t := _get_table(inp, name)) is not None and (t.rows or not need_rows)]
    return rng.choice(choices) if choices else None


def set_cell(rng: random.Random, inp: MutatedInput, families: tuple[str, ...] | None = None,
             kinds: tuple[str, ...] = ("float", "int")) -> tuple[str, MutatedInput] | None:
    """A cell (or TOML value) of a table set to a bad, extreme or edge value."""
    picked = _pick_table(rng, inp)
    if picked is None:
        return None
    table, t = picked
    fields = [f for f in _table_fields()[table] if f.kind in kinds]
    if not fields:
        return None
    present = [f for f in fields if f.path in t.columns]
    field = rng.choice(present) if present and rng.random() < 0.7 else rng.choice(fields)
    family = rng.choice(families or _families(field))
    r = rng.randrange(len(t.rows))
    row = t.rows[r]
    got = _bad_value(rng, field, row.get(field.path), inp.kind == "toml", family)
    if got is None:
        return None
    label, value = got
    row[field.path] = value
    if field.path not in t.columns:
        t.columns.append(field.path)
    out = _put_table(inp, table, t)
    if _implausible(field, value) and rng.random() < 0.6 and (allowed := allowing(out)) is not None:
        out, label = allowed, f"{label}, allow_implausible = true"
    return f"{table} row {r + 1} field {field.path}: {label}", out


def set_number(rng, inp):
    """NaN, inf, negative, huge, tiny, zero, x100, a value at or beyond a hard bound or at or
    beyond the plausible range in a numeric cell."""
    return set_cell(rng, inp, ("nan", "inf", "negative", "huge", "tiny", "zero", "x100", "edge_valid", "edge_invalid",
                               "plausible_edge", "implausible"))


def set_text_in_number(rng, inp):
    """Text where a number belongs."""
    return set_cell(rng, inp, ("string",))


def set_bool_in_number(rng, inp):
    """A boolean where a number belongs."""
    return set_cell(rng, inp, ("bool",))


def set_container(rng, inp):
    """A list or table where a scalar belongs."""
    return set_cell(rng, inp, ("container",), kinds=("float", "int", "str", "literal", "bool"))


def set_choice(rng, inp):
    """A misspelt or other valid choice in an enumerated or boolean column (type, class, impact, ...)."""
    return set_cell(rng, inp, ("bad_choice", "other_choice"), kinds=("literal", "bool"))


_VALID_FAMILIES = ("edge_valid", "plausible_edge", "random_valid", "random_valid", "other_choice")


def cell_extreme_valid(rng, inp):
    """One to three table values set inside their hard bounds: at a bound, at the plausible
    edge or drawn at random (``allow_implausible = true`` where a value needs it)."""
    out, labels, allow = inp, [], False
    for _ in range(rng.randint(1, 3)):
        picked = _pick_table(rng, out, tables=("institutions", "assets"))
        if picked is None:
            return None
        table, t = picked
        fields = [f for f in _table_fields()[table] if f.kind in ("float", "int", "bool", "literal")]
        field = rng.choice(fields)
        r = rng.randrange(len(t.rows))
        got = _bad_value(rng, field, t.rows[r].get(field.path), inp.kind == "toml", rng.choice(_VALID_FAMILIES))
        if got is None:
            continue
        label, value = got
        t.rows[r][field.path] = value if inp.kind == "toml" else _cell(value)
        if field.path not in t.columns:
            t.columns.append(field.path)
        out = _put_table(out, table, t)
        allow = allow or _implausible(field, value)
        labels.append(f"{table} row {r + 1} field {field.path}: {label}")
    if not labels:
        return None
    if allow and (allowed := allowing(out)) is not None:
        out, labels = allowed, [*labels, "allow_implausible = true"]
    return "; ".join(labels), out


def scenario_extreme_valid(rng, inp):
    """One to three scenario fields set inside their hard bounds: at a bound, at the
    plausible edge, drawn at random, or another valid choice (``allow_implausible = true``
    where a value needs it; max_rounds at most the cap)."""
    data = _doc(inp)
    if data is None or (scenario := _scenario_of(data)) is None:
        return None
    labels, allow = [], False
    for _ in range(rng.randint(1, 3)):
        field = rng.choice([f for f in _scenario_fields() if f.kind != "names"])
        if field.path == "max_rounds":
            continue
        got = _bad_value(rng, field, _get_path(scenario, field.path), True, rng.choice(_VALID_FAMILIES))
        if got is None:
            continue
        label, value = got
        _programme_ready(inp, scenario, field.path)
        if not _set_path(scenario, field.path, value):
            return None
        allow = allow or _implausible(field, value)
        labels.append(f"scenario.{field.path}: {label}")
    if not labels:
        return None
    if allow and allow_key() is not None:
        data[allow_key()] = True
        labels.append("allow_implausible = true")
    return "; ".join(labels), _with_doc(inp, data)


def blank_cell(rng, inp):
    """A cell left empty (a key left out in TOML), required columns included."""
    picked = _pick_table(rng, inp)
    if picked is None:
        return None
    table, t = picked
    if not t.columns:
        return None
    column = rng.choice(t.columns)
    r = rng.randrange(len(t.rows))
    t.rows[r][column] = BLANK if rng.random() < 0.8 else rng.choice(("  ", "\t"))
    return f"{table} row {r + 1} field {column}: blanked", _put_table(inp, table, t)


def drop_column(rng, inp):
    """A column (a key, in every TOML row) deleted."""
    picked = _pick_table(rng, inp)
    if picked is None or not picked[1].columns:
        return None
    table, t = picked
    column = rng.choice(t.columns)
    t.columns.remove(column)
    for row in t.rows:
        row.pop(column, None)
    return f"{table}: column {column} deleted", _put_table(inp, table, t)


def _typo(rng: random.Random, name: str) -> str:
    options = [name.upper(), name + "_x", name.replace("_", "-"), name[:-1] or "x", " " + name + " ",
               name.title(), name + "s"]
    if len(name) > 2:
        options.append(name[1] + name[0] + name[2:])
    return rng.choice([o for o in options if o != name] or [name + "_x"])


def rename_column(rng, inp):
    """A column (key) renamed: a typo, a case change, padding spaces."""
    picked = _pick_table(rng, inp)
    if picked is None or not picked[1].columns:
        return None
    table, t = picked
    column = rng.choice(t.columns)
    new = _typo(rng, column)
    if new in t.columns:
        return None
    t.columns[t.columns.index(column)] = new
    for row in t.rows:
        if column in row:
            row[new] = row.pop(column)
    return f"{table}: column {column!r} renamed {new!r}", _put_table(inp, table, t)


def add_unknown_column(rng, inp):
    """An extra column no table knows."""
    picked = _pick_table(rng, inp)
    if picked is None:
        return None
    table, t = picked
    column = rng.choice(("colour", "notes", "Quantity", "nme", "id", ""))
    if column in t.columns or (inp.kind == "toml" and not column):
        return None
    t.columns.append(column)
    for row in t.rows:
        row[column] = rng.choice(("x", 1.0, "1"))
    return f"{table}: unknown column {column!r} added", _put_table(inp, table, t)


def duplicate_row(rng, inp):
    """A row repeated."""
    picked = _pick_table(rng, inp)
    if picked is None:
        return None
    table, t = picked
    r = rng.randrange(len(t.rows))
    t.rows.insert(r + 1, dict(t.rows[r]))
    return f"{table}: row {r + 1} duplicated", _put_table(inp, table, t)


def duplicate_name(rng, inp):
    """Two institutions (or assets) given one name."""
    picked = _pick_table(rng, inp, tables=("institutions", "assets"))
    if picked is None or len(picked[1].rows) < 2:
        return None
    table, t = picked
    a, b = rng.sample(range(len(t.rows)), 2)
    t.rows[b]["name"] = t.rows[a].get("name", "x")
    return f"{table}: row {b + 1} renamed to row {a + 1}'s name {t.rows[a].get('name')!r}", _put_table(inp, table, t)


def _unknown_name(rng: random.Random, known: list[str]) -> str:
    base = rng.choice(known) if known else "x"
    return rng.choice((base + "_", base.upper(), "ghost", base[:-1] or "y", "", " " + base + "?", "\u00e9" + base))


def unknown_reference(rng, inp):
    """A holding (correlation, market share) naming an asset or institution the system lacks."""
    picked = _pick_table(rng, inp, tables=("holdings", "correlations", "market_shares"))
    if picked is None:
        return None
    table, t = picked
    columns = [c for c in ("institution", "asset", "asset_a", "asset_b") if c in t.columns]
    if not columns:
        return None
    column = rng.choice(columns)
    known = _names(inp, "institutions" if column == "institution" else "assets")
    r = rng.randrange(len(t.rows))
    name = _unknown_name(rng, known)
    if name in known:
        return None
    t.rows[r][column] = name
    return f"{table} row {r + 1} field {column}: unknown name {name!r}", _put_table(inp, table, t)


def swap_units(rng, inp):
    """A whole column scaled: fractions written as percent (x100), amounts in other units."""
    picked = _pick_table(rng, inp)
    if picked is None:
        return None
    table, t = picked
    numeric = [c for c in t.columns if _field_of(table, c).kind in ("float", "int")
               or (table in ("holdings", "correlations", "market_shares") and c not in
                   ("institution", "asset", "asset_a", "asset_b"))]
    if not numeric:
        return None
    column = rng.choice(numeric)
    fraction = _field_of(table, column).unit.startswith("fraction") or column in (
        "trading_fraction", "initial_margin", "correlation", "share")
    factor = 100.0 if fraction or rng.random() < 0.5 else rng.choice((1e-3, 1e3, 1e6))
    changed = 0
    for row in t.rows:
        number = _number(row.get(column))
        if number is not None and number != 0:
            value = number * factor
            row[column] = int(value) if isinstance(row[column], int) and value.is_integer() else value
            changed += 1
    if not changed:
        return None
    return f"{table}: column {column} x{factor:g} ({changed} rows)", _put_table(inp, table, t)


def empty_table(rng, inp):
    """A table with its header (TOML: an empty list) and no rows."""
    picked = _pick_table(rng, inp)
    if picked is None:
        return None
    table, t = picked
    t.rows = []
    return f"{table}: emptied (no rows)", _put_table(inp, table, t)


def delete_table(rng, inp):
    """A table left out (the file deleted; the TOML key removed)."""
    present = _tables_present(inp)
    if not present:
        return None
    table = rng.choice(present)
    if inp.kind == "tables":
        return f"{table}.csv deleted", inp.with_file(f"{table}.csv", None)
    data = _doc(inp)
    assert data is not None
    data.pop(table, None)
    return f"[[{table}]] removed", _with_doc(inp, data)


def _holdings_by_institution(inp: MutatedInput) -> dict[str, tuple[float, float]]:
    """Total quantity and repo of each institution's holdings."""
    out: dict[str, tuple[float, float]] = {}
    t = _get_table(inp, "holdings")
    for row in [] if t is None else t.rows:
        q, repo = _number(row.get("quantity")) or 0.0, _number(row.get("repo")) or 0.0
        name = str(row.get("institution"))
        total = out.get(name, (0.0, 0.0))
        out[name] = (total[0] + q, total[1] + repo)
    return out


def extreme_valid(rng, inp):
    """Extreme but valid values: depth 1e-6, sigma0 at its plausible top (or near 1 with
    ``allow_implausible``), tiny or huge holdings, a haircut of 99% (repo cut to fit), steep
    impact laws, equity a billionth of assets, every amount rescaled, every asset -99%."""
    toml = inp.kind == "toml"

    def num(x: float) -> Any:
        return float(x) if toml else repr(float(x))

    choice = rng.choice(("depth", "sigma0", "quantity_tiny", "quantity_huge", "haircut", "exponential", "sqrt",
                         "thin_equity", "trading_fraction", "rescale", "crash_all"))
    allow = False
    if choice == "crash_all":
        data = _doc(inp)
        assets = _asset_names(inp)
        if data is None or not assets or (scenario := _scenario_of(data)) is None:
            return None
        scenario["shocks"] = [{"asset": a, "price": -0.99} for a in assets]
        return "every asset falls 99% in round 0", _with_doc(inp, data)
    if choice == "rescale":
        factor = rng.choice((1e-9, 1e9, 1e-3, 1e3))
        out = inp
        for table in ("institutions", "assets", "holdings"):
            t = _get_table(out, table)
            if t is None:
                return None
            for row in t.rows:
                for column, value in list(row.items()):
                    unit = _field_of(table, column).unit
                    amount = unit.startswith("currency") or (table == "holdings" and column in (
                        "quantity", "repo", "derivative"))
                    if amount and (number := _number(value)) is not None and math.isfinite(number):
                        row[column] = num(number * factor)
            out = _put_table(out, table, t)
        return f"every amount x{factor:g} (another currency unit)", out
    table = {"depth": "assets", "sigma0": "assets", "haircut": "assets", "exponential": "assets",
             "sqrt": "assets", "quantity_tiny": "holdings", "quantity_huge": "holdings",
             "trading_fraction": "holdings", "thin_equity": "institutions"}[choice]
    t = _get_table(inp, table)
    if t is None or not t.rows:
        return None
    every = rng.random() < 0.5
    rows = t.rows if every else [rng.choice(t.rows)]
    for row in rows:
        if choice == "depth":
            row["depth"] = num(1e-6)
        elif choice == "sigma0":
            sigma = _field_of("assets", "sigma0")
            if sigma.plausible and sigma.plausible[1] is not None and (rng.random() < 0.5 or allow_key() is None):
                row["sigma0"] = num(sigma.plausible[1])
            else:
                hard = sigma.upper
                row["sigma0"] = num(math.nextafter(hard, 0) if hard is not None else rng.choice((0.99, 1.0, 5.0)))
                allow = allow_key() is not None
        elif choice == "quantity_tiny":
            row["quantity"] = num(1e-12)
            for c in ("repo", "derivative"):
                if c in row:
                    row[c] = num(0.0)
        elif choice == "quantity_huge":
            row["quantity"] = num((_number(row.get("quantity")) or 1.0) * 1e12)
        elif choice == "haircut":
            row["haircut"] = num(0.99)
            row["haircut_cap"] = num(0.999)
        elif choice == "exponential":
            row["impact"] = "exponential"
            row["impact_floor"] = num(0.999)
            row["depth"] = num(1e-3)
        elif choice == "sqrt":
            row["impact"] = "sqrt"
            row["adv"] = num(1e-6)
            kappa = _field_of("assets", "impact_kappa")
            if kappa.plausible and kappa.plausible[1] is not None and rng.random() < 0.5:
                row["impact_kappa"] = num(kappa.plausible[1])
            else:
                row["impact_kappa"] = num(1e3)
                allow = allow_key() is not None and kappa.plausible is not None
        elif choice == "trading_fraction":
            row["trading_fraction"] = num(0.0)
        elif choice == "thin_equity":
            held, repo = _holdings_by_institution(inp).get(str(row.get("name")), (0.0, 0.0))
            cash = _number(row.get("cash")) or 0.0
            assets = cash + held
            if assets <= 0:
                return None
            row["liabilities"] = num(max(assets - repo - 1e-9 * assets, 0.0))
            for c in ("short_term_debt",):
                if c in row:
                    row[c] = num(0.0)
    for row in rows:
        t.columns += [k for k in row if k not in t.columns]
    out = _put_table(inp, table, t)
    if choice == "haircut":  # repo cut to what a 99% haircut lends
        names = {str(r.get("name")) for r in rows}
        h = _get_table(out, "holdings")
        if h is not None:
            for row in h.rows:
                q = _number(row.get("quantity"))
                if str(row.get("asset")) in names and "repo" in row and q is not None:
                    row["repo"] = num(min(_number(row["repo"]) or 0.0, 0.01 * q * (1 - 1e-9)))
            out = _put_table(out, "holdings", h)
    label = f"{table}: extreme valid {choice} ({'every row' if every else 'one row'})"
    if allow:
        allowed = allowing(out)
        if allowed is None:
            return None
        out, label = allowed, label + ", allow_implausible = true"
    return label, out


def add_correlations(rng, inp):
    """A correlations table: valid, out of [-1, 1], NaN, a self pair, or repeated pairs."""
    assets = _names(inp, "assets")
    if len(assets) < 2:
        return None
    a, b = rng.sample(assets, 2)
    variant = rng.choice(("valid", "above_one", "nan", "self", "repeat", "minus_one", "one"))
    rows = [{"asset_a": a, "asset_b": b, "correlation": 0.3}]
    if variant == "above_one":
        rows[0]["correlation"] = 1.5
    elif variant == "nan":
        rows[0]["correlation"] = float("nan")
    elif variant == "self":
        rows[0]["asset_b"] = a
    elif variant == "repeat":
        rows.append({"asset_a": b, "asset_b": a, "correlation": -0.3})
    elif variant == "minus_one":
        rows[0]["correlation"] = -1.0
    elif variant == "one":
        rows[0]["correlation"] = 1.0
    t = _Table(["asset_a", "asset_b", "correlation"], rows)
    if inp.kind == "tables":
        for r in t.rows:
            r["correlation"] = _cell(r["correlation"])
    return f"correlations added ({variant}: {a}, {b})", _put_table(inp, "correlations", t)


def add_market_shares(rng, inp):
    """A market-shares table: valid shares, shares summing to 2, a non-dealer, negative."""
    institutions = _get_table(inp, "institutions")
    assets = _names(inp, "assets")
    if institutions is None or not assets:
        return None
    dealers = [str(r["name"]) for r in institutions.rows if r.get("type", "dealer") == "dealer" and "name" in r]
    others = [str(r["name"]) for r in institutions.rows if r.get("type") not in (None, "dealer") and "name" in r]
    if not dealers:
        return None
    asset = rng.choice(assets)
    variant = rng.choice(("valid", "sum_two", "non_dealer", "negative", "nan"))
    share = 1.0 / len(dealers)
    rows = [{"institution": d, "asset": asset, "share": share} for d in dealers]
    if variant == "sum_two":
        rows = [dict(r, share=2 * share) for r in rows]
    elif variant == "non_dealer":
        if not others:
            return None
        rows.append({"institution": rng.choice(others), "asset": asset, "share": 0.0})
    elif variant == "negative":
        rows[0]["share"] = -0.5
        if len(rows) == 1:
            rows.append(dict(rows[0], share=1.5))
    elif variant == "nan":
        rows[0]["share"] = float("nan")
    if inp.kind == "tables":
        rows = [dict(r, share=_cell(r["share"])) for r in rows]
    return (f"market_shares added ({variant}, asset {asset})",
            _put_table(inp, "market_shares", _Table(["institution", "asset", "share"], rows)))


# --------------------------------------------------------------------------- raw CSV mutations


def _pick_csv(rng: random.Random, inp: MutatedInput) -> tuple[str, str] | None:
    if inp.kind != "tables":
        return None
    files = [(n, c) for n, c in inp.files if n.endswith(".csv") and isinstance(c, str)]
    return rng.choice(files) if files else None


def csv_truncate(rng, inp):
    """A CSV file empty, blank, cut inside its header or inside a row."""
    picked = _pick_csv(rng, inp)
    if picked is None:
        return None
    name, text = picked
    variant = rng.choice(("empty", "blank", "header_cut", "row_cut"))
    if variant == "empty":
        new = ""
    elif variant == "blank":
        new = "\n\n  \n"
    elif variant == "header_cut":
        header = text.split("\n", 1)[0]
        new = header[: max(1, len(header) // 2)]
    else:
        new = text.rstrip("\n")
        new = new[: len(new) - max(1, len(new.rsplit("\n", 1)[-1]) // 2)]
    return f"{name}: {variant}", inp.with_file(name, new)


def csv_ragged_row(rng, inp):
    """A CSV row with a cell too many or too few."""
    picked = _pick_csv(rng, inp)
    if picked is None:
        return None
    name, text = picked
    rows = _csv_rows(text)
    if len(rows) < 2:
        return None
    r = rng.randrange(1, len(rows))
    if rng.random() < 0.5 and rows[r]:
        rows[r] = rows[r][:-1]
        label = "a cell short"
    else:
        rows[r] = [*rows[r], rng.choice(("1", "x", ""))]
        label = "a cell too many"
    return f"{name} row {r}: {label}", inp.with_file(name, _csv_text(rows))


def csv_bad_quote(rng, inp):
    """An unbalanced quote in a CSV cell."""
    picked = _pick_csv(rng, inp)
    if picked is None:
        return None
    name, text = picked
    lines = text.split("\n")
    if len(lines) < 2:
        return None
    r = rng.randrange(1, len(lines))
    lines[r] = '"' + lines[r]
    return f"{name} line {r + 1}: unbalanced quote", inp.with_file(name, "\n".join(lines))


def csv_non_utf8(rng, inp):
    """A CSV file with bytes that are not UTF-8 (a Latin-1 name, binary noise)."""
    picked = _pick_csv(rng, inp)
    if picked is None:
        return None
    name, text = picked
    data = text.encode("utf-8")
    if rng.random() < 0.5:
        cut = data.find(b"\n") + 1
        data = data[:cut] + b"caf\xe9_" + data[cut:]
        label = "a Latin-1 byte"
    else:
        data = bytes(rng.randrange(256) for _ in range(64))
        label = "binary noise"
    return f"{name}: {label}", inp.with_file(name, data)


def csv_duplicate_header(rng, inp):
    """A column named twice in a CSV header."""
    picked = _pick_csv(rng, inp)
    if picked is None:
        return None
    name, text = picked
    rows = _csv_rows(text)
    if not rows or not rows[0]:
        return None
    c = rng.randrange(len(rows[0]))
    rows = [[*row, row[c] if c < len(row) else ""] for row in rows]
    return f"{name}: column {rows[0][c]!r} twice", inp.with_file(name, _csv_text(rows))


def csv_encoding_variant(rng, inp):
    """Valid encodings of the same CSV: a UTF-8 byte-order mark, CRLF line ends, padded cells."""
    picked = _pick_csv(rng, inp)
    if picked is None:
        return None
    name, text = picked
    variant = rng.choice(("bom", "crlf", "padded"))
    if variant == "bom":
        new = "\ufeff" + text
    elif variant == "crlf":
        new = text.replace("\n", "\r\n")
    else:
        new = _csv_text([[f" {c} " if c else c for c in row] for row in _csv_rows(text)])
    return f"{name}: {variant}", inp.with_file(name, new)


def stray_parquet(rng, inp):
    """A Parquet file of a table beside (or instead of) its CSV: garbage bytes."""
    picked = _pick_csv(rng, inp)
    if picked is None:
        return None
    name, _ = picked
    table = name.removesuffix(".csv")
    out = inp.with_file(f"{table}.parquet", b"PAR1 not really parquet")
    if rng.random() < 0.5:
        return f"{table}.parquet (garbage) beside {name}", out
    return f"{name} replaced by a garbage {table}.parquet", out.with_file(name, None)


# --------------------------------------------------------------------------- TOML mutations


def _scenario_of(data: dict[str, Any]) -> dict[str, Any] | None:
    scenario = data.setdefault("scenario", {})
    return scenario if isinstance(scenario, dict) else None


def _get_path(section: dict[str, Any], path: str) -> Any:
    node: Any = section
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set_path(section: dict[str, Any], path: str, value: Any) -> bool:
    *parents, leaf = path.split(".")
    node = section
    for part in parents:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            return False
        node = nxt
    if value is BLANK:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return True


def _asset_names(inp: MutatedInput) -> list[str]:
    return _names(inp, "assets")


def _programme_ready(inp: MutatedInput, scenario: dict[str, Any], path: str) -> None:
    """Give an optional policy programme the fields it needs so that its own field is what fails."""
    section, _, _ = path.rpartition(".")
    if section in ("policy.purchases", "policy.repo_facility") and not isinstance(_get_path(scenario, section), dict):
        assets = _asset_names(inp)[:1] or ["x"]
        _set_path(scenario, section, {"assets": assets, **({"haircut": 0.05} if section.endswith("facility") else {})})


def scenario_field(rng, inp):
    """A scenario field at or beyond its bounds, NaN, inf, text, a boolean, a container."""
    data = _doc(inp)
    if data is None or (scenario := _scenario_of(data)) is None:
        return None
    field = rng.choice(_scenario_fields())
    family = rng.choice(_families(field))
    cap = inp.max_rounds
    got = _bad_value(rng, field, _get_path(scenario, field.path), True, family,
                     cap=cap if field.path == "max_rounds" else None)
    if got is None:
        return None
    label, value = got
    if field.path == "max_rounds" and _number(value) is not None and not isinstance(value, bool):
        shocks = scenario.get("shocks") if isinstance(scenario.get("shocks"), list) else []
        last = max([s.get("round", 0) for s in shocks if isinstance(s, dict) and isinstance(s.get("round", 0), int)]
                   or [0])
        if family in ("huge",) or (family == "x100" and _number(value) <= 10_000):
            value, label = cap, f"{label} capped to {cap}"  # a valid run longer than the cap is out of bounds
        if 1 <= _number(value) <= 10_000 and float(value).is_integer() and last + 1 > value:
            label += " (before a later shock)"
    _programme_ready(inp, scenario, field.path)
    if not _set_path(scenario, field.path, value):
        return None
    if _implausible(field, value) and rng.random() < 0.6 and allow_key() is not None:
        data[allow_key()] = True
        label += ", allow_implausible = true"
    return f"scenario.{field.path}: {label}", _with_doc(inp, data)


def max_rounds_edge(rng, inp):
    """max_rounds at 1 (valid), 0, negative, beyond 10,000, fractional, text, boolean."""
    data = _doc(inp)
    if data is None or (scenario := _scenario_of(data)) is None:
        return None
    value = rng.choice((1, 1, 2, 0, -1, 10_001, 10**30, 2.5, 3.0, "10", True, float("nan")))
    if value == 1 and isinstance(scenario.get("shocks"), list):
        scenario["shocks"] = [dict(s, round=0) if isinstance(s, dict) else s for s in scenario["shocks"]]
    scenario["max_rounds"] = value
    return f"scenario.max_rounds = {value!r}", _with_doc(inp, data)


def scenario_drop_or_rename(rng, inp):
    """A scenario key deleted (its default applies) or misspelt."""
    data = _doc(inp)
    if data is None or (scenario := _scenario_of(data)) is None:
        return None
    paths = [f.path for f in _scenario_fields() if _get_path(scenario, f.path) is not None]
    paths += [k for k in scenario if k == "shocks"]
    if not paths:
        return None
    path = rng.choice(paths)
    value = _get_path(scenario, path)
    _set_path(scenario, path, BLANK)
    if rng.random() < 0.5:
        return f"scenario.{path} deleted", _with_doc(inp, data)
    parent, _, leaf = path.rpartition(".")
    new = _typo(rng, leaf)
    _set_path(scenario, f"{parent}.{new}" if parent else new, value)
    return f"scenario.{path} renamed {new!r}", _with_doc(inp, data)


def scenario_unknown_key(rng, inp):
    """An unknown key in the scenario or one of its sections."""
    data = _doc(inp)
    if data is None or (scenario := _scenario_of(data)) is None:
        return None
    section = rng.choice(("", "market", "channels", "policy", "volatility", "information"))
    key = rng.choice(("shock", "max_round", "colour", "alpha", "", "execution-alpha", "Market"))
    path = f"{section}.{key}" if section else key
    if not key or _get_path(scenario, path) is not None:
        return None
    if not _set_path(scenario, path, rng.choice((1, 0.5, "x", True))):
        return None
    return f"scenario.{path}: unknown key", _with_doc(inp, data)


def section_wrong_type(rng, inp):
    """A section that is not a table (scenario = 5, market = "x", shocks as one table)."""
    data = _doc(inp)
    if data is None:
        return None
    where = rng.choice(("scenario", "market", "channels", "policy", "shocks", "shocks_item", "purchases"))
    value = rng.choice((5, "x", [1, 2], True, 0.5))
    if where == "scenario":
        data["scenario"] = value
    else:
        scenario = _scenario_of(data)
        if scenario is None:
            return None
        if where == "shocks":
            shocks = scenario.get("shocks")
            value = shocks[0] if isinstance(shocks, list) and shocks else {"asset": "x", "price": -0.1}
        elif where == "shocks_item":
            scenario["shocks"] = [*(scenario.get("shocks") or []), value] if isinstance(
                scenario.get("shocks", []), list) else [value]
            return f"scenario.shocks: an item {value!r}", _with_doc(inp, data)
        elif where == "purchases":
            scenario.setdefault("policy", {})
            if not isinstance(scenario["policy"], dict):
                return None
            scenario["policy"]["purchases"] = value
            return f"scenario.policy.purchases = {value!r}", _with_doc(inp, data)
        scenario[where] = value
    return f"{'scenario' if where == 'scenario' else 'scenario.' + where} = {value!r}", _with_doc(inp, data)


#: Shock variants that are valid (given allow_implausible where a value is beyond its
#: plausible range).
_VALID_SHOCKS = ("price_-0.99", "price_-1_plus_tiny", "price_+10", "volatility_huge", "volatility_tiny",
                 "client_sale_huge", "repo_rate_one", "last_round", "default", "redemption_all", "capital_payout",
                 "capital_injection")


def shock(rng, inp, valid_only: bool = False):
    """A shock: unknown target, both or no targets, out-of-horizon or negative round, a
    -99% or -100% fall, a huge volatility jump, an institution's default or redemption."""
    data = _doc(inp)
    if data is None or (scenario := _scenario_of(data)) is None:
        return None
    assets = _asset_names(inp) or ["x"]
    institutions = _names(inp, "institutions") or ["y"]
    cap = inp.max_rounds
    asset, institution = rng.choice(assets), rng.choice(institutions)
    variants = {
        "price_-0.99": {"asset": asset, "price": -0.99},
        "price_-1": {"asset": asset, "price": -1.0},
        "price_-1_plus_tiny": {"asset": asset, "price": math.nextafter(-1.0, 0.0)},
        "price_+10": {"asset": asset, "price": 10.0},
        "price_nan": {"asset": asset, "price": float("nan")},
        "price_text": {"asset": asset, "price": "-5%"},
        "volatility_huge": {"asset": asset, "volatility": 1e6},
        "volatility_tiny": {"asset": asset, "volatility": 1e-300},
        "volatility_zero": {"asset": asset, "volatility": 0.0},
        "client_sale_huge": {"asset": asset, "client_sale": 1e15},
        "repo_rate_one": {"asset": asset, "repo_rate": 1.0},
        "unknown_asset": {"asset": _unknown_name(rng, assets), "price": -0.1},
        "unknown_institution": {"institution": _unknown_name(rng, institutions), "default": True},
        "both_targets": {"asset": asset, "institution": institution, "price": -0.1},
        "no_target": {"price": -0.1},
        "no_effect": {"asset": asset},
        "late_round": {"asset": asset, "price": -0.1, "round": cap + rng.randrange(3)},
        "last_round": {"asset": asset, "price": -0.1, "round": cap - 1},
        "negative_round": {"asset": asset, "price": -0.1, "round": -1},
        "fractional_round": {"asset": asset, "price": -0.1, "round": 1.5},
        "default": {"institution": institution, "default": True},
        "redemption_all": {"institution": institution, "redemption": 1.0},
        "capital_payout": {"institution": institution, "capital": -1e12},
        "capital_injection": {"institution": institution, "capital": 1e12},
        "unknown_field": {"asset": asset, "price": -0.1, "size": 2},
    }
    name = rng.choice(_VALID_SHOCKS if valid_only else sorted(variants))
    item = variants[name]
    shocks = scenario.get("shocks")
    shocks = list(shocks) if isinstance(shocks, list) else []
    if rng.random() < 0.5 and shocks:
        shocks[rng.randrange(len(shocks))] = item
        how = "replaces a shock"
    else:
        shocks.append(item)
        how = "added"
    scenario["shocks"] = shocks
    if isinstance(scenario.get("max_rounds"), int) and not isinstance(scenario["max_rounds"], bool):
        scenario["max_rounds"] = min(scenario["max_rounds"], cap)
    label = f"scenario.shocks: {name} {how} {item!r}"
    fields = {f.path: f for f in _shock_fields()}
    if valid_only and allow_key() is not None and any(_implausible(fields[k], v) for k, v in item.items()
                                                      if k in fields):
        data[allow_key()] = True
        label += ", allow_implausible = true"
    return label, _with_doc(inp, data)


def shock_extreme_valid(rng, inp):
    """A valid but extreme shock: -99%, +1000%, volatility x1e6 or x1e-300, a huge client
    sale, a default, a full redemption, a huge payout or injection, in the last round."""
    return shock(rng, inp, valid_only=True)


def policy_programme(rng, inp):
    """Central-bank purchases or a repo facility: unknown or no assets, caps at 0, floor at
    par, a haircut at 1, a buffer release of 1, all-to-all near 1."""
    data = _doc(inp)
    if data is None or (scenario := _scenario_of(data)) is None:
        return None
    policy = scenario.setdefault("policy", {})
    if not isinstance(policy, dict):
        return None
    assets = _asset_names(inp) or ["x"]
    variant = rng.choice(("purchases_valid", "purchases_unknown", "purchases_none", "purchases_floor_par",
                          "purchases_zero_caps", "facility_valid", "facility_haircut_one", "facility_unknown",
                          "facility_missing_haircut", "buffer_release_one", "all_to_all_near_one", "every_switch"))
    if variant == "purchases_valid":
        policy["purchases"] = {"assets": assets, "daily_cap": 10.0, "total": 50.0, "price_floor": 0.95}
    elif variant == "purchases_unknown":
        policy["purchases"] = {"assets": [_unknown_name(rng, assets)]}
    elif variant == "purchases_none":
        policy["purchases"] = {"assets": []}
    elif variant == "purchases_floor_par":
        policy["purchases"] = {"assets": assets, "price_floor": 1.0}
    elif variant == "purchases_zero_caps":
        policy["purchases"] = {"assets": assets, "daily_cap": 0.0, "total": 0.0}
    elif variant == "facility_valid":
        policy["repo_facility"] = {"assets": assets, "haircut": 0.05, "min_rate": 0.01}
    elif variant == "facility_haircut_one":
        policy["repo_facility"] = {"assets": assets, "haircut": rng.choice((1.0, math.nextafter(1.0, 0.0)))}
    elif variant == "facility_unknown":
        policy["repo_facility"] = {"assets": [_unknown_name(rng, assets)], "haircut": 0.05}
    elif variant == "facility_missing_haircut":
        policy["repo_facility"] = {"assets": assets}
    elif variant == "buffer_release_one":
        policy["slr_buffer_release"] = 1.0
    elif variant == "all_to_all_near_one":
        policy["all_to_all"] = math.nextafter(1.0, 0.0)
    else:
        policy.update({"slr_exemption": True, "haircut_floor": True, "swing_pricing": True})
    return f"scenario.policy: {variant}", _with_doc(inp, data)


def top_level_key(rng, inp):
    """An unknown top-level key or section (a near miss or a stranger)."""
    data = _doc(inp)
    if data is None:
        return None
    key = rng.choice(("scenaro", "Scenario", "institution", "policy", "version", "x", "tables_", "name "))
    if key in data:
        return None
    data[key] = rng.choice((1, "x", {"a": 1}, [{"name": "x"}], {}))
    return f"unknown top-level key {key!r}", _with_doc(inp, data)


def top_level_value(rng, inp):
    """name, description or currency of a wrong type, or deleted."""
    data = _doc(inp)
    if data is None:
        return None
    key = rng.choice(("name", "description", "currency"))
    value = rng.choice((BLANK, 5, ["a"], {"a": 1}, "", True))
    if value is BLANK:
        data.pop(key, None)
    else:
        data[key] = value
    return f"top-level {key} = {value!r}", _with_doc(inp, data)


def policies_bundle(rng, inp):
    """A [policies.NAME] bundle: valid, an unknown field, a value out of range, an unknown
    asset, no overrides, a reserved name, a non-string description, policies = 5."""
    data = _doc(inp)
    if data is None:
        return None
    assets = _asset_names(inp) or ["x"]
    variant = rng.choice(("valid", "unknown_field", "out_of_range", "unknown_asset", "empty", "baseline",
                          "plus", "switch_name", "description_number", "not_a_table", "bundle_not_a_table",
                          "nested_valid", "shock_override"))
    name, body = "stress", {"description": "test bundle", "policy.slr_exemption": True}
    if variant == "unknown_field":
        body = {"policy.slr_exemptoin": True}
    elif variant == "out_of_range":
        body = {"market.execution_alpha": 2.0}
    elif variant == "unknown_asset":
        body = {"policy.purchases": {"assets": [_unknown_name(rng, assets)]}}
    elif variant == "empty":
        body = {"description": "nothing"}
    elif variant == "baseline":
        name = "baseline"
    elif variant == "plus":
        name = "a+b"
    elif variant == "switch_name":
        name = "slr_exemption"
    elif variant == "description_number":
        body = {"description": 5, "policy.haircut_floor": True}
    elif variant == "nested_valid":
        body = {"policy": {"haircut_floor": True}, "market": {"dealer_lean": 0.0}}
    elif variant == "shock_override":
        body = {"shocks": [{"asset": rng.choice(assets), "price": -0.5}]}
    if variant == "not_a_table":
        data["policies"] = 5
    else:
        policies = data.get("policies")
        policies = dict(policies) if isinstance(policies, dict) else {}
        policies[name] = "x" if variant == "bundle_not_a_table" else body
        data["policies"] = policies
    return f"policies: {variant}", _with_doc(inp, data)


def _deep(rng: random.Random, depth: int) -> tuple[str, Raw]:
    kind = rng.choice(("arrays", "tables"))
    if kind == "arrays":
        return f"arrays nested {depth} deep", Raw("[" * depth + "1" + "]" * depth)
    return f"inline tables nested {depth} deep", Raw("{a = " * depth + "1" + "}" * depth)


def deep_nesting(rng, inp):
    """A value nested very deeply (arrays, inline tables, a long dotted section name),
    at the top level, in the scenario, in a policy bundle or in a table."""
    data = _doc(inp)
    if data is None:
        return None
    depth = rng.choice((30, 300, 3000))
    where = rng.choice(("top", "scenario_field", "scenario_key", "policy", "dotted", "table_cell"))
    label, raw = _deep(rng, depth)
    if where == "top":
        data["deep"] = raw
    elif where == "scenario_field":
        scenario = _scenario_of(data)
        if scenario is None:
            return None
        field = rng.choice(_scenario_fields())
        _programme_ready(inp, scenario, field.path)
        if not _set_path(scenario, field.path, raw):
            return None
        where = f"scenario.{field.path}"
    elif where == "scenario_key":
        scenario = _scenario_of(data)
        if scenario is None:
            return None
        scenario["market"] = scenario.get("market") if isinstance(scenario.get("market"), dict) else {}
        scenario["market"]["deep"] = raw
    elif where == "policy":
        data["policies"] = {"deep": {"description": "deep", "policy": {"x": raw}}}
    elif where == "dotted":
        text = dumps_toml(data) + "\n[" + ".".join(["scenario"] + ["a"] * depth) + "]\nb = 1\n"
        return f"a section name {depth + 1} parts long", inp.with_file(inp.doc_name, text)
    else:
        if inp.kind != "toml":
            return None
        picked = _pick_table(rng, inp)
        if picked is None:
            return None
        table, t = picked
        column = rng.choice(t.columns or ["name"])
        t.rows[0][column] = raw
        return f"{table} row 1 field {column}: {label}", _put_table(inp, table, t)
    return f"{where}: {label}", _with_doc(inp, data)


def toml_text(rng, inp):
    """The TOML text broken: a bad line, a duplicate key, an unclosed section, non-UTF-8
    bytes, a byte-order mark, a NUL character."""
    text = inp.get(inp.doc_name)
    if not isinstance(text, str):
        return None
    variant = rng.choice(("bad_line", "duplicate_key", "unclosed", "non_utf8", "bom", "nul", "empty"))
    if variant == "bad_line":
        new = text + "\nthis is not toml\n"
    elif variant == "duplicate_key":
        new = re.sub(r"^(name = .*)$", r"\1\n\1", text, count=1, flags=re.M)
        if new == text:
            new = "name = 'a'\nname = 'b'\n" + text
    elif variant == "unclosed":
        new = text + "\n[scenario.market\n"
    elif variant == "non_utf8":
        return f"{inp.doc_name}: non-UTF-8 bytes", inp.with_file(inp.doc_name, text.encode("utf-8") + b"\n# \xff\xfe\n")
    elif variant == "bom":
        new = "\ufeff" + text
    elif variant == "nul":
        new = text + "\nnote = \"a\x00b\"\n"
    else:
        new = ""
    return f"{inp.doc_name}: {variant}", inp.with_file(inp.doc_name, new)


def allow_switch(rng, inp):
    """``allow_implausible`` at the top of the TOML: true (valid), or not a boolean."""
    key = allow_key()
    data = _doc(inp)
    if key is None or data is None:
        return None
    value = rng.choice((True, True, False, "yes", 1, [True]))
    data[key] = value
    return f"{key} = {value!r}", _with_doc(inp, data)


def drop_doc(rng, inp):
    """The scenario.toml of a table folder deleted (the default scenario applies)."""
    if inp.kind != "tables" or inp.get("scenario.toml") is None:
        return None
    return "scenario.toml deleted", inp.with_file("scenario.toml", None)


def table_wrong_type(rng, inp):
    """A preset's table that is not a list of tables (institutions = 5, a table, scalars)."""
    if inp.kind != "toml":
        return None
    data = _doc(inp)
    if data is None:
        return None
    table = rng.choice(_TABLES)
    value = rng.choice((5, "x", {"name": "a"}, [1, 2], [{"name": "a"}, 3], True))
    data[table] = value
    return f"{table} = {value!r}", _with_doc(inp, data)


def tables_section(rng, inp):
    """A preset's [tables] section: a table moved to a CSV file (valid), a missing file, an
    unknown table name, a table both inline and in a file, tables = 5."""
    if inp.kind != "toml":
        return None
    data = _doc(inp)
    if data is None or "tables" in data:
        return None
    present = [t for t in _TABLES if isinstance(data.get(t), list) and data[t]]
    if not present:
        return None
    table = rng.choice(present)
    variant = rng.choice(("move", "move", "missing", "unknown", "both", "not_a_table", "directory"))
    out = inp
    if variant in ("move", "both"):
        t = _get_table(inp, table)
        assert t is not None
        rows = [list(t.columns)] + [[_cell(r.get(c, BLANK)) for c in t.columns] for r in t.rows]
        out = out.with_file(f"{table}.csv", _csv_text(rows))
        if variant == "move":
            data.pop(table)
        data["tables"] = {table: f"{table}.csv"}
    elif variant == "missing":
        data["tables"] = {table: "missing.csv"}
    elif variant == "unknown":
        data["tables"] = {table + "_x": f"{table}.csv"}
    elif variant == "not_a_table":
        data["tables"] = 5
    else:
        data["tables"] = {table: "."}
    return f"[tables] {variant} ({table})", _with_doc(out, data)


#: Every mutation, by name.
MUTATIONS: dict[str, Mutation] = {
    f.__name__: f
    for f in (
        set_number, set_text_in_number, set_bool_in_number, set_container, set_choice, blank_cell, drop_column,
        rename_column, add_unknown_column, duplicate_row, duplicate_name, unknown_reference, swap_units,
        empty_table, delete_table, extreme_valid, add_correlations, add_market_shares,
        csv_truncate, csv_ragged_row, csv_bad_quote, csv_non_utf8, csv_duplicate_header, csv_encoding_variant,
        stray_parquet,
        scenario_field, max_rounds_edge, scenario_drop_or_rename, scenario_unknown_key, section_wrong_type,
        shock, policy_programme, top_level_key, top_level_value, policies_bundle, deep_nesting, toml_text,
        drop_doc, table_wrong_type, tables_section, allow_switch, cell_extreme_valid, scenario_extreme_valid,
        shock_extreme_valid,
    )
}


# --------------------------------------------------------------------------- bases


def _cap_rounds(data: dict[str, Any], cap: int) -> dict[str, Any]:
    scenario = data.setdefault("scenario", {})
    shocks = scenario.get("shocks") or []
    last = max((int(s.get("round", 0)) for s in shocks), default=0)
    scenario["max_rounds"] = max(min(int(scenario.get("max_rounds", 50)), cap), last + 1)
    # a target measured past the capped horizon would be refused: the record is not mutated
    data.pop("targets", None)
    return data


def _read_dir(directory: Path) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((p.name, p.read_text(encoding="utf-8")) for p in directory.iterdir() if p.is_file()))


def _generated(n: int, k: int, density: float, seed: int, cap: int) -> MutatedInput:
    from firesale.data.synthetic import write_generated

    with tempfile.TemporaryDirectory() as tmp:
        write_generated(tmp, n, k, density, seed)
        files = dict(_read_dir(Path(tmp)))
    files["scenario.toml"] = dumps_toml(_cap_rounds(tomllib.loads(files["scenario.toml"]), cap))
    return MutatedInput("tables", f"generated n={n} k={k} density={density} seed={seed}",
                        tuple(sorted(files.items())), max_rounds=cap)


def _preset_scenario_doc(preset: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": preset.name, "description": preset.description,
                           "currency": preset.system.currency,
                           "scenario": preset.scenario.model_dump(mode="python", exclude_none=True, by_alias=True)}
    if preset.policies:
        doc["policies"] = {name: {"description": p["description"], **p["overrides"]}
                           for name, p in preset.policies.items()}
    return doc


def _preset_tables(name: str, cap: int) -> MutatedInput:
    from firesale.data import load_preset, write_tables

    preset = load_preset(name)
    with tempfile.TemporaryDirectory() as tmp:
        write_tables(preset.system, tmp)
        files = dict(_read_dir(Path(tmp)))
    files["scenario.toml"] = dumps_toml(_cap_rounds(_preset_scenario_doc(preset), cap))
    return MutatedInput("tables", f"preset {name} as tables", tuple(sorted(files.items())), max_rounds=cap)


def _preset_toml(name: str, cap: int) -> MutatedInput:
    text = (resources.files("firesale") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
    text = dumps_toml(_cap_rounds(tomllib.loads(text), cap))
    return MutatedInput("toml", f"preset {name}.toml", (("preset.toml", text),), max_rounds=cap)


def _preset_names() -> list[str]:
    return sorted(e.name.removesuffix(".toml") for e in (resources.files("firesale") / "presets").iterdir()
                  if e.name.endswith(".toml"))


@lru_cache(maxsize=8)
def base_inputs(max_rounds: int = MAX_ROUNDS) -> tuple[MutatedInput, ...]:
    """The unmutated inputs: generated table folders, the presets exported as tables and
    the presets' TOML files, each with ``max_rounds`` capped (at least the last shock's
    round + 1)."""
    bases = [_generated(*spec, max_rounds) for spec in _GENERATED]
    for name in _preset_names():
        bases.append(_preset_tables(name, max_rounds))
        bases.append(_preset_toml(name, max_rounds))
    return tuple(bases)


#: Mutations that mostly keep an input valid, to stress the engine rather than the loaders
#: (``mutations(seed, n, names=ENGINE_MUTATIONS, stack=(0.3, 0.4, 0.3))``).
ENGINE_MUTATIONS = ("extreme_valid", "cell_extreme_valid", "scenario_extreme_valid", "shock_extreme_valid",
                    "policy_programme", "add_correlations")

#: Relative weights of the mutations (default 1): the scenario's fields, numeric cells and
#: shocks have the most ways to go wrong.
WEIGHTS = {"scenario_field": 4, "set_number": 3, "shock": 2, "extreme_valid": 3, "tables_section": 2,
           "policy_programme": 1, "max_rounds_edge": 1}


def mutate(rng: random.Random, inp: MutatedInput, names: tuple[str, ...] | None = None,
           tries: int = 50) -> MutatedInput | None:
    """``inp`` with one mutation applied (drawn from ``names``, default all, by
    :data:`WEIGHTS`), or None when none applies within ``tries`` draws (an input whose
    TOML no longer parses takes only text-level mutations)."""
    pool = list(names or MUTATIONS)
    weights = [WEIGHTS.get(name, 1) for name in pool]
    for _ in range(tries):
        name = rng.choices(pool, weights=weights)[0]
        got = MUTATIONS[name](rng, inp)
        if got is not None:
            text, out = got
            return out.step(f"{name}: {text}")
    return None


def mutations(seed: int, n: int, *, max_rounds: int = MAX_ROUNDS, names: tuple[str, ...] | None = None,
              stack: tuple[float, ...] = (0.75, 0.2, 0.05)) -> Iterator[tuple[str, MutatedInput]]:
    """``n`` mutated inputs, a deterministic function of ``seed`` (and the other arguments).

    The first mutation of each case follows a schedule, shuffled by ``seed``, that holds each
    mutation :data:`WEIGHTS` times (so every mutation is drawn once every ``len(schedule)``
    cases, about 55), on a base it applies to; further mutations are drawn at random.

    Parameters
    ----------
    seed : int
    n : int
    max_rounds : int
        Cap on the rounds of every valid scenario (the bases' ``max_rounds``).
    names : tuple of str, optional
        Mutations to draw from (keys of :data:`MUTATIONS`); default all.
    stack : tuple of float
        Probabilities of applying 1, 2, 3, ... mutations to one base.

    Yields
    ------
    (str, MutatedInput)
        The case's description (the base and each mutation) and the input.
    """
    bases = base_inputs(max_rounds)
    pool = list(names or MUTATIONS)
    schedule = [name for name in pool for _ in range(WEIGHTS.get(name, 1))]
    random.Random(seed).shuffle(schedule)
    for i in range(n):
        rng = random.Random(seed * 1_000_003 + i)
        first = schedule[i % len(schedule)]
        inp = None
        for base in rng.sample(bases, len(bases)):
            got = MUTATIONS[first](rng, base)
            if got is not None:
                inp = got[1].step(f"{first}: {got[0]}")
                break
        if inp is None:
            raise ValueError(f"mutation {first!r} applies to no base input")
        count = rng.choices(range(1, len(stack) + 1), weights=stack)[0]
        for _ in range(count - 1):
            out = mutate(rng, inp, names)
            if out is None:
                break
            inp = out
        yield f"case {seed}/{i}: {inp.description}", inp
