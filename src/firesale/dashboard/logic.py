"""What the dashboard computes, as plain functions the pages call (no Streamlit here):
problems as table rows, the system's summary tables, widget values turned into a
:class:`~firesale.scenario.Scenario`, a run with its summary and attribution, a reverse
stress test and its tables, and the headline numbers as the command line formats them.

Every number comes from the library (:func:`firesale.simulate`,
:func:`~firesale.analytics.amplification.summarize`,
:func:`~firesale.analytics.attribution.attribute`,
:mod:`firesale.analytics.compare`, :mod:`firesale.analytics.reverse`,
:class:`firesale.store.RunStore`); this module only arranges inputs and outputs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from firesale.channels import MECHANISMS
from firesale.errors import ConfigError, FiresaleError, Problem
from firesale.matrices import column_sums, dense, row_sums
from firesale.scenario import Policy, Scenario

if TYPE_CHECKING:
    import xarray as xr

    from firesale.data.preset import Preset
    from firesale.store import RunEntry
    from firesale.system import System

__all__ = [
    "ASSET_SHOCKS", "CASCADE_MAX_LABELS", "CASCADE_ROW_PX", "COUNT_MAX_GROUPS", "FUND_TYPES", "MAX_TABLE_ROWS",
    "MAX_WIDGET_ROWS", "MISSING", "OVERLAP_MAX_INSTITUTIONS", "RATIO_AXIS_MULTIPLE", "REVERSE_OVER", "REVERSE_STEPS",
    "RUNS_COLUMNS", "RUN_STEPS", "UPLOAD_MAX_ROWS", "ReverseOutcome", "RunOutcome", "asset_shock_inputs", "bounded",
    "capital_ratios", "cascade_rows", "channel_switches", "check_upload_rows", "comparison_table", "constrained",
    "error_summary", "headline", "holdings_overlap", "institution_counts", "label_every_institution",
    "policy_levers", "problem_rows", "ratio_axis_max", "redemption_inputs", "regime_caption",
    "reverse_carrier_rows", "reverse_headline", "reverse_mechanism_rows", "reverse_outcome_table",
    "reverse_over_options", "reverse_policy_rows", "reverse_shock_rows", "run_reverse", "run_scenario",
    "runs_table", "scenario_from_inputs", "target_examples", "tightest", "upload_rows", "waterfall_caption",
    "widget_assets", "widget_funds",
]

#: Round-0 shocks per asset the dashboard offers: field of :class:`~firesale.scenario.Shock`
#: → (label, value meaning "no shock").
ASSET_SHOCKS: dict[str, tuple[str, float]] = {
    "price": ("price return", 0.0),
    "volatility": ("volatility multiplier", 1.0),
    "client_sale": ("client sale to dealers", 0.0),
    "repo_rate": ("repo rate (annual)", 0.0),
}
#: Institution types offered a redemption shock (investors redeem a share of NAV).
FUND_TYPES = ("asset_manager", "money_market_fund", "pension_fund")
#: The steps :func:`run_scenario` reports to its ``progress`` callback, in order.
RUN_STEPS = ("simulating the scenario", "summarising", "attribution: the 8 on/off corners of the mechanisms",
             "recording in the run store")

#: Step of the policy shares' sliders.
_SHARE_STEP = 0.01
_WHERE = re.compile(r"^(?P<table>[^\s,]+?\.(?:csv|parquet|toml))?(?:.*?\brow (?P<row>\d+))?"
                    r"(?:.*?\b(?:field|column) (?P<field>[\w.]+))?")


# --------------------------------------------------------------------------- problems
def problem_rows(problems: Sequence[Problem]) -> list[dict[str, str]]:
    """Problems as table rows: ``code``, ``table``, ``row``, ``field`` (read off the
    problem's ``where``; empty when it names none) and ``message``.

    Examples
    --------
    >>> problem_rows([Problem("FS104", "holdings.csv row 3 (d1, ust), field quantity", "got -5")])
    [{'code': 'FS104', 'table': 'holdings.csv', 'row': '3', 'field': 'quantity', 'message': 'got -5'}]
    """
    rows = []
    for problem in problems:
        match = _WHERE.match(problem.where)
        parts = match.groupdict() if match else {}
        rows.append({"code": problem.code, "table": parts.get("table") or "", "row": parts.get("row") or "",
                     "field": parts.get("field") or "", "message": problem.message})
    return rows


def error_summary(err: BaseException) -> tuple[str, list[str]]:
    """What a page shows for an error: one line, and the details to keep collapsed
    (never a traceback).

    A :class:`~firesale.errors.FiresaleError` is its problem (``[code] where: message``),
    or the count and the first of its problems, the details listing each one; any other
    exception is ``unexpected error: <type>: <message>``, the details its causes and the
    line that raised it.

    Examples
    --------
    >>> error_summary(ConfigError(Problem("FS001", "preset 'x'", "unknown preset")))
    ("[FS001] preset 'x': unknown preset", [])
    >>> error_summary(KeyError("results"))[0]
    "unexpected error: KeyError: 'results'"
    """
    if isinstance(err, FiresaleError) and err.problems:
        problems = err.problems
        if len(problems) == 1:
            return _one_line(str(problems[0])), []
        return (_one_line(f"{len(problems):,} problems; the first: {problems[0]}"),
                [_one_line(str(p)) for p in problems[:MAX_TABLE_ROWS]]
                + ([f"… and {len(problems) - MAX_TABLE_ROWS:,} more"] if len(problems) > MAX_TABLE_ROWS else []))
    details = []
    cause = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
    while cause is not None and len(details) < 5:
        details.append(_one_line(f"caused by {type(cause).__name__}: {cause}"))
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        code = tb.tb_frame.f_code
        details.append(f"raised in {Path(code.co_filename).name} line {tb.tb_lineno} ({code.co_name})")
    return _one_line(f"unexpected error: {type(err).__name__}: {err}"), details


def _one_line(text: str, width: int = 500) -> str:
    """``text`` on one line, cut to ``width`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


# --------------------------------------------------------------------------- bounded tables and uploads
#: The most rows a table on a page shows (the note under it says how many there are).
MAX_TABLE_ROWS = 1_000
#: The most rows an uploaded table file may have: a larger one is refused before it is
#: read (the command line takes any size).
UPLOAD_MAX_ROWS = 100_000


def bounded(frame: pd.DataFrame, limit: int = MAX_TABLE_ROWS, what: str = "rows") -> tuple[pd.DataFrame, str | None]:
    """The first ``limit`` rows of ``frame``, and a note saying how many there are (None
    when all are shown).

    Examples
    --------
    >>> shown, note = bounded(pd.DataFrame({"x": range(2500)}))
    >>> len(shown), note
    (1000, 'Showing the first 1,000 of 2,500 rows.')
    """
    if len(frame) <= limit:
        return frame, None
    return frame.head(limit), f"Showing the first {limit:,} of {len(frame):,} {what}."


def upload_rows(name: str, data: bytes) -> int | None:
    """The data rows of an uploaded table file, read cheaply: a Parquet file's row count
    from its footer, a CSV file's lines less the header (an upper bound: blank lines and
    quoted line breaks count too). None for other files, and for a Parquet file whose
    footer cannot be read (the loader then reports it)."""
    if name.endswith(".parquet"):
        import io

        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(io.BytesIO(data)).metadata.num_rows)
        except Exception:  # noqa: BLE001 - an unreadable file is the loader's to report, with its code
            return None
    if name.endswith(".csv"):
        lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        return max(lines - 1, 0)
    return None


def check_upload_rows(files: Mapping[str, bytes], limit: int = UPLOAD_MAX_ROWS) -> None:
    """Refuse uploaded table files of more than ``limit`` rows, before reading them.

    Raises
    ------
    ConfigError
        ``FS752`` for each file too large, with its row count and the limit.

    Examples
    --------
    >>> check_upload_rows({"holdings.csv": b"institution,asset,quantity\\n" + b"d1,ust,5\\n" * 3}, limit=2)
    Traceback (most recent call last):
    ...
    firesale.errors.ConfigError: [FS752] holdings.csv: has 3 rows; the dashboard takes at most 2 rows a table file: use the command line for larger systems (firesale validate DIR, firesale run DIR)
    """
    problems = []
    for name, data in files.items():
        rows = upload_rows(name, data)
        if rows is not None and rows > limit:
            problems.append(Problem("FS752", name,
                                    f"has {rows:,} rows; the dashboard takes at most {limit:,} rows a table file: use "
                                    "the command line for larger systems (firesale validate DIR, firesale run DIR)"))
    if problems:
        raise ConfigError(problems)


# --------------------------------------------------------------------------- the system
#: The most groups :func:`institution_counts` gives a column each (the others share one).
COUNT_MAX_GROUPS = 20


def institution_counts(system: System, max_groups: int = COUNT_MAX_GROUPS) -> pd.DataFrame:
    """Institutions by type (rows) and group (columns), with totals; the groups beyond the
    ``max_groups`` largest are counted together in a column ``other groups``."""
    groups = pd.Series([i.group or "-" for i in system.institutions])
    counts = groups.value_counts(sort=True)
    if len(counts) > max_groups:
        groups = groups.where(groups.isin(set(counts.index[:max_groups])), "other groups")
    frame = pd.DataFrame({"type": [i.type for i in system.institutions], "group": groups})
    return pd.crosstab(frame["type"], frame["group"], margins=True, margins_name="total")


#: The overlap heat-map shows at most this many institutions (the largest by t0 assets).
OVERLAP_MAX_INSTITUTIONS = 60


def holdings_overlap(system: System, largest: int = OVERLAP_MAX_INSTITUTIONS) -> pd.DataFrame:
    """How alike the institutions' portfolios are: the cosine similarity of their t0
    holdings vectors, :math:`h_i \\cdot h_j / (\\lVert h_i \\rVert \\lVert h_j \\rVert)`
    (1: the same mix of assets, 0: no asset in common), institutions × institutions,
    for the ``largest`` institutions by t0 total assets (all of a small system).

    Overlapping portfolios are what carries a fire sale from one holder to the next
    (Greenwood, Landier & Thesmar 2015; Caccioli et al. 2014).
    """
    shown = np.sort(np.argsort(-system.total_assets0, kind="stable")[:largest])
    holdings = dense(system.holdings[shown])
    norms = np.linalg.norm(holdings, axis=1)
    unit = np.divide(holdings, norms[:, None], out=np.zeros_like(holdings), where=norms[:, None] > 0)
    names = [system.institution_names[n] for n in shown]
    return pd.DataFrame(unit @ unit.T, index=pd.Index(names, name="institution"), columns=names)


def tightest(ratios: pd.DataFrame, largest: int = OVERLAP_MAX_INSTITUTIONS) -> pd.DataFrame:
    """The ``largest`` rows of :func:`capital_ratios` with the least headroom over their
    trigger (all of them, in their order, when there are no more)."""
    if len(ratios) <= largest:
        return ratios
    return ratios.sort_values("headroom", kind="stable", na_position="last").head(largest)


#: The ratio chart's axis ends at this multiple of the largest trigger (or minimum) shown.
RATIO_AXIS_MULTIPLE = 3.0


def constrained(ratios: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`capital_ratios` with a capital constraint: a trigger or a
    minimum (an unlevered fund's equity/assets of ~100% has neither, and would flatten
    the dealers' few per cent on a shared axis)."""
    return ratios[ratios["trigger"].notna() | ratios["minimum"].notna()]


def ratio_axis_max(ratios: pd.DataFrame, multiple: float = RATIO_AXIS_MULTIPLE) -> float:
    """Where the ratio chart's axis ends: ``multiple`` times the largest trigger or
    minimum of ``ratios``, or the largest ratio if that is lower (the bars above it are
    cut, their value written on them).

    Examples
    --------
    >>> ratios = pd.DataFrame({"ratio": [0.052, 0.3], "trigger": [0.05, 0.1], "minimum": [0.03, float("nan")]})
    >>> round(ratio_axis_max(ratios), 6)
    0.3
    >>> round(ratio_axis_max(ratios.head(1)), 6)
    0.0546
    """
    levels = pd.concat([ratios["trigger"], ratios["minimum"]]).dropna()
    finite = ratios["ratio"][np.isfinite(ratios["ratio"])]
    highest = float(finite.max()) if len(finite) else 0.0
    if not len(levels):
        return max(highest, 0.0) * 1.05 or 1.0
    return min(multiple * float(levels.max()), max(highest, float(levels.max())) * 1.05)


def capital_ratios(system: System) -> pd.DataFrame:
    """Each institution's capital ratio at t0 against its minimum and trigger.

    The SLR (Tier 1 over the exposure, :math:`E_0 / (\\sum_k q_k + c)` at t0 prices,
    without the exemption) for an institution with an SLR constraint, else equity over
    total assets; the measure the constraints of round 0 compare with their levels
    (:func:`firesale.channels.balance_sheet.slr_exposure`).

    Returns
    -------
    DataFrame
        One row per institution: ``type``, ``group``, ``measure`` (``SLR`` or
        ``equity/assets``), ``ratio``, ``minimum``, ``trigger`` (fractions; NaN where the
        constraint has no such level) and ``headroom`` (ratio − trigger).
    """
    # each of these System properties is computed afresh: once, not once per institution
    equity = system.equity0
    exposure = row_sums(system.holdings) + system.cash0
    total_assets = system.total_assets0
    rows = []
    for n, inst in enumerate(system.institutions):
        kind = "slr" if inst.slr_trigger is not None else "leverage"
        measure = exposure[n] if kind == "slr" else total_assets[n]
        ratio = equity[n] / measure if measure > 0 else np.inf
        trigger = inst.level(kind, "trigger")
        rows.append({"institution": inst.name, "type": inst.type, "group": inst.group,
                     "measure": "SLR" if kind == "slr" else "equity/assets", "ratio": ratio,
                     "minimum": inst.level(kind, "minimum"), "trigger": trigger, "headroom": ratio - trigger})
    return pd.DataFrame(rows).set_index("institution")


# --------------------------------------------------------------------------- widgets → scenario
def asset_shock_inputs(scenario: Scenario, system: System) -> dict[str, dict[str, float]]:
    """The scenario's round-0 asset shocks as widget values: ``{field: {asset: value}}``
    for each field of :data:`ASSET_SHOCKS`, every asset present (its "no shock" value
    where the scenario has none)."""
    values = {field: dict.fromkeys(system.asset_names, none) for field, (_, none) in ASSET_SHOCKS.items()}
    for shock in scenario.shocks:
        if shock.round == 0 and shock.asset is not None:
            for field in ASSET_SHOCKS:
                if getattr(shock, field) is not None:
                    values[field][shock.asset] = float(getattr(shock, field))
    return values


def redemption_inputs(scenario: Scenario, system: System) -> dict[str, float]:
    """Round-0 redemption shares of NAV by fund (the types of :data:`FUND_TYPES` and any
    institution the scenario redeems from), 0 where there is none."""
    shocked = {s.institution: float(s.redemption) for s in scenario.shocks
               if s.round == 0 and s.institution is not None and s.redemption is not None}
    return {i.name: shocked.get(i.name, 0.0) for i in system.institutions if i.type in FUND_TYPES or i.name in shocked}


#: The most assets, and the most funds, the Run page gives shock widgets of their own.
MAX_WIDGET_ROWS = 60


def widget_assets(scenario: Scenario, system: System, limit: int = MAX_WIDGET_ROWS) -> list[str]:
    """The assets the Run page gives shock widgets, in the system's order: every asset of
    a system of at most ``limit``; else those the scenario shocks in round 0, then the
    largest by t0 holdings, ``limit`` in all (more only if the scenario shocks more). The
    others keep the scenario's shocks."""
    names = system.asset_names
    if len(names) <= limit:
        return names
    values = asset_shock_inputs(scenario, system)
    shocked = {a for a in names if any(values[f][a] != none for f, (_, none) in ASSET_SHOCKS.items())}
    held = column_sums(system.holdings)
    largest = [names[k] for k in np.argsort(-held, kind="stable") if names[k] not in shocked]
    chosen = shocked | set(largest[:max(limit - len(shocked), 0)])
    return [a for a in names if a in chosen]


def widget_funds(scenario: Scenario, system: System, limit: int = MAX_WIDGET_ROWS) -> list[str]:
    """The funds of :func:`redemption_inputs` the Run page gives a redemption input, in
    the system's order: all of at most ``limit``; else those the scenario redeems from,
    then the largest by t0 equity, ``limit`` in all. The others keep the scenario's share."""
    funds = redemption_inputs(scenario, system)
    if len(funds) <= limit:
        return list(funds)
    equity = dict(zip(system.institution_names, system.equity0.tolist()))
    redeemed = {name for name, share in funds.items() if share > 0}
    largest = sorted((n for n in funds if n not in redeemed), key=lambda n: -equity[n])
    chosen = redeemed | set(largest[:max(limit - len(redeemed), 0)])
    return [n for n in funds if n in chosen]


def channel_switches(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Every on/off switch of the mechanisms, by dotted scenario field: ``channels.NAME``
    for the channels of :data:`firesale.channels.MECHANISMS`, and
    ``market.intermediation`` for the dealers. Each as ``{"mechanism", "value",
    "description"}``."""
    out = {}
    fields = type(scenario.channels).model_fields
    for mechanism, names in MECHANISMS.items():
        for name in names:
            out[f"channels.{name}"] = {"mechanism": mechanism, "value": bool(getattr(scenario.channels, name)),
                                       "description": fields[name].description or ""}
    market = type(scenario.market).model_fields["intermediation"]
    out["market.intermediation"] = {"mechanism": "dealers", "value": bool(scenario.market.intermediation),
                                    "description": market.description or ""}
    return out


def _bounds(field: Any) -> tuple[float, float]:
    """A share's bounds from its pydantic constraints (an open upper bound less a step)."""
    low, high = 0.0, 1.0
    for bound in field.metadata:
        low = getattr(bound, "ge", getattr(bound, "gt", low))
        high = getattr(bound, "le", high)
        if hasattr(bound, "lt"):
            high = bound.lt - _SHARE_STEP
    return float(low), float(high)


def policy_levers(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The policy levers of :class:`~firesale.scenario.Policy`, read from the model, by
    dotted scenario field: switches (``kind`` ``"switch"``), shares with their bounds
    (``"share"``, with ``low`` and ``high``) and each programme section the scenario runs
    (``"programme"``: on keeps it as the scenario has it, off removes it). Each with
    ``value`` and ``description``.

    A programme (central-bank purchases, a repo facility) is a lever only where the
    scenario defines one with eligible assets: one without (``assets = []``, as a preset
    leaves it for its ``[policies.NAME]`` bundles to fill) does nothing, so switching it
    off would change nothing. The bundles are on the Compare page.

    Examples
    --------
    >>> from firesale import load_preset
    >>> [name for name, lever in policy_levers(load_preset("gilt_ldi_2022").scenario).items()
    ...  if lever["kind"] == "programme"]
    []
    """
    out = {}
    for name, field in Policy.model_fields.items():
        value = getattr(scenario.policy, name)
        base = {"value": value, "description": field.description or ""}
        if field.annotation is bool:
            out[f"policy.{name}"] = {**base, "kind": "switch"}
        elif field.annotation is float:
            low, high = _bounds(field)
            out[f"policy.{name}"] = {**base, "kind": "share", "low": low, "high": high}
        elif isinstance(value, BaseModel) and getattr(value, "assets", ()):
            assets = ", ".join(value.assets)  # type: ignore[attr-defined]
            out[f"policy.{name}"] = {**base, "kind": "programme", "value": True,
                                     "description": f"{base['description']} Eligible: {assets}.".strip()}
    return out


def _shocks(base: Scenario, assets: Mapping[str, Mapping[str, float]],
            redemptions: Mapping[str, float]) -> list[dict[str, Any]]:
    """The base's shocks, as mappings, with those of round 0 on assets and fund
    redemptions replaced by one per asset and fund (validated by the caller)."""
    rebuilt: list[dict[str, Any]] = []
    for asset in dict.fromkeys(a for values in assets.values() for a in values):
        fields = {field: float(assets[field][asset]) for field, (_, none) in ASSET_SHOCKS.items()
                  if asset in assets.get(field, {}) and float(assets[field][asset]) != none}
        if fields:
            rebuilt.append({"asset": asset, **fields})
    rebuilt += [{"institution": name, "redemption": float(share)} for name, share in redemptions.items() if share > 0]
    for shock in base.shocks:
        if shock.round != 0 or shock.asset is not None:
            if shock.round != 0:
                rebuilt.append(shock.model_dump(exclude_defaults=True))
        elif shock.default or shock.capital is not None:  # keeps its other parts, less the redemption
            rebuilt.append(shock.model_dump(exclude_defaults=True, exclude={"redemption"}))
    return rebuilt


def scenario_from_inputs(base: Scenario, system: System, *, assets: Mapping[str, Mapping[str, float]] | None = None,
                         redemptions: Mapping[str, float] | None = None, switches: Mapping[str, bool] | None = None,
                         levers: Mapping[str, Any] | None = None) -> Scenario:
    """The scenario the widgets describe: ``base`` with what they changed.

    Parameters
    ----------
    base : Scenario
        The scenario the widgets started from (the preset's).
    system : System
        Its system (the assets and funds the widgets list).
    assets : mapping, optional
        Round-0 asset shocks ``{field: {asset: value}}`` as :func:`asset_shock_inputs`.
    redemptions : mapping, optional
        Round-0 redemption shares by fund, as :func:`redemption_inputs`.
    switches : mapping, optional
        ``{dotted field: bool}`` of :func:`channel_switches`.
    levers : mapping, optional
        ``{dotted field: value}`` of :func:`policy_levers` (a programme: ``False`` removes it).

    Returns
    -------
    Scenario
        ``base`` itself when nothing differs from it (so a run of the untouched widgets
        is exactly ``firesale run``); else a copy, validated like a preset's. Round-0
        asset shocks and redemptions, once changed, become one shock per asset and fund;
        shocks of later rounds are kept as they are.

    Raises
    ------
    ConfigError
        A value out of its range, with the dotted field.

    Examples
    --------
    >>> from firesale import load_preset
    >>> p = load_preset("dealer_prime")
    >>> scenario_from_inputs(p.scenario, p.system) is p.scenario
    True
    >>> inputs = asset_shock_inputs(p.scenario, p.system)
    >>> inputs["price"]["corporates"] = -0.08
    >>> [(s.asset, s.price) for s in scenario_from_inputs(p.scenario, p.system, assets=inputs).shocks]
    [('corporates', -0.08)]
    """
    changes: dict[str, Any] = {}
    for name, value in (switches or {}).items():
        section, field = name.split(".")
        if bool(getattr(getattr(base, section), field)) != bool(value):
            changes[name] = bool(value)
    current = policy_levers(base)
    for name, value in (levers or {}).items():
        lever = current[name]
        if lever["kind"] == "programme":
            if not value:
                changes[name] = None
        elif lever["value"] != value:
            changes[name] = bool(value) if lever["kind"] == "switch" else float(value)
    asset_values = assets if assets is not None else asset_shock_inputs(base, system)
    redemption_values = redemptions if redemptions is not None else redemption_inputs(base, system)
    if (_plain(asset_values) != _plain(asset_shock_inputs(base, system))
            or _plain(redemption_values) != _plain(redemption_inputs(base, system))):
        changes["shocks"] = _shocks(base, asset_values, redemption_values)
        # shocks typed in: the run is not the preset's scenario, so it is not titled or stored as it
        if "name" not in changes:
            changes["name"] = typed_shocks_name(asset_values, redemption_values)
            changes["description"] = "Shocks set in the dashboard"
    return base.updated(**changes) if changes else base


def typed_shocks_name(assets: Mapping[str, Mapping[str, float]], redemptions: Mapping[str, float]) -> str:
    """The name of a scenario whose round-0 shocks were typed in: ``shock_ASSET±Npct`` for
    price shocks (as ``firesale run --shock`` names it), ``_redemptions`` where funds redeem.

    Examples
    --------
    >>> typed_shocks_name({"price": {"corporates": 0.05, "treasuries": 0.0}}, {})
    'shock_corporates+5pct'
    >>> typed_shocks_name({"price": {}}, {"fund": 0.1})
    'shock_redemptions'
    """
    parts = [f"{asset}{100 * value:+g}pct" for asset, value in assets.get("price", {}).items() if value]
    if any(share > 0 for share in redemptions.values()):
        parts.append("redemptions")
    return "shock_" + ("_".join(parts) if parts else "custom")


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Nested mappings of numbers as plain dicts of floats, for comparison."""
    return {k: _plain(v) if isinstance(v, Mapping) else float(v) for k, v in values.items()}


# --------------------------------------------------------------------------- running
@dataclass(frozen=True)
class RunOutcome:
    """One run of the dashboard.

    Attributes
    ----------
    ds : xarray.Dataset
        The results of ``simulate(system, with_impulse(scenario), detail=True)``: the
        scenario first, then its impulse run (every channel off).
    summary : dict
        :func:`~firesale.analytics.amplification.summarize` of it: ``firesale run --json``.
    attribution : xarray.Dataset or None
        :func:`~firesale.analytics.attribution.attribute` of the scenario, when asked for.
    run_id : str or None
        Its ID in the run store, when recorded.
    seconds : float
        Time from the start of the simulation to the summary, attribution and record.
    not_recorded : str or None
        Why the run was not recorded although recording was asked for (a store that cannot
        be written): the page shows the result and this reason.
    """

    ds: xr.Dataset
    summary: dict[str, Any]
    attribution: xr.Dataset | None
    run_id: str | None
    seconds: float
    not_recorded: str | None = None


def run_scenario(preset: Preset, scenario: Scenario, *, attribution: bool = True, record: bool = True,
                 target: str | None = None, progress: Callable[[int, int, str], None] | None = None) -> RunOutcome:
    """Simulate one scenario on the preset's system, summarise it, attribute it to the
    mechanisms and record it in the run store (``FIRESALE_STORE``, else
    ``./firesale-runs``), as ``firesale run`` and ``firesale attribute`` do: the scenario and
    its impulse run (every channel off: the initial loss) in one batch
    (:func:`~firesale.analytics.amplification.with_impulse`), the scenario first.

    Parameters
    ----------
    preset : Preset
        The system (and the name it is recorded under).
    scenario : Scenario
        What to run.
    attribution : bool
        Add the Shapley attribution (the 8 on/off corners of the mechanisms, one batch).
    record : bool
        Record the run in the run store.
    target : str, optional
        What the store records as the target (default: the preset's name).
    progress : callable, optional
        Called as ``progress(done, total, what)`` before each of :data:`RUN_STEPS`.

    Raises
    ------
    StoreError
        The run store cannot be written (checked before the simulation).
    """
    from firesale.analytics.amplification import summarize, with_impulse
    from firesale.simulation import measures_loop_gain, simulate
    from firesale.store import recording_store

    total = len(RUN_STEPS)
    batch = with_impulse(scenario)

    def step(done: int) -> None:
        if progress is not None:
            progress(done, total, RUN_STEPS[done] if done < total else "done")

    run_store = recording_store(None, not record, warn=lambda reason: None)
    started = time.perf_counter()
    step(0)
    ds = simulate(preset.system, batch, detail=True, loop_gain=measures_loop_gain(preset.system))
    simulate_s = time.perf_counter() - started
    step(1)
    summary = summarize(ds)
    step(2)
    result = None
    if attribution:
        from firesale.analytics.attribution import attribute

        result = attribute(preset.system, scenario)
    step(3)
    run_id = None
    if run_store is not None:
        run_id = run_store.record("run", target or preset.name, preset.system, batch, ds, summary,
                                  {"simulate_s": simulate_s}, command="firesale dashboard")
    step(total)
    return RunOutcome(ds, summary, result, run_id, time.perf_counter() - started,
                      None if run_store is None else run_store.not_recorded)


# --------------------------------------------------------------------------- formatting
#: What a table shows for a missing value.
MISSING = "–"


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _cell(value: Any, digits: int = 2, unit: str = "") -> str:
    """A number for a table: thousands separators, ``digits`` decimals and ``unit``;
    :data:`MISSING` for None, NaN or a value that is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return MISSING
    if not np.isfinite(value):
        return MISSING if np.isnan(value) else ("∞" if value > 0 else "-∞")
    text = f"{int(value):,}" if isinstance(value, (int, np.integer)) else f"{value:,.{digits}f}"
    return f"{text}{unit}"


def headline(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The headline figures of a summary as ``(label, text)``, labelled and rounded as
    ``firesale run`` prints them (amplification to 3 decimals): the initial loss (every
    channel off, the shocks and exogenous waves on), the total loss, their ratio, and the
    loss split into the levered institutions' capital and the unlevered holders'
    mark-to-market (:mod:`firesale.analytics.amplification`), each with its amplification.

    Examples
    --------
    >>> from firesale import load_preset, simulate
    >>> from firesale.analytics.amplification import summarize
    >>> p = load_preset("dealer_prime")
    >>> dict(headline(summarize(simulate(p.system, p.scenario))))["forced sales / initial loss"]
    '19.0'
    """
    # the unit goes in the label, so that a large amount fits its tile
    unit = f" ({summary['currency']})" if summary.get("currency") else ""
    return [
        (f"initial loss (shock alone){unit}", _number(summary["initial_loss"])),
        (f"total loss{unit}", _number(summary["total_loss"])),
        ("amplification (total / initial)", _number(summary["amplification"], 3)),
        (f"forced sales{unit}", _number(summary["forced_sales"])),
        ("forced sales / initial loss", _number(summary["forced_sales_per_initial_loss"], 1)),
        ("rounds", str(summary["rounds"])),
        ("institutions breaching", str(summary["breaches"])),
        ("defaults", str(summary["defaults"])),
        (f"levered capital loss{unit}", _number(summary.get("levered_capital_loss"))),
        ("amplification, levered capital", _number(summary.get("amplification_levered"), 3)),
        (f"unlevered mark-to-market{unit}", _number(summary.get("unlevered_mark_to_market"))),
        ("amplification, unlevered", _number(summary.get("amplification_unlevered"), 3)),
    ]


def regime_caption(table: Mapping[str, Any]) -> str:
    """What the regime table (:func:`firesale.analytics.regimes.regime_table`) counts: the
    rule, and the rows the run did not measure, which do not count.

    Examples
    --------
    >>> from firesale import load_preset, simulate
    >>> from firesale.analytics.regimes import regime_table
    >>> p = load_preset("dealer_prime")  # the information channel is off
    >>> text = regime_caption(regime_table(simulate(p.system, p.scenario), 0, "treasuries"))
    >>> text.split(". ")[1]
    'Not measured in round 0: price shocks, liquidity, feedback loop, information flow.'
    """
    text = (f"A market is stressed when {table['thresholds']['rows_for_stress']} of its measured rows are; a row not "
            "measured does not count.")
    rounds = {"first": table["first_round"], "worst": table["worst_round"]}
    for col, rows in table["not_measured"].items():
        if rows and not (col == "worst" and rounds["worst"] == rounds["first"]):
            text += f" Not measured in round {rounds[col]}: {', '.join(rows)}."
    return text


def cascade_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cascade as rows, one per institution forced to sell or defaulting, by the round
    it was first forced to sell: ``round``, ``institution``, ``group``, ``type``, ``sold``,
    ``why`` (the binding channels of its sales) and ``defaulted``."""
    rows = [{"round": row["first_forced_round"], "institution": row["name"], "group": row["group"],
             "type": row["type"], "sold": row["sales"], "why": ", ".join(row["sales_by_channel"]) or "-",
             "defaulted": bool(row["defaulted"])}
            for row in summary["institutions"] if row["first_forced_round"] is not None or row["defaulted"]]
    return sorted(rows, key=lambda r: (r["round"] is None, r["round"] or 0, -r["sold"]))


#: The cascade timeline labels every institution (a row each) up to this many.
CASCADE_MAX_LABELS = 150
#: Height of one institution's row of the cascade timeline, in pixels.
CASCADE_ROW_PX = 24


def label_every_institution(fig: Any, max_labels: int = CASCADE_MAX_LABELS) -> bool:
    """Give every institution of a cascade timeline
    (:func:`firesale.report.cascade_figure`) its tick label, the figure tall enough for a
    row each: left to itself plotly labels only as many categories as fit its default
    height (9 of 17). False, the figure left as it is, when there are more than
    ``max_labels`` institutions.

    Examples
    --------
    >>> from firesale import load_preset, simulate
    >>> from firesale.report import cascade_figure
    >>> p = load_preset("dealer_prime")
    >>> fig = cascade_figure(simulate(p.system, p.scenario))
    >>> label_every_institution(fig), list(fig.layout.yaxis.tickvals) == list(fig.layout.yaxis.categoryarray)
    (True, True)
    """
    names = list(fig.layout.yaxis.categoryarray or [])
    if not names or len(names) > max_labels:
        return False
    fig.update_yaxes(tickmode="array", tickvals=names, ticktext=names, automargin=True)
    fig.update_layout(height=max(450, 160 + CASCADE_ROW_PX * len(names)))
    return True


def comparison_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """A comparison (:func:`firesale.analytics.compare.summarize_comparison`) side by side
    as ``firesale compare`` prints it: one column for the baseline and each policy."""
    runs = {"baseline": result["baseline"], **result["policies"]}
    cur = result["baseline"].get("currency") or ""
    rows: dict[str, list[str]] = {
        f"total loss ({cur})": [_number(s["total_loss"]) for s in runs.values()],
        "amplification": [_number(s["amplification"], 3) for s in runs.values()],
        f"levered capital loss ({cur})": [_number(s.get("levered_capital_loss")) for s in runs.values()],
        "amplification, levered capital": [_number(s.get("amplification_levered"), 3) for s in runs.values()],
        f"forced sales ({cur})": [_number(s["forced_sales"]) for s in runs.values()],
        "defaults": [str(s["defaults"]) for s in runs.values()],
        "rounds to stabilise": [str(s["rounds_to_stabilise"]) + ("" if s["stabilised"] else " (max)")
                                for s in runs.values()],
    }
    for asset in result["baseline"]["peak_price_fall"]:
        rows[f"peak price fall: {asset}"] = [f"{100 * s['peak_price_fall'][asset]:.2f}%" for s in runs.values()]
    return pd.DataFrame(rows, index=list(runs)).T


#: The columns of :func:`runs_table`.
RUNS_COLUMNS = ("id", "recorded (UTC)", "kind", "target", "scenarios", "total loss", "amplification",
                "forced sales", "defaults", "rounds")


def runs_table(entries: Sequence[RunEntry]) -> pd.DataFrame:
    """The run store's records (:meth:`firesale.store.RunStore.list`) as a table of text,
    latest first, with their headline numbers (a comparison's baseline): amounts with
    thousands separators and two decimals (and the currency, where the record gives it),
    the amplification as ``1.767×``, :data:`MISSING` where a record has no such number
    (a sweep, a replication)."""
    rows = []
    for e in reversed(list(entries)):
        prefix = "baseline." if e.kind == "compare" else ""
        metrics = {key.removeprefix(prefix): value for key, value in e.metrics.items()}
        currency = getattr(e, "currency", None) or metrics.get("currency")
        unit = f" {currency}" if isinstance(currency, str) and currency else ""
        rows.append({"id": e.run_id, "recorded (UTC)": e.created_at.strftime("%Y-%m-%d %H:%M:%S"), "kind": e.kind,
                     "target": e.target or MISSING, "scenarios": e.scenario_names or MISSING,
                     "total loss": _cell(metrics.get("total_loss"), unit=unit),
                     "amplification": _cell(metrics.get("amplification"), 3, "×"),
                     "forced sales": _cell(metrics.get("forced_sales"), unit=unit),
                     "defaults": _cell(metrics.get("defaults")), "rounds": _cell(metrics.get("rounds"))})
    return pd.DataFrame(rows, columns=list(RUNS_COLUMNS))


def waterfall_caption(ds: xr.Dataset, summary: Mapping[str, Any], index: int = 0) -> str:
    """What the equity waterfall's steps add up to, against the headline total loss.

    The steps (:func:`firesale.report.html.equity_waterfall`) add up to the change in the
    system's equity from t0 to the end, :math:`E_T - E_0`. The headline total loss
    (:func:`~firesale.analytics.amplification.capital_lost`) is :math:`E_0 - E_T - C_T`:
    the capital :math:`C_T` paid out to redeeming investors lowers equity but left the
    system, so it is not a loss. And the steps fall further than where they end: the
    fire-sale revaluation of the early rounds is partly undone as the selling pressure
    fades and prices recover.

    Examples
    --------
    >>> from firesale import load_preset, simulate
    >>> from firesale.analytics.amplification import summarize
    >>> p = load_preset("dealer_prime")
    >>> ds = simulate(p.system, p.scenario, detail=True)
    >>> print(waterfall_caption(ds, summarize(ds)))
    The steps add up to the change in the system's equity from t0 to the end, -6.00 USD bn: the headline total loss (6.00).
    """
    one = ds.isel(scenario=index)
    cur = summary.get("currency") or ""
    unit = f" {cur}" if cur else ""
    initial = float(one.initial_equity.sum())
    equity = one.equity.sum("institution").values
    change = float(equity[-1]) - initial
    paid = float(one.capital_out.isel(round=-1).sum())
    loss = float(summary["total_loss"])
    tolerance = 1e-9 * max(1.0, abs(initial))
    text = (f"The steps add up to the change in the system's equity from t0 to the end, {change:+,.2f}{unit}: "
            f"the headline total loss ({loss:,.2f})")
    text += (f" plus {paid:,.2f} paid out to redeeming investors, which lowers equity but left the system and is "
             "not a loss." if paid > tolerance else ".")
    lowest = int(np.argmin(equity))
    trough = initial - float(equity[lowest])
    if trough > -change + tolerance:
        text += (f" Equity was lowest at the end of round {int(one['round'].values[lowest])}, {trough:,.2f} below "
                 f"t0: the later rounds' gains are prices recovering as the selling pressure fades.")
    return text


# --------------------------------------------------------------------------- reverse stress test
#: What the shock of a reverse stress test may move (``over`` of
#: :func:`~firesale.analytics.reverse.reverse_stress`), as the page labels it.
REVERSE_OVER: dict[str, str] = {
    "price": "price returns",
    "price+volatility": "price returns and volatility multipliers",
    "price+funding": "price returns and fund redemptions",
}
#: The steps :func:`run_reverse` reports to its ``progress`` callback: the search's four
#: (:func:`~firesale.analytics.reverse.reverse_stress`), then the account of what it found.
REVERSE_STEPS = ("the base scenario", "starting directions", "refining the direction",
                 "the boundary along the best direction", "the boundary's outcomes, mechanisms and policies")


def reverse_over_options(system: System) -> dict[str, str]:
    """The entries of :data:`REVERSE_OVER` the system offers: ``price+funding`` only where
    it has a fund whose investors could redeem
    (:data:`firesale.analytics.reverse.FUND_TYPES`).

    Examples
    --------
    >>> from firesale import load_preset
    >>> list(reverse_over_options(load_preset("dealer_prime").system))
    ['price', 'price+volatility']
    """
    from firesale.analytics.reverse import FUND_TYPES as REDEEMING

    has_fund = any(i.type in REDEEMING for i in system.institutions)
    return {k: v for k, v in REVERSE_OVER.items() if k != "price+funding" or has_fund}


def _round_figure(value: float) -> str:
    """``value`` to two significant figures, as text without an exponent."""
    if not np.isfinite(value) or value <= 0:
        return "1"
    digits = max(0, 1 - int(np.floor(np.log10(value))))
    return f"{round(value, digits):.{digits}f}"


def target_examples(system: System) -> list[str]:
    """Targets the page offers as examples for ``system``, each one that
    :func:`~firesale.analytics.outcomes.parse_target` reads: a default, a levered loss of
    a tenth of the system's t0 equity, a fall of the asset with the most risk held (t0
    holdings times daily volatility) among those whose price sales move (a finite depth;
    any risky asset where none has one), both together, and (with dealers) that asset's
    market tipping into the stressed regime.

    Examples
    --------
    >>> from firesale import load_preset
    >>> target_examples(load_preset("dealer_prime").system)[0]
    'defaults>=1'
    """
    examples = ["defaults>=1", f"loss>={_round_figure(0.1 * float(system.equity0.sum()))}"]
    risky = [k for k, a in enumerate(system.assets) if a.sigma0 > 0]
    traded = [k for k in risky if 0 < (system.assets[k].depth or np.inf) < np.inf]
    risky = traded or risky
    if risky:
        risk = column_sums(system.holdings) * np.array([a.sigma0 for a in system.assets], dtype=float)
        asset = system.assets[max(risky, key=lambda k: (risk[k], -k))].name
        examples += [f"price.{asset}<=0.95", f"defaults>=1 and price.{asset}<=0.97"]
        if any(i.type == "dealer" for i in system.institutions):
            examples.append(f"regime.{asset}==stressed")
    return examples


@dataclass(frozen=True)
class ReverseOutcome:
    """One reverse stress test of the dashboard.

    Attributes
    ----------
    report : dict
        :func:`firesale.analytics.reverse.describe` of the result: what ``firesale reverse
        --json`` prints.
    inputs : tuple
        What it was asked: ``(target text, over, seed, keep_shocks, policies, base scenario)``;
        the page compares it with its widgets.
    seconds : float
        Time from the start of the search to the end of the account.
    """

    report: dict[str, Any]
    inputs: tuple[Any, ...]
    seconds: float


def run_reverse(preset: Preset, scenario: Scenario, target: str, *, over: str = "price", seed: int = 0,
                keep_shocks: bool = False, policies: bool = True,
                progress: Callable[[int, int, str], None] | None = None) -> ReverseOutcome:
    """The most plausible shock that meets ``target`` on the preset's system, as
    ``firesale reverse`` finds it: from the calm ``scenario`` (its settings without its
    shocks; ``keep_shocks`` adds the shock to its own), with the outcome at the boundary
    and at 0.98 times the shock, the mechanisms' Shapley values there and, with
    ``policies``, each policy's boundary along the same direction.

    Parameters
    ----------
    preset : Preset
        The system and its policies.
    scenario : Scenario
        The scenario whose settings the runs keep (the Run page's, or the preset's).
    target : str
        A condition on the run's outcomes (:func:`~firesale.analytics.outcomes.parse_target`).
    over, seed : str, int
        As for :func:`~firesale.analytics.reverse.reverse_stress`.
    keep_shocks, policies : bool
        As ``--keep-shocks`` and ``--policies`` of ``firesale reverse``.
    progress : callable, optional
        Called as ``progress(done, total, what)`` as the search goes through
        :data:`REVERSE_STEPS`, and once at the end (``done == total``).

    Raises
    ------
    ConfigError
        A target that cannot be read (FS760-FS764), an ``over`` the system cannot shock
        (FS765, FS766).
    """
    from firesale.analytics.outcomes import parse_target
    from firesale.analytics.reverse import calm_scenario, describe, reverse_stress

    condition = parse_target(target, preset.system)
    base = scenario if keep_shocks else calm_scenario(scenario)
    total = len(REVERSE_STEPS)
    done = [0]

    def say(text: str) -> None:
        if progress is not None:
            progress(min(done[0], total - 1), total, text)
        done[0] += 1

    started = time.perf_counter()
    result = reverse_stress(preset.system, base, condition, over=over, seed=seed, progress=say)
    if progress is not None:
        progress(total - 1, total, REVERSE_STEPS[-1])
    report = describe(preset, base, result, policies=policies)
    if progress is not None:
        progress(total, total, "done")
    return ReverseOutcome(report, (target, over, seed, keep_shocks, policies, scenario),
                          time.perf_counter() - started)


def _general(value: float | None) -> str:
    """A number to four significant figures (``-`` for None or NaN)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:,.4g}"


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def reverse_headline(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The headline figures of a reverse stress test as ``(label, text)``: the shock's
    Mahalanobis distance and probabilities (as ``firesale reverse`` prints them), then the
    damage at the boundary. Empty when no shock was found or none was needed (the
    report's ``note`` says why)."""
    if not report["found"] or report["met_without_shock"]:
        return []
    cur = f" ({report['currency']})" if report.get("currency") else ""
    return [
        ("Mahalanobis distance", f"{report['distance']:.4f}"),
        ("P(χ² ≥ d²): a normal shock this far", f"{report['probability']:.3g}"),
        ("P beyond the boundary (first order)", f"{report['probability_beyond']:.3g}"),
        ("factors (rank)", f"{report['factors']} ({report['rank']})"),
        (f"levered capital loss{cur}", _number(report["levered_capital_loss"])),
        (f"total loss{cur}", _number(report["total_loss"])),
        (f"forced sales{cur}", _number(report["forced_sales"])),
        ("defaults", str(report["defaults"])),
    ]


def reverse_shock_rows(report: Mapping[str, Any]) -> list[dict[str, str]]:
    """The shock of a reverse stress test, one row per factor as ``firesale reverse``
    prints it: ``factor`` (kind and name), ``shock`` (a price return or a redemption in
    per cent, a volatility multiplier as ``x1.234``), ``standard deviations`` (daily) and
    ``share of the distance`` (of the squared distance; the shares add up to 100%)."""
    rows = []
    for row in report.get("shock", []):
        value = (f"{100 * row['value']:+.3f}%" if row["kind"] in ("price", "redemption")
                 else f"x{float(np.exp(row['value'])):.3f}")
        rows.append({"factor": f"{row['kind']} {row['name']}", "shock": value,
                     "standard deviations": f"{row['sigmas']:+.2f}",
                     "share of the distance": f"{row['share_of_distance']:.1%}"})
    return rows


def reverse_outcome_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """The target's outcomes at the boundary and at 0.98 times the shock, and whether each
    meets the target: one row per outcome, then ``meets the target``. The second column
    should miss the target: the boundary is the first severity that meets it."""
    at, below = report["outcome"], report["at_098"]["outcome"]
    rows = {name: [_general(at[name]), _general(below.get(name))] for name in at}
    rows["meets the target"] = [_yes(report["meets_target"]), _yes(report["at_098"]["meets_target"])]
    return pd.DataFrame(rows, index=["at the boundary", "at 0.98× the shock"]).T


def reverse_carrier_rows(report: Mapping[str, Any]) -> list[dict[str, str]]:
    """Who carries the damage at the boundary: those in default first, then by the equity
    they lost (at most 8, :func:`firesale.analytics.reverse.describe`)."""
    cur = report.get("currency") or ""
    return [{"institution": r["name"], "type": r["type"], "group": r["group"] or MISSING,
             "levered": _yes(r["levered"]), "defaulted": _yes(r["defaulted"]),
             f"equity lost ({cur})": _number(r["equity_lost"]), f"forced sales ({cur})": _number(r["forced_sales"]),
             "breached": ", ".join(r["breached"]) or MISSING} for r in report.get("institutions", [])]


def _share(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1%}"


def reverse_mechanism_rows(report: Mapping[str, Any]) -> list[dict[str, str]]:
    """The mechanisms' exact Shapley values at the boundary
    (:func:`firesale.analytics.attribution.attribution_summary`): of the levered capital
    loss beyond the loss with every mechanism off, and of the forced sales, each with its
    share (empty when the report has no attribution)."""
    mech = report.get("mechanisms")
    if not mech:
        return []
    cur = report.get("currency") or ""
    loss = mech["outcome"].replace("_", " ")
    return [{"mechanism": p, f"Shapley {loss} ({cur})": _number(mech["shapley"][p]), "share": _share(mech["share"][p]),
             f"Shapley forced sales ({cur})": _number(mech["shapley_forced_sales"][p]),
             "share of the sales": _share(mech["share_forced_sales"][p])} for p in mech["players"]]


def reverse_policy_rows(report: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each policy of the preset along the shock's direction: whether the shock still
    meets the target under it, the boundary's distance under it and that distance as a
    multiple of the one found without it ("never within bounds" where no severity does)."""
    never = "never within bounds"
    return [{"policy": name, "meets the target at the shock": _yes(row["meets_at_shock"]),
             "boundary distance": never if row["boundary_distance"] is None else f"{row['boundary_distance']:.4f}",
             "severity": never if row["severity_multiple"] is None else f"x{row['severity_multiple']:.3f}",
             "what it does": row.get("description") or ""}
            for name, row in (report.get("policies") or {}).items()]
