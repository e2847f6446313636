"""Errors raised by firesale, each with a searchable code.

Every error says where (file, row, field), what (the value and what was allowed)
and what to do next. The command line prints the message without a traceback.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FiresaleError", "DataError", "ConfigError", "ModelDivergenceError", "Problem", "FieldError", "explain", "did_you_mean"]


@dataclass(frozen=True)
class Problem:
    """One problem found in an input.

    Parameters
    ----------
    code : str
        Searchable code, e.g. ``"FS104"``.
    where : str
        File, table, row and field, e.g. ``"institutions.csv row 7 (dealer_b), field slr_target"``.
    message : str
        What is wrong and what to do.
    """

    code: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.where}: {self.message}"


class FiresaleError(Exception):
    """Base class of every error firesale raises on purpose."""

    def __init__(self, problems: list[Problem] | Problem | str, code: str = "FS000"):
        if isinstance(problems, str):
            problems = [Problem(code, "input", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self._format())

    def _format(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class DataError(FiresaleError, ValueError):
    """A system table (institutions, assets, holdings, correlations) is invalid."""


class ConfigError(FiresaleError, ValueError):
    """A scenario, preset name or command-line option is invalid."""


class FieldError(ValueError):
    """A model validator's error about one field: pydantic keeps the exception, so the
    loaders can name the field in ``where`` instead of the whole row."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def did_you_mean(name: Any, known: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest known name, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def _is_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() in ("nan", "+nan", "-nan")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
    except OverflowError:  # an integer beyond any float
        return math.inf if value > 0 else -math.inf


_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def explain(error: Mapping[str, Any], known: Iterable[str] = ()) -> str:
    """A pydantic error (one entry of ``ValidationError.errors()``) as a message that says
    what was wrong, the value given, and what to do. ``known``: the valid field names,
    for a spelling suggestion on an unknown field."""
    kind = error["type"]
    msg = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is missing: fill in a value (this field is required)"
    if kind == "extra_forbidden":
        field = error["loc"][-1] if error.get("loc") else ""
        return f"is not a known field.{did_you_mean(field, known)} Check its spelling (see `firesale validate --schema`)"
    if kind == "value_error":
        return msg if error.get("loc") == () or isinstance(value, Mapping) else f"got {value!r}: {msg}"
    if _is_nan(value):
        return (f"got {value!r}: NaN is not a value; fill in a number "
                "(an empty cell in an optional column means 'not set' and takes the default)")
    if kind == "finite_number":
        return f"got {value!r}: infinite values are not allowed here; fill in a finite number"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = ctx.get(key)
        number = _as_number(value)
        text = f"got {value!r}: must be {words} {bound:g}" if isinstance(bound, (int, float)) else f"got {value!r}: {msg}"
        if key in ("le", "lt") and bound == 1 and number is not None and 1 < number <= 100:
            return f"{text}. Ratios are fractions, not percent: write {number / 100:g}"
        if key in ("ge", "gt") and bound == -1 and number is not None and -100 <= number < -1:
            return f"{text}. Returns are fractions, not percent: write {number / 100:g}"
        return f"{text}; fix the value"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"got {value!r}: must be one of {', '.join(options)}.{did_you_mean(value, options)} Use one of these"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        what = "a whole number" if kind.startswith("int") else "a number"
        return f"got {value!r}: is not {what}; write {what} such as {'3' if what != 'a number' else '0.05 or 1e3'}"
    if kind in ("bool_parsing", "bool_type"):
        return f"got {value!r}: is not true or false; write true or false"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"got {value!r}: must be a table of named fields (in TOML, a [section]); write it as one"
    if kind in ("list_type", "tuple_type"):
        return f"got {value!r}: must be a list (in TOML, an array of tables [[...]]); write it as one"
    if kind in ("string_too_short",):
        return f"got {value!r}: is empty; fill in a name"
    return f"got {value!r}: {msg}; fix the value"


class ModelDivergenceError(FiresaleError, ArithmeticError):
    """A simulation left the finite numbers (an explosive feedback); names scenario and round."""
