"""Calibration: fit a preset's free parameters to its targets by bounded least squares.

The free parameters are rows of the preset's ``[[parameters]]`` table
(:mod:`firesale.parameters`), whose ``low`` and ``high`` bound the fit; the residuals are
the targets' (:func:`firesale.analytics.targets.target_residuals`), so that a target is
met exactly when its residual is within ±1. :func:`calibrate` solves

.. math::

    \\min_{\\theta \\in [\\ell, u]} \\tfrac12 \\sum_j r_j(\\theta)^2

with the trust-region reflective method for bound-constrained nonlinear least squares
(Branch, Coleman & Li 1999, "A subspace, interior, and conjugate gradient method for
large-scale bound-constrained minimization problems", SIAM J. Sci. Comput. 21(1)),
as :func:`scipy.optimize.least_squares` implements it (``method="trf"``). A parameter
drawn on a log scale (``scale = "log"``) is fitted in :math:`\\ln \\theta`, the scale on
which it varies.

**Batches.** The Jacobian is taken by forward differences,
:math:`J_{jk} \\approx (r_j(\\theta + h_k e_k) - r_j(\\theta)) / h_k`. Parameter vectors
that share one system (they differ in scenario-level parameters only,
:func:`firesale.parameters.split_parameters`) run as ONE batch of one
:func:`firesale.simulate` call, with the baseline and every policy the targets name;
vectors that change the system run one system at a time.

**The fitted file.** :func:`fitted_preset_text` writes the fitted values into the
preset's own TOML text, keeping every other line and comment: a value the file sets is
replaced where it stands, one it leaves to its default is added to its row or section.
The result is parsed again and must equal the original with exactly those values
changed, or nothing is written (FS183).

Errors (:class:`~firesale.errors.ConfigError`): FS180 a preset without targets; FS181 a
free parameter that is no ``[[parameters]]`` row, or none given; FS182 a
``--max-evaluations`` below 1; FS183 a fitted value the TOML text cannot take (a table
file, an inline table) or a preset without a TOML file; FS184 a target without a model
value (nothing to fit).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from firesale.analytics.targets import (
    OBSERVABLES,
    Target,
    TargetResult,
    run_targets,
    target_residuals,
    target_results,
)
from firesale.errors import ConfigError, Problem, did_you_mean

if TYPE_CHECKING:
    import xarray as xr

    from firesale.data.preset import Preset
    from firesale.scenario import Scenario
    from firesale.system import System

__all__ = ["FreeParameter", "CalibrationResult", "calibrate", "fitted_preset_text", "calibration_header"]

#: Relative forward-difference step, of the larger of |θ| and the width of its bounds.
FD_STEP = 1e-6


@dataclasses.dataclass(frozen=True)
class FreeParameter:
    """A fitted parameter: its path, bounds, scale, value before and after the fit."""

    name: str
    low: float
    high: float
    scale: str
    initial: float
    fitted: float

    @property
    def at_bound(self) -> bool:
        """The fit stopped on a bound (the record asks for a value outside the range)."""
        width = self.high - self.low
        return min(self.fitted - self.low, self.high - self.fitted) <= 1e-6 * width


@dataclasses.dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate` found.

    Attributes
    ----------
    preset : str
    parameters : list of FreeParameter
    before, after : list of TargetResult
        The targets at the preset's values and at the fitted ones.
    evaluations : int
        Parameter vectors simulated (finite differences included).
    function_evaluations : int
        Residual evaluations of the optimiser (``--max-evaluations`` caps them).
    success : bool
        The optimiser converged (scipy's ``status > 0``).
    message : str
        The optimiser's reason for stopping.
    system, scenario : System, Scenario
        The preset's, with the fitted values.
    dataset : xarray.Dataset
        The run at the fitted values (the baseline, then each policy the targets name).
    scenarios : list of Scenario
        That batch.
    """

    preset: str
    parameters: list[FreeParameter]
    before: list[TargetResult]
    after: list[TargetResult]
    evaluations: int
    function_evaluations: int
    success: bool
    message: str
    system: System
    scenario: Scenario
    dataset: xr.Dataset
    scenarios: list[Scenario]

    @property
    def values(self) -> dict[str, float]:
        """The fitted values by parameter name."""
        return {p.name: p.fitted for p in self.parameters}

    @staticmethod
    def _norm(results: Sequence[TargetResult]) -> float:
        return float(np.linalg.norm(target_residuals(results)))

    @property
    def norm_before(self) -> float:
        """:math:`\\lVert r \\rVert_2` at the preset's values."""
        return self._norm(self.before)

    @property
    def norm_after(self) -> float:
        """:math:`\\lVert r \\rVert_2` at the fitted values."""
        return self._norm(self.after)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the fit, with top-level counts and norms (the run store's headline)."""
        def number(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "preset": self.preset, "targets": len(self.after),
            "met_before": sum(r.passed for r in self.before), "met_after": sum(r.passed for r in self.after),
            "residual_norm_before": number(self.norm_before), "residual_norm_after": number(self.norm_after),
            "evaluations": self.evaluations, "function_evaluations": self.function_evaluations,
            "success": self.success, "message": self.message,
            "parameters": [dataclasses.asdict(p) | {"at_bound": p.at_bound} for p in self.parameters],
            "before": [r.as_json() for r in self.before], "after": [r.as_json() for r in self.after],
        }


def _free_rows(preset: Preset, free: Sequence[str]) -> list[Any]:
    rows = {p.name: p for p in preset.parameters}
    names = list(dict.fromkeys(free))
    if not names:
        raise ConfigError(Problem("FS181", "--free", "name at least one parameter to fit; the preset's "
                                  f"[[parameters]]: {', '.join(rows) or '(none)'}"))
    for name in names:
        if name not in rows:
            known = ", ".join(rows) or "(none: add [[parameters]] rows with name, low, high and source)"
            raise ConfigError(Problem("FS181", f"--free {name}", f"is not a [[parameters]] row of {preset.name}."
                                      f"{did_you_mean(name, rows)} Its parameters: {known}; a free parameter needs "
                                      "a row, whose low and high bound the fit"))
    return [rows[n] for n in names]


def calibrate(preset: Preset, free: Sequence[str], *, max_evaluations: int = 100,
              targets: Sequence[Target] | None = None,
              progress: Callable[[int, int, float], None] | None = None) -> CalibrationResult:
    """Fit the free parameters to the preset's targets (see the module docstring).

    Parameters
    ----------
    preset : Preset
        Its ``[[targets]]`` and ``[[parameters]]``.
    free : sequence of str
        Names of ``[[parameters]]`` rows to fit, within their ``low`` and ``high``.
    max_evaluations : int
        Most residual evaluations of the optimiser (``max_nfev``); each Jacobian adds one
        batch of as many parameter vectors as there are free parameters.
    targets : sequence of Target, optional
        Default: all of the preset's.
    progress : callable(function_evaluations, vectors, residual_norm), optional
        Called after each residual evaluation.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    ConfigError
        No targets (FS180), an unknown free parameter (FS181), ``max_evaluations < 1``
        (FS182), a target without a model value at the start (FS184).
    """
    from scipy.optimize import least_squares

    from firesale.analytics.targets import evaluate_targets
    from firesale.parameters import apply_parameters, parameter_value, split_parameters

    chosen = tuple(preset.targets if targets is None else targets)
    if not chosen:
        raise ConfigError(Problem("FS180", preset.name, "has no [[targets]]: calibration fits parameters to "
                                  "targets; add [[targets]] rows (name, observable, value, tolerance, source)"))
    if max_evaluations < 1:
        raise ConfigError(Problem("FS182", f"--max-evaluations {max_evaluations}", "give 1 or more"))
    rows = _free_rows(preset, free)
    names = [r.name for r in rows]
    logs = np.array([r.scale == "log" for r in rows])
    low = np.array([r.low for r in rows], dtype=float)
    high = np.array([r.high for r in rows], dtype=float)
    current = np.array([parameter_value(preset.system, preset.scenario, n) for n in names])
    start = np.clip(current, low, high)

    def to_u(x: np.ndarray) -> np.ndarray:
        return np.where(logs, np.log(np.where(logs, x, 1.0)), x)

    def to_x(u: np.ndarray) -> np.ndarray:
        return np.clip(np.where(logs, np.exp(np.where(logs, u, 0.0)), u), low, high)

    lb, ub = to_u(low), to_u(high)
    scenario_names, system_names = split_parameters(names)
    systems: dict[tuple[float, ...], System] = {}
    counts = {"vectors": 0, "calls": 0}

    def system_for(values: Mapping[str, float]) -> System:
        key = tuple(values[n] for n in system_names)
        if key not in systems:
            systems[key] = apply_parameters(preset.system, preset.scenario,
                                            {n: values[n] for n in system_names})[0]
        return systems[key]

    def residuals(us: Sequence[np.ndarray]) -> np.ndarray:
        """Residuals (V, T) of parameter vectors; those sharing a system in one batch."""
        groups: dict[int, tuple[System, list[int], list[Scenario]]] = {}
        for v, u in enumerate(us):
            values = dict(zip(names, map(float, to_x(u))))
            system = system_for(values)
            scenario = apply_parameters(preset.system, preset.scenario, {n: values[n] for n in scenario_names})[1]
            group = groups.setdefault(id(system), (system, [], []))
            group[1].append(v)
            group[2].append(scenario)
        out = np.empty((len(us), len(chosen)))
        for system, rows_, scenarios in groups.values():
            run = run_targets(preset, chosen, scenarios, system=system)
            for v, model in zip(rows_, run.values):
                out[v] = target_residuals(target_results(chosen, model))
        counts["vectors"] += len(us)
        return out

    cache: dict[bytes, np.ndarray] = {}

    def fun(u: np.ndarray) -> np.ndarray:
        key = np.asarray(u, dtype=float).tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = residuals([np.asarray(u, dtype=float)])[0]
        r = cache[key]
        counts["calls"] += 1
        if progress is not None:
            progress(counts["calls"], counts["vectors"], float(np.linalg.norm(r)))
        return r

    def jac(u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        steps = FD_STEP * np.maximum(np.abs(u), ub - lb)
        steps = np.where(u + steps > ub, -steps, steps)
        probes = [u + np.eye(u.size)[k] * steps[k] for k in range(u.size)]
        key = u.tobytes()
        known = cache.get(key)
        batch = residuals(probes if known is not None else [u, *probes])
        base = known if known is not None else batch[0]
        perturbed = batch if known is not None else batch[1:]
        return (perturbed - base[None, :]).T / steps[None, :]

    u0 = to_u(start)
    r0 = residuals([u0])[0]
    missing = [t.name for t, r in zip(chosen, r0) if not math.isfinite(r)]
    if missing:
        raise ConfigError(Problem("FS184", f"targets {', '.join(missing)}", "have no model value at the start "
                                  "(nothing measured in their window): check their observable and rounds"))
    cache[u0.tobytes()] = r0
    fit = least_squares(fun, u0, jac=jac, bounds=(lb, ub), method="trf", x_scale="jac", max_nfev=max_evaluations)
    fitted = to_x(fit.x)
    values = dict(zip(names, map(float, fitted)))
    system = system_for(values)
    scenario = apply_parameters(preset.system, preset.scenario, {n: values[n] for n in scenario_names})[1]
    run = run_targets(preset, chosen, [scenario], system=system, full=True)
    units = {name: obs.unit.replace("currency", system.currency) for name, obs in OBSERVABLES.items()}
    after = target_results(chosen, run.values[0], units)
    before = evaluate_targets(preset, list(chosen))
    parameters = [FreeParameter(r.name, r.low, r.high, r.scale, float(c), float(f))
                  for r, c, f in zip(rows, current, fitted)]
    return CalibrationResult(preset.name, parameters, before, after, counts["vectors"], int(fit.nfev),
                             bool(fit.status > 0), str(fit.message), system, scenario, run.dataset, run.scenarios)


def calibration_header(result: CalibrationResult) -> list[str]:
    """The comment lines :func:`fitted_preset_text` puts at the top of a fitted preset
    (no date: the same fit writes the same file)."""
    total = len(result.after)
    lines = [f"{_MARK} {', '.join(p.name for p in result.parameters)} fitted to the [[targets]] by least squares",
             f"{_MARK_MORE}targets met: {sum(r.passed for r in result.before)} of {total} before, "
             f"{sum(r.passed for r in result.after)} of {total} after; residual norm {result.norm_before:.6g} -> "
             f"{result.norm_after:.6g}"]
    for p in result.parameters:
        lines.append(f"{_MARK_MORE}{p.name} = {p.fitted!r} (was {p.initial!r}; bounds [{p.low:g}, {p.high:g}]"
                     f"{', at a bound' if p.at_bound else ''})")
    return lines


_MARK = "# firesale calibrate:"
_MARK_MORE = "#   "


# --------------------------------------------------------------------------- the TOML text
_NUMBER = re.compile(r"[+-]?(?:inf|nan|[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE][+-]?[0-9_]+)?)(?=\s*(?:#|$))")


def _cannot(name: str, why: str) -> ConfigError:
    return ConfigError(Problem("FS183", f"--out, parameter {name}", f"{why}: nothing was written; set the fitted "
                               "value in the preset by hand, or leave out --out"))


def _split_key(text: str) -> tuple[str, ...]:
    """A TOML key (bare, quoted, dotted) as its parts."""
    parts, part, quote, i = [], "", None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"' and i + 1 < len(text):
                part += text[i + 1]
                i += 2
                continue
            if ch == quote:
                quote = None
            else:
                part += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(part.strip())
            part = ""
        else:
            part += ch
        i += 1
    parts.append(part.strip())
    return tuple(parts)


def _key_end(line: str) -> int:
    """Position of the ``=`` of a key/value line (-1 if none), quotes respected."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "=":
            return i
        elif ch == "#":
            return -1
    return -1


def _value_end(lines: list[str], row: int, col: int) -> int:
    """The last line of a value starting at ``lines[row][col]`` (multi-line strings and
    arrays followed to their end)."""
    depth, quote = 0, None
    r, c = row, col
    while r < len(lines):
        line = lines[r]
        while c < len(line):
            if quote in ('"""', "'''"):
                if line.startswith(quote, c):
                    quote, c = None, c + 3
                    continue
                c += 2 if line[c] == "\\" and quote == '"""' else 1
                continue
            if quote:
                if line[c] == "\\" and quote == '"':
                    c += 2
                    continue
                if line[c] == quote:
                    quote = None
                c += 1
                continue
            if line.startswith('"""', c) or line.startswith("'''", c):
                quote, c = line[c:c + 3], c + 3
            elif line[c] in "\"'":
                quote, c = line[c], c + 1
            elif line[c] in "[{":
                depth, c = depth + 1, c + 1
            elif line[c] in "]}":
                depth, c = depth - 1, c + 1
            elif line[c] == "#":
                break
            else:
                c += 1
        if depth <= 0 and quote not in ('"""', "'''"):
            return r
        r, c = r + 1, 0
    return len(lines) - 1


@dataclasses.dataclass
class _Layout:
    """Where a TOML text sets what: each key's line and value span, each table's header line
    and the last line of its body."""

    entries: dict[tuple[Any, ...], tuple[int, int, int]]  # full path -> (line, start, end); end -1: not a number
    headers: dict[tuple[Any, ...], int]
    body_end: dict[tuple[Any, ...], int]


def _layout(lines: list[str]) -> _Layout:
    entries: dict[tuple[Any, ...], tuple[int, int, int]] = {}
    headers: dict[tuple[Any, ...], int] = {}
    body_end: dict[tuple[Any, ...], int] = {(): -1}
    counts: dict[tuple[str, ...], int] = {}
    table: tuple[Any, ...] = ()
    r = 0
    while r < len(lines):
        text = lines[r].strip()
        if not text or text.startswith("#"):
            r += 1
            continue
        if text.startswith("[["):
            name = _split_key(text[2:text.index("]]")])
            counts[name] = counts.get(name, 0) + 1
            table = (*name, counts[name] - 1)
            headers[table] = body_end[table] = r
        elif text.startswith("["):
            table = _split_key(text[1:text.index("]")])
            headers[table] = body_end[table] = r
        else:
            eq = _key_end(lines[r])
            if eq < 0:
                r += 1
                continue
            key = _split_key(lines[r][:eq])
            start = eq + 1 + len(lines[r][eq + 1:]) - len(lines[r][eq + 1:].lstrip())
            end_row = _value_end(lines, r, start)
            match = _NUMBER.match(lines[r].rstrip("\r\n"), start) if end_row == r else None
            entries[(*table, *key)] = (r, start, match.end() if match else -1)
            body_end[table] = end_row
            r = end_row
        r += 1
    return _Layout(entries, headers, body_end)


def _locations(name: str, data: Mapping[str, Any], system: System) -> list[tuple[tuple[Any, ...], str]]:
    """``(table path, key)`` of every place in the TOML data that ``name`` sets."""
    kind, *rest = name.split(".")
    if kind == "scenario":
        parts: list[Any] = [int(p) if p.isdigit() else p for p in rest]
        return [(("scenario", *parts[:-1]), str(parts[-1]))]
    field = rest[-1]
    member = ".".join(rest[:-1])
    table = "assets" if kind in ("asset", "class") else "institutions"
    if isinstance(data.get("tables"), Mapping) and table in data["tables"]:
        raise _cannot(name, f"the preset reads its {table} from the file {data['tables'][table]!r}, which a fitted "
                      "TOML cannot change")
    rows = data.get(table)
    if not isinstance(rows, list):
        raise _cannot(name, f"the preset has no [[{table}]] rows to write into")
    if table == "assets":
        from firesale.system import Asset as model

        objects = {a.name: a for a in system.assets}
        attribute = {"asset": "name", "class": "asset_class"}[kind]
    else:
        from firesale.system import Institution as model  # type: ignore[assignment]

        objects = {i.name: i for i in system.institutions}
        attribute = {"institution": "name", "type": "type", "group": "group"}[kind]
    key = model.model_fields[field].alias or field
    out = []
    for i, row in enumerate(rows):
        obj = objects.get(row.get("name")) if isinstance(row, Mapping) else None
        if obj is not None and str(getattr(obj, attribute)) == member:
            out.append(((table, i), key))
    if not out:
        raise _cannot(name, f"no [[{table}]] row of the file matches {kind} {member!r}")
    return out


def _set(data: dict[str, Any], table: tuple[Any, ...], key: str, value: float) -> None:
    node: Any = data
    for part in table:
        node = node[part] if isinstance(part, int) else node.setdefault(part, {})
    node[key] = value


def fitted_preset_text(text: str, system: System, values: Mapping[str, float],
                       header: Sequence[str] = ()) -> str:
    """A preset's TOML ``text`` with ``values`` (by parameter path) written in.

    Every other line and comment is kept. A key the file sets is given the new value in
    place; a key it leaves to its default is added at the end of its ``[[assets]]`` or
    ``[[institutions]]`` row or ``[scenario...]`` section. ``header`` lines replace any
    header an earlier calibration wrote at the top.

    Raises
    ------
    ConfigError
        FS183: a value the text cannot take (the table comes from a CSV file, the section
        is an inline table): checked by parsing the result again, which must equal the
        original with exactly these values changed.

    Examples
    --------
    >>> from firesale import load_preset
    >>> from importlib import resources
    >>> text = (resources.files("firesale") / "presets" / "dealer_prime.toml").read_text()
    >>> new = fitted_preset_text(text, load_preset("dealer_prime").system, {"asset.corporates.depth": 2500.0})
    >>> [line for line in new.splitlines() if line.startswith("depth")]
    ['depth = inf', 'depth = 2500.0']
    """
    data = tomllib.loads(text)
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith(_MARK):  # an earlier fit's header
        lines.pop(0)
        while lines and lines[0].startswith(_MARK_MORE):
            lines.pop(0)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    layout = _layout(lines)
    expected = copy.deepcopy(data)
    replace: dict[int, list[tuple[int, int, str]]] = {}
    insert: dict[int, list[str]] = {}
    for name, value in values.items():
        literal = repr(float(value))
        for table, key in _locations(name, data, system):
            _set(expected, table, key, float(value))
            full = (*table, key)
            if full in layout.entries:
                row, start, end = layout.entries[full]
                if end < 0:
                    raise _cannot(name, f"line {row + 1} sets {'.'.join(map(str, full))} to something other than a "
                                  "plain number")
                replace.setdefault(row, []).append((start, end, literal))
                continue
            owner = next((table[:n] for n in range(len(table), 0, -1) if table[:n] in layout.headers), None)
            if owner is None:
                if table[:1] != ("scenario",):
                    raise _cannot(name, f"the file has no [{'.'.join(map(str, table))}] section")
                first = next((line for path, line in sorted(layout.headers.items(), key=lambda item: item[1])
                              if path[:1] == ("scenario",)), len(lines))
                dotted = ".".join(map(str, (*table[1:], key)))
                insert.setdefault(first - 1, []).append(f"[scenario]{newline}{dotted} = {literal}{newline}"
                                                        + (newline if first < len(lines) else ""))
                continue
            dotted = ".".join(map(str, (*table[len(owner):], key)))
            insert.setdefault(layout.body_end[owner], []).append(f"{dotted} = {literal}{newline}")
    out: list[str] = [line + newline for line in header]
    out += insert.get(-1, [])
    for r, line in enumerate(lines):
        for start, end, literal in sorted(replace.get(r, []), reverse=True):
            line = line[:start] + literal + line[end:]
        out.append(line)
        out += insert.get(r, [])
    new = "".join(out)
    try:
        again = tomllib.loads(new)
    except tomllib.TOMLDecodeError as err:
        raise _cannot(", ".join(values), f"the edited text is no longer valid TOML ({err})") from None
    if again != expected:
        raise _cannot(", ".join(values), "the file's layout (an inline table, a value spread over lines) does not "
                      "let the value be written exactly")
    return new
