"""The dashboard's pages: Streamlit widgets laid out over :mod:`firesale.dashboard.logic`.

Each page is a function (:func:`system_page`, :func:`run_page`, :func:`compare_page`,
:func:`reverse_page`, :func:`runs_page`) that draws itself from the session state alone, so that each can be
run on its own (``AppTest.from_string``) or as a page of :mod:`firesale.dashboard.app`.
The chosen system and the last results live in the session state under the keys below;
the values of the shock, channel and policy widgets under keys starting with
:data:`WIDGET_PREFIX`, which the app keeps across pages.

Every error shows as one line (a FiresaleError's problem, or ``unexpected error: <type>:
<message>``) with its details collapsed, never a traceback; tables show at most
:data:`~firesale.dashboard.logic.MAX_TABLE_ROWS` rows, with a note saying how many there
are, and an uploaded table file of more than
:data:`~firesale.dashboard.logic.UPLOAD_MAX_ROWS` rows is refused before it is read.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from firesale.dashboard import logic, require_streamlit
from firesale.errors import FiresaleError

if TYPE_CHECKING:
    import xarray as xr

    from firesale.data.preset import Preset

__all__ = ["WIDGET_PREFIX", "compare_page", "current_preset", "reverse_page", "run_page", "runs_page", "system_page"]

_log = logging.getLogger(__name__)

#: Keys of widgets whose values the app keeps when another page is shown.
WIDGET_PREFIX = "fs_w_"
_PRESET = "fs_preset"  # the chosen Preset
_TARGET = "fs_target"  # what the run store records as its target
_GENERATION = "fs_generation"  # bumped with each new system: the shock widgets start again
_SCENARIO = "fs_scenario"  # the scenario the Run page's widgets describe
_OUTCOME = "fs_outcome"  # the last run: (target, Scenario, RunOutcome)
_COMPARISON = "fs_comparison"  # the last comparison: (names, scenarios, result)
_REVERSE = "fs_reverse"  # the last reverse stress test: a ReverseOutcome
_UPLOAD_KEY = "fs_upload_signature"  # the uploaded files last loaded
_UPLOAD_PROBLEMS = "fs_upload_problems"
_UPLOAD_ERROR = "fs_upload_error"  # an upload that failed for another reason than its problems

#: Range of the price-return sliders (the typed inputs go beyond it).
PRICE_RANGE = (-0.5, 0.2)
#: Smallest value and step of the other round-0 shocks' inputs (a volatility multiplier
#: stays above 0; client sales and repo rates start at 0).
_SHOCK_INPUTS = {"volatility": (0.1, 0.1), "client_sale": (0.0, 1.0), "repo_rate": (0.0, 0.005)}


def _with_progress(st: Any, run: Any) -> Any:
    """``run(progress)`` under a progress bar (``progress(done, total, what)`` moves it); its
    result, or None after showing its error in one line (:func:`_error`)."""
    bar = st.progress(0.0, text="starting")
    try:
        return run(lambda done, total, what: bar.progress(done / total, text=what))
    except Exception as err:  # noqa: BLE001 - shown in one line
        _error(st, err)
        return None
    finally:
        bar.empty()


def _error(st: Any, err: BaseException) -> None:
    """An error inline, never a traceback: one line (a FiresaleError's problem, or
    ``unexpected error: <type>: <message>``), the details collapsed under it. The
    traceback of an unexpected error goes to the server's log."""
    line, details = logic.error_summary(err)
    if not isinstance(err, FiresaleError):
        _log.error("dashboard: %s", line, exc_info=err)
    st.error(line)
    if details:
        with st.expander("details", expanded=False):
            st.markdown("\n".join(f"- {_markdown(detail)}" for detail in details))


def _markdown(text: str) -> str:
    """``text`` shown as it is by ``st.markdown`` (its markup characters escaped)."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]<>()#+-.!|~$" else c for c in text)


def _guarded(page: Callable[[], None]) -> Callable[[], None]:
    """``page``, showing any error it does not catch as :func:`_error` does (Streamlit's
    own stop and rerun pass through: they are not Exceptions)."""

    @functools.wraps(page)
    def guarded() -> None:
        try:
            page()
        except Exception as err:  # noqa: BLE001 - the page shows it, in one line
            _error(require_streamlit(), err)

    return guarded


def _table(st: Any, frame: pd.DataFrame, *, what: str = "rows", static: bool = False, **kwargs: Any) -> None:
    """``frame`` as a table of at most :data:`~firesale.dashboard.logic.MAX_TABLE_ROWS`
    rows, with a note when it has more; ``static``: ``st.table`` (every cell drawn), else
    ``st.dataframe``."""
    shown, note = logic.bounded(frame, what=what)
    if static:
        st.table(shown)
    else:
        st.dataframe(shown, **kwargs)
    if note:
        st.caption(note)


def current_preset() -> Preset:
    """The system chosen on the System page (the default preset until one is chosen)."""
    st = require_streamlit()
    if _PRESET not in st.session_state:
        from firesale.data.preset import DEFAULT_PRESET, load_preset

        _set_preset(load_preset(DEFAULT_PRESET), DEFAULT_PRESET)
    return st.session_state[_PRESET]


def _set_preset(preset: Preset, target: str) -> None:
    st = require_streamlit()
    st.session_state[_PRESET] = preset
    st.session_state[_TARGET] = target
    st.session_state[_GENERATION] = st.session_state.get(_GENERATION, 0) + 1
    for key in (_SCENARIO, _OUTCOME, _COMPARISON, _REVERSE):
        st.session_state.pop(key, None)


def _key(name: str) -> str:
    """A widget key of the current system (a new system starts its widgets afresh)."""
    st = require_streamlit()
    return f"{WIDGET_PREFIX}{st.session_state.get(_GENERATION, 0)}_{name}"


# --------------------------------------------------------------------------- System
def _choose_preset() -> None:
    st = require_streamlit()
    from firesale.data.preset import load_preset

    name = st.session_state["fs_preset_choice"]
    _set_preset(load_preset(name), name)


def _load_upload(files: list[Any]) -> None:
    """Load the uploaded files once per set of files; keep their problems (or the error)
    for display. A table file of more rows than
    :data:`~firesale.dashboard.logic.UPLOAD_MAX_ROWS` is refused before it is read."""
    st = require_streamlit()
    from firesale.data.uploads import load_uploaded

    signature = tuple(sorted((f.name, f.size) for f in files))
    if st.session_state.get(_UPLOAD_KEY) == signature:
        return
    st.session_state[_UPLOAD_KEY] = signature
    st.session_state[_UPLOAD_PROBLEMS] = []
    st.session_state[_UPLOAD_ERROR] = None
    try:
        data = {f.name: f.getvalue() for f in files}
        logic.check_upload_rows(data)
        preset = load_uploaded(data)
    except FiresaleError as err:
        st.session_state[_UPLOAD_PROBLEMS] = err.problems
        return
    except Exception as err:  # noqa: BLE001 - shown on the page in one line
        st.session_state[_UPLOAD_ERROR] = err
        return
    _set_preset(preset, "uploaded tables: " + ", ".join(name for name, _ in signature))


@_guarded
def system_page() -> None:
    """Choose a preset or upload tables; see the system's problems or its summary."""
    st = require_streamlit()
    from firesale.data.preset import list_presets
    from firesale.data.uploads import UPLOAD_NAMES

    preset = current_preset()
    st.title("System")
    presets = list_presets()
    names = list(presets)
    target = st.session_state[_TARGET]
    st.selectbox("Preset", names, index=names.index(target) if target in presets else None,
                 format_func=lambda n: f"{n}: {presets[n]}", key="fs_preset_choice", on_change=_choose_preset,
                 placeholder="uploaded tables", help="A built-in system with its scenario and policies.")
    files = st.file_uploader(
        "Or upload the tables (institutions, assets, holdings; optionally correlations, market_shares and "
        "scenario.toml)", type=["csv", "parquet", "toml"], accept_multiple_files=True, key="fs_upload",
        help=f"File names: {', '.join(UPLOAD_NAMES)}. The columns are those of `firesale validate --schema`.")
    if files:
        _load_upload(files)
    problems = st.session_state.get(_UPLOAD_PROBLEMS) if files else None
    failed = st.session_state.get(_UPLOAD_ERROR) if files else None
    if problems:
        st.error(f"The uploaded tables have {len(problems):,} problem{'s' if len(problems) > 1 else ''}; the "
                 f"system in use is still {preset.name}.")
        # a table of many thousand rows would stall the browser: the first ones, and how many there are
        st.table(pd.DataFrame(logic.problem_rows(problems[:logic.MAX_TABLE_ROWS])).set_index("code"))
        if len(problems) > logic.MAX_TABLE_ROWS:
            st.caption(f"Showing the first {logic.MAX_TABLE_ROWS:,} of {len(problems):,} problems: "
                       "`firesale validate DIR` lists them all.")
    elif failed is not None:
        _error(st, failed)
        st.caption(f"The uploaded tables could not be loaded; the system in use is still {preset.name}.")
    preset = current_preset()
    system = preset.system
    st.header(preset.name)
    st.caption(f"{st.session_state[_TARGET]} — {preset.description}")
    cols = st.columns(4)
    cols[0].metric("institutions", system.n_institutions)
    cols[1].metric("assets", system.n_assets)
    cols[2].metric("holdings", int((system.holdings > 0).sum()))
    cols[3].metric("currency", system.currency)
    st.subheader("Institutions by type and group")
    counts = logic.institution_counts(system)
    st.table(counts)
    if "other groups" in counts.columns:
        st.caption(f"The {logic.COUNT_MAX_GROUPS} largest groups each have a column; the other groups share one.")
    st.subheader("Holdings overlap")
    _overlap_chart(st, logic.holdings_overlap(system))
    st.subheader("Capital ratios against their triggers and minimums")
    ratios = logic.capital_ratios(system)
    capped = logic.constrained(ratios)
    if capped.empty:
        st.info("No institution has a capital-ratio trigger or minimum: the table lists each one's equity/assets.")
    else:
        shown = logic.tightest(capped)
        free = len(ratios) - len(capped)
        notes = []
        if free:
            notes.append(f"Left out of the chart (not of the table): {free:,} institution{'s' if free > 1 else ''} "
                         "without a capital-ratio trigger or minimum, whose equity/assets would dwarf the others.")
        if len(shown) < len(capped):
            notes.append(f"The chart shows the {len(shown)} of {len(capped):,} constrained institutions closest to "
                         "their trigger.")
        if notes:
            st.caption(" ".join(notes))
        _ratio_chart(st, shown)
    # the tightest first when the table is cut; a styled table renders every cell, so it is styled only bounded
    ordered = (ratios if len(ratios) <= logic.MAX_TABLE_ROWS
               else ratios.sort_values("headroom", kind="stable", na_position="last"))
    table, note = logic.bounded(ordered, what="institutions")
    percent = ("ratio", "minimum", "trigger", "headroom")
    st.dataframe(table.style.format({c: "{:.2%}" for c in percent}, na_rep=logic.MISSING))
    if note:
        st.caption(f"{note} The table lists those closest to their trigger first.")


def _overlap_chart(st: Any, overlap: pd.DataFrame) -> None:
    from firesale.analytics.figures import plotly_graph_objects

    go = plotly_graph_objects()
    fig = go.Figure(go.Heatmap(z=overlap.values, x=list(overlap.columns), y=list(overlap.index), zmin=0, zmax=1,
                               colorscale="Reds", colorbar={"title": "cosine"}))
    fig.update_layout(title="Cosine similarity of t0 holdings (1: the same mix of assets)",
                      xaxis_title="institution", yaxis_title="institution", yaxis={"autorange": "reversed"},
                      height=520)
    st.plotly_chart(fig, key="overlap")


def _ratio_chart(st: Any, ratios: pd.DataFrame) -> None:
    """The constrained institutions' ratios as bars, each one's trigger and minimum as a
    mark across its bar; the axis ends at a few times the largest trigger (a bar above
    it is cut, its value written on it)."""
    from firesale.analytics.figures import plotly_graph_objects

    go = plotly_graph_objects()
    names = list(ratios.index)
    top = logic.ratio_axis_max(ratios)
    values = ratios["ratio"].to_numpy(dtype=float)
    cut = values > top
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[float(min(v, top)) for v in values], name="ratio at t0",
                         customdata=[[float(v), str(m)] for v, m in zip(values, ratios["measure"])],
                         text=[f"{v:.1%} ↑" if c else "" for v, c in zip(values, cut)], textposition="inside",
                         hovertemplate="%{x}: %{customdata[0]:.2%} (%{customdata[1]})<extra></extra>"))
    for level, symbol, colour in (("trigger", "line-ew-open", "#d62728"), ("minimum", "line-ew", "#1f2933")):
        fig.add_trace(go.Scatter(x=names, y=[None if pd.isna(v) else float(v) for v in ratios[level]],
                                 mode="markers", name=level,
                                 marker={"symbol": symbol, "size": 26, "color": colour,
                                         "line": {"width": 3, "color": colour}},
                                 hovertemplate="%{x}: " + level + " %{y:.2%}<extra></extra>"))
    fig.update_layout(title="SLR (or equity/assets) at t0 of the institutions with a capital constraint, with "
                            "each one's trigger and minimum",
                      xaxis_title="institution", yaxis_title="capital ratio",
                      yaxis={"tickformat": ".1%", "range": [0, top]})
    st.plotly_chart(fig, key="ratios")


# --------------------------------------------------------------------------- Run
def _sync(source: str, target: str, low: float | None = None, high: float | None = None) -> None:
    """Copy one widget's value into its twin (a slider and its typed input), clamped."""
    st = require_streamlit()
    value = st.session_state[source]
    if low is not None and high is not None:
        value = min(max(value, low), high)
    st.session_state[target] = value


def _shock_widgets(st: Any, preset: Preset) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    system, scenario = preset.system, preset.scenario
    defaults = logic.asset_shock_inputs(scenario, system)
    # every asset starts at the scenario's value: those without widgets keep it
    values: dict[str, dict[str, float]] = {field: dict(defaults[field]) for field in logic.ASSET_SHOCKS}
    shown = logic.widget_assets(scenario, system)
    st.subheader("Shocks in round 0")
    if len(shown) < system.n_assets:
        st.caption(f"Widgets for {len(shown)} of the {system.n_assets:,} assets: those the scenario shocks, then the "
                   "largest holdings; the others keep the scenario's shocks (set them in scenario.toml).")
    for asset in shown:
        start = defaults["price"][asset]
        slider, typed = _key(f"price_slider_{asset}"), _key(f"price_{asset}")
        left, right = st.columns([3, 1])
        left.slider(f"{asset}: price return", *PRICE_RANGE, value=min(max(start, PRICE_RANGE[0]), PRICE_RANGE[1]),
                    step=0.005, key=slider, on_change=_sync, args=(slider, typed), format="%.3f")
        values["price"][asset] = right.number_input(
            f"{asset} (typed)", min_value=-0.99, max_value=10.0, value=start, step=0.001, format="%.4f", key=typed,
            on_change=_sync, args=(typed, slider, *PRICE_RANGE), help="The same return, typed: -0.06 is a 6% fall.")
    others = list(logic.ASSET_SHOCKS)[1:]
    with st.expander("Volatility, client sales and repo rates by asset"):
        for col, label in zip(st.columns(1 + len(others)), ["asset", *(logic.ASSET_SHOCKS[f][0] for f in others)]):
            col.caption(label)
        for asset in shown:
            cols = st.columns(1 + len(others))
            cols[0].write(asset)
            for col, field in zip(cols[1:], others):
                values[field][asset] = col.number_input(
                    f"{asset}: {logic.ASSET_SHOCKS[field][0]}", value=defaults[field][asset],
                    min_value=_SHOCK_INPUTS[field][0], step=_SHOCK_INPUTS[field][1],
                    key=_key(f"{field}_{asset}"), label_visibility="collapsed")
    funds = logic.redemption_inputs(scenario, system)
    redemptions = dict(funds)  # the funds without an input keep the scenario's share
    if funds:
        with st.expander("Redemptions: share of NAV investors pull in round 0"):
            inputs = logic.widget_funds(scenario, system)
            if len(inputs) < len(funds):
                st.caption(f"Inputs for {len(inputs)} of the {len(funds):,} funds: those the scenario redeems from, "
                           "then the largest; the others keep the scenario's share.")
            for name in inputs:
                redemptions[name] = st.number_input(f"{name}: redemption", min_value=0.0, max_value=1.0,
                                                    value=funds[name], step=0.01, key=_key(f"redemption_{name}"))
    later = [s for s in scenario.shocks if s.round > 0]
    if later:
        st.caption(f"{len(later)} shock{'s' if len(later) > 1 else ''} of later rounds kept as the preset has them.")
    return values, redemptions


def _switch_widgets(st: Any, preset: Preset) -> tuple[dict[str, bool], dict[str, Any]]:
    scenario = preset.scenario
    switches: dict[str, bool] = {}
    levers: dict[str, Any] = {}
    st.subheader("Channels")
    by_mechanism: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, switch in logic.channel_switches(scenario).items():
        by_mechanism.setdefault(switch["mechanism"], []).append((name, switch))
    for col, (mechanism, items) in zip(st.columns(len(by_mechanism)), by_mechanism.items()):
        col.markdown(f"**{mechanism.replace('_', ' ')}**")
        for name, switch in items:
            switches[name] = col.checkbox(name.split(".")[-1], value=switch["value"], key=_key(name),
                                          help=switch["description"])
    st.subheader("Policy levers")
    levers_of = logic.policy_levers(scenario)
    for name, lever in levers_of.items():
        label = name.split(".")[-1].replace("_", " ")
        if lever["kind"] == "share":
            levers[name] = st.slider(label, lever["low"], lever["high"], value=float(lever["value"]), step=0.01,
                                     key=_key(name), help=lever["description"])
        else:
            suffix = " (as the preset sets it)" if lever["kind"] == "programme" else ""
            levers[name] = st.checkbox(label + suffix, value=bool(lever["value"]), key=_key(name),
                                       help=lever["description"])
    programmes = [n for n in ("purchases", "repo_facility") if f"policy.{n}" not in levers_of]
    bundles = [name for name, bundle in preset.policies.items()
               if any(k.startswith(tuple(f"policy.{n}." for n in programmes)) for k in bundle.get("overrides", {}))]
    if bundles:
        st.caption(f"Central-bank purchase and repo programmes: the preset's policies {', '.join(bundles)} on the "
                   "Compare page.")
    return switches, levers


@_guarded
def run_page() -> None:
    """Shocks, channels and policy levers, a run button with a progress bar, the results."""
    st = require_streamlit()
    preset = current_preset()
    st.title(f"Shock and policies — {preset.name}")
    assets, redemptions = _shock_widgets(st, preset)
    switches, levers = _switch_widgets(st, preset)
    try:
        scenario = logic.scenario_from_inputs(preset.scenario, preset.system, assets=assets, redemptions=redemptions,
                                              switches=switches, levers=levers)
    except FiresaleError as err:
        _error(st, err)
        return
    st.session_state[_SCENARIO] = scenario
    left, right = st.columns(2)
    attribution = left.checkbox("Shapley attribution to the mechanisms (8 more runs in one batch)", value=True,
                                key=f"{WIDGET_PREFIX}attribution")
    record = right.checkbox("Record in the run store", value=True, key=f"{WIDGET_PREFIX}record")
    if st.button("Run", type="primary", key="fs_run"):
        outcome = _with_progress(st, lambda progress: logic.run_scenario(
            preset, scenario, attribution=attribution, record=record, target=st.session_state[_TARGET],
            progress=progress))
        if outcome is None:
            return
        st.session_state[_OUTCOME] = (st.session_state[_TARGET], scenario, outcome)
    if _OUTCOME in st.session_state:
        _, ran, outcome = st.session_state[_OUTCOME]
        note = f"computed in {outcome.seconds:.2f} s" + (f"; recorded as run {outcome.run_id}" if outcome.run_id
                                                          else "")
        if ran != scenario:
            note += " — the widgets have changed since: press Run again"
        if outcome.not_recorded:
            st.warning(f"not recorded in the run store: {outcome.not_recorded}")
        _results(st, outcome.ds, outcome.summary, note, system=preset.system, scenario=ran,
                 attribution=outcome.attribution, declared=preset.parameters, key="run")


def _results(st: Any, ds: xr.Dataset, summary: dict[str, Any], note: str, *, index: int = 0, system: Any = None,
             scenario: Any = None, attribution: xr.Dataset | None = None, declared: Sequence[Any] = (),
             key: str) -> None:
    """Headline figures, price paths, the equity waterfall, the cascade, the regime table,
    the attribution and the downloads of one scenario of ``ds`` (the HTML report with its
    sensitivity to ``declared`` and the built-in knobs, where the system is known)."""
    from firesale.analytics.regimes import regime_table
    from firesale.data.netcdf import dataset_bytes
    from firesale.report import (
        attribution_figure,
        build_report,
        cascade_figure,
        price_figure,
        waterfall_figure,
    )

    st.header(f"Results: {summary['system']} — {summary['scenario']}")
    st.caption(note)
    figures = logic.headline(summary)
    for start in range(0, len(figures), 4):
        for col, (label, value) in zip(st.columns(4), figures[start:start + 4]):
            col.metric(label, value)
    st.subheader("Price paths")
    st.plotly_chart(price_figure(ds, index), key=f"{key}_prices")
    st.subheader("Equity waterfall by round")
    st.plotly_chart(waterfall_figure(ds, index), key=f"{key}_waterfall")
    st.caption(logic.waterfall_caption(ds, summary, index))
    st.subheader("Cascade timeline")
    cascade = cascade_figure(ds, index)
    if cascade is None:
        st.info("No institution was forced to sell or defaulted.")
    else:
        labelled = logic.label_every_institution(cascade)
        st.plotly_chart(cascade, key=f"{key}_cascade")
        if not labelled:
            st.caption("Too many institutions to label each one: the table below lists them.")
        _table(st, pd.DataFrame(logic.cascade_rows(summary)), what="institutions", hide_index=True,
               column_config={"sold": st.column_config.NumberColumn(f"sold ({summary['currency']})",
                                                                    format="%.2f")})
    one = ds.isel(scenario=index)
    if bool((one.institution_type == "dealer").any()):
        table = regime_table(ds, index)
        st.subheader(f"Market regime: {table['asset']}, the most stressed market")
        st.table(pd.DataFrame(
            {f"round {table['first_round']} ({table['regime']['first']})":
                 [f"{r['first']['label']}: {r['first']['text']}" for r in table["rows"]],
             f"round {table['worst_round']}, the worst ({table['regime']['worst']})":
                 [f"{r['worst']['label']}: {r['worst']['text']}" for r in table["rows"]]},
            index=[r["row"] for r in table["rows"]]))
        st.caption(logic.regime_caption(table))
    if attribution is not None:
        st.subheader("Attribution to the mechanisms")
        fig = attribution_figure(attribution)
        if fig is None:
            st.info("Nothing to share: the mechanisms change neither the loss nor the sales.")
        else:
            st.plotly_chart(fig, key=f"{key}_attribution")
    st.subheader("Downloads")
    left, right = st.columns(2)
    name = f"{summary['system']}-{summary['scenario']}".replace("/", "_").replace(" ", "_")
    left.download_button("Results Dataset (netCDF)", data=lambda: dataset_bytes(ds), file_name=f"{name}.nc",
                         mime="application/x-netcdf", key=f"{key}_download_nc", on_click="ignore")
    right.download_button(
        "HTML report", mime="text/html", file_name=f"{name}.html", key=f"{key}_download_html", on_click="ignore",
        data=lambda: build_report(system, scenario, ds, index=index, title=summary["system"],
                                  attribution=False if attribution is None else attribution, declared=declared))


# --------------------------------------------------------------------------- Compare
@_guarded
def compare_page() -> None:
    """The baseline (the Run page's scenario) against chosen policies, side by side."""
    st = require_streamlit()
    import time

    from firesale.analytics.compare import comparison_scenarios, policy_names, summarize_comparison
    from firesale.simulation import simulate
    from firesale.store import recording_store

    preset = current_preset()
    base = st.session_state.get(_SCENARIO, preset.scenario)
    st.title(f"Compare — {preset.name}")
    st.caption("Baseline: " + ("the scenario of the Run page's widgets." if base is not preset.scenario
                               else f"the preset's scenario, {base.name}."))
    known = policy_names(preset)
    chosen = st.multiselect("Policies (one column each)", list(known), default=["slr_exemption"],
                            key=_key("policies"), help="Switches of scenario.policy and the preset's policy bundles.")
    combined = st.checkbox("Also all of them together", key=_key("combined"))
    record = st.checkbox("Record in the run store", value=True, key=f"{WIDGET_PREFIX}compare_record")
    for name in chosen:
        st.caption(f"**{name}**: {known[name]}")
    if st.button("Compare", type="primary", key="fs_compare", disabled=not chosen):
        policies = chosen + (["+".join(chosen)] if combined and len(chosen) > 1 else [])
        bar = st.progress(0.0, text="simulating the baseline and the policies in one batch")
        try:
            run_store = recording_store(None, not record)
            names, scenarios = comparison_scenarios(preset, policies, base=base)
            started = time.perf_counter()
            ds = simulate(preset.system, scenarios)
            simulate_s = time.perf_counter() - started
            bar.progress(0.8, text="summarising")
            result = summarize_comparison(ds, scenarios, names)
            run_id = None if run_store is None else run_store.record(
                "compare", st.session_state[_TARGET], preset.system, scenarios, ds, result,
                {"simulate_s": simulate_s}, params={"policies": names}, command="firesale dashboard")
        except Exception as err:  # noqa: BLE001 - shown in one line
            bar.empty()
            _error(st, err)
            return
        bar.empty()
        st.session_state[_COMPARISON] = (result, run_id)
    if _COMPARISON in st.session_state:
        result, run_id = st.session_state[_COMPARISON]
        st.header("Baseline vs policies")
        if run_id:
            st.caption(f"recorded as run {run_id}")
        _table(st, logic.comparison_table(result), static=True)


# --------------------------------------------------------------------------- Reverse stress test
#: What the target input accepts, as its help says.
_TARGET_HELP = ("A condition on the run's outcomes, clauses joined by `and`: `defaults>=N` (institutions in default), "
                "`loss>=X` (levered capital loss), `total_loss`, `forced_sales`, `breaches`, `price.ASSET<=P` (lowest "
                "price, t0 = 1), `price_fall.ASSET`, `yield.ASSET>=BP` (a bond's peak yield rise), "
                "`regime.ASSET==stressed`; operators >=, <=, >, <, ==, !=.")


@_guarded
def reverse_page() -> None:
    """The most plausible shock that meets a target: its distance and probability, the
    shock per factor, the outcome at the boundary and just below it, who carries it, the
    mechanisms and the policies."""
    st = require_streamlit()
    from firesale.analytics.outcomes import parse_target

    preset = current_preset()
    system = preset.system
    scenario = st.session_state.get(_SCENARIO, preset.scenario)
    st.title(f"Reverse stress test — {preset.name}")
    st.caption("The shock of least Mahalanobis distance under the assets' covariance that meets the target (Breuer, "
               "Jandačka, Rheinberger & Summer 2009): the most plausible of all the shocks that do. Settings: "
               + ("the Run page's widgets" if scenario is not preset.scenario else f"the preset's scenario, "
                                                                                   f"{scenario.name}") + ".")
    text = st.text_input("Target", value="defaults>=1", key=_key("reverse_target"), help=_TARGET_HELP)
    st.caption("Examples: " + ", ".join(f"`{example}`" for example in logic.target_examples(system)))
    options = logic.reverse_over_options(system)
    left, middle, right = st.columns([2, 1, 2])
    over = left.selectbox("The shock moves", list(options), format_func=lambda k: f"{k}: {options[k]}",
                          key=_key("reverse_over"), help="The risk factors: each asset's price return in round 0; "
                          "with each asset's volatility multiplier, or each fund's redemptions.")
    seed = middle.number_input("Seed", min_value=0, value=0, step=1, key=_key("reverse_seed"),
                               help="Seed of the random starting directions: the same seed, the same answer.")
    keep = right.checkbox("Add the shock to the scenario's own shocks", key=_key("reverse_keep"),
                          help="Off: from the calm scenario (its settings, no shocks): which shock alone meets the "
                               "target.")
    policies = right.checkbox("Each policy's boundary too", value=True, key=_key("reverse_policies"),
                              help="Along the same direction, under each of the preset's policies.")
    try:
        parse_target(text, system)
        readable = True
    except FiresaleError as err:
        _error(st, err)
        readable = False
    inputs = (text, over, int(seed), keep, policies, scenario)
    if st.button("Find the shock", type="primary", key="fs_reverse_run", disabled=not readable):
        outcome = _with_progress(st, lambda progress: logic.run_reverse(
            preset, scenario, text, over=over, seed=int(seed), keep_shocks=keep, policies=policies,
            progress=progress))
        if outcome is None:
            return
        st.session_state[_REVERSE] = outcome
    if _REVERSE in st.session_state:
        outcome = st.session_state[_REVERSE]
        note = f"computed in {outcome.seconds:.2f} s"
        if outcome.inputs != inputs:
            note += " — the inputs have changed since: press Find the shock again"
        _reverse_results(st, outcome.report, note)


def _reverse_results(st: Any, report: dict[str, Any], note: str) -> None:
    """What :func:`reverse_page` shows of a :func:`firesale.analytics.reverse.describe` report."""
    from firesale.analytics.reverse import shock_figure

    st.header(f"The most plausible shock with {report['target']}")
    search = report["search"]
    st.caption(f"{note}. From {report['base']}, over {report['over']}; {search['steps']} refinement steps, "
               f"{search['batches']} batches, {search['runs']:,} runs, seed {report['seed']}.")
    if not report["found"] or report["met_without_shock"]:
        st.info(report["note"][0].upper() + report["note"][1:] + ".")
        return
    figures = logic.reverse_headline(report)
    for start in range(0, len(figures), 4):
        for col, (label, value) in zip(st.columns(4), figures[start:start + 4]):
            col.metric(label, value)
    st.caption("Probabilities under normal daily shocks, which understate fat tails: a shock drawn from N(0, Σ) lies "
               "at least this far (chi-square), or beyond the boundary's tangent plane (first order, FORM).")
    st.subheader("The shock")
    st.table(pd.DataFrame(logic.reverse_shock_rows(report)).set_index("factor"))
    st.caption("Standard deviations: daily. Share: of the squared distance, what makes the shock implausible.")
    st.plotly_chart(shock_figure(report), key="reverse_shock")
    st.subheader("The outcome at the boundary and at 0.98× the shock")
    st.table(logic.reverse_outcome_table(report))
    carriers = logic.reverse_carrier_rows(report)
    if carriers:
        st.subheader("Who carries it")
        st.table(pd.DataFrame(carriers).set_index("institution"))
    mechanisms = logic.reverse_mechanism_rows(report)
    if mechanisms:
        mech = report["mechanisms"]
        st.subheader("Mechanisms at the boundary")
        st.table(pd.DataFrame(mechanisms).set_index("mechanism"))
        cur = report.get("currency") or ""
        st.caption(f"Exact Shapley values of the levered capital loss beyond the {mech['baseline_loss']:,.2f} {cur} "
                   f"with every mechanism off (up to {mech['total_loss']:,.2f} {cur} with all on), and of the forced "
                   "sales; a share is a value over the sum of the values' sizes, with its sign.")
    policy_rows = logic.reverse_policy_rows(report)
    if policy_rows:
        st.subheader("Under each policy, along the same direction")
        st.table(pd.DataFrame(policy_rows).set_index("policy"))
        st.caption("Severity: the boundary's distance under the policy over the one found without it (above 1: the "
                   "policy makes the target harder to reach).")


# --------------------------------------------------------------------------- Runs
@_guarded
def runs_page() -> None:
    """Browse the run store and open any stored run."""
    st = require_streamlit()
    from firesale.store import RunStore

    st.title("Runs")
    try:
        run_store = RunStore()
        entries = run_store.list(limit=logic.MAX_TABLE_ROWS + 1)
    except FiresaleError as err:
        _error(st, err)
        return
    st.caption(f"run store: {run_store.path}")
    if not entries:
        st.info("No runs recorded yet: a run on the Run page records one.")
        return
    table = logic.runs_table(entries[-logic.MAX_TABLE_ROWS:])
    st.dataframe(table, hide_index=True)
    notes = ["Amounts in each system's currency; the run you open below gives it."]
    if len(entries) > logic.MAX_TABLE_ROWS:
        notes.append(f"The latest {logic.MAX_TABLE_ROWS:,} runs: `firesale runs list` lists them all.")
    st.caption(" ".join(notes))
    targets = dict(zip(table["id"], table["target"]))
    run_id = st.selectbox("Open run", list(table["id"]), key="fs_open_run",
                          format_func=lambda r: f"{r} — {targets[r]}")
    try:
        record = run_store.get(run_id)
    except FiresaleError as err:
        _error(st, err)
        return
    currency = (record.config.get("system") or {}).get("currency")
    st.caption(f"{record.kind} of {record.target}, recorded {record.created_at:%Y-%m-%d %H:%M:%S} UTC by firesale "
               f"{record.firesale_version}" + (f" (amounts in {currency})" if currency else "")
               + (f": `{record.command}`" if record.command else ""))
    if record.data_dir is None:
        st.json(record.summary)
        return
    from firesale.analytics.amplification import summarize

    try:
        ds = run_store.load_dataset(record.run_id)
    except Exception as err:  # noqa: BLE001 - a missing or damaged results.nc: said in one line
        _error(st, err)
        _stored_summary(st, record.summary)
        return
    names = [str(s) for s in ds.scenario.values]
    index = names.index(st.selectbox("Scenario", names, key="fs_open_scenario")) if len(names) > 1 else 0
    try:
        system, scenarios = run_store.load_inputs(record.run_id)
        scenario = scenarios[index]
    except FiresaleError:
        system, scenario = None, None
    _results(st, ds, summarize(ds, index), f"run {record.run_id}", index=index, system=system, scenario=scenario,
             key="stored")


def _stored_summary(st: Any, summary: dict[str, Any]) -> None:
    """What a record keeps without its Dataset: its headline numbers (a run's, or a
    comparison's side by side)."""
    st.info("Without its results Dataset the run's figures cannot be drawn; the headline numbers below are the "
            "ones recorded with it.")
    try:
        if "total_loss" in summary:
            figures = logic.headline(summary)
            for start in range(0, len(figures), 4):
                for col, (label, value) in zip(st.columns(4), figures[start:start + 4]):
                    col.metric(label, value)
        elif isinstance(summary.get("baseline"), dict) and isinstance(summary.get("policies"), dict):
            _table(st, logic.comparison_table(summary), static=True)
        else:
            st.json(summary, expanded=False)
    except (KeyError, TypeError, ValueError):  # a summary of an older or other shape: as recorded
        st.json(summary, expanded=False)
