"""Run scenarios on a system: the readable entry point over the batched engine.

A call costs little besides the rounds themselves: the system's engine arrays
(:class:`~firesale.engine.state.Inputs`) and the coordinates of its results are built on
the first call with a System object and reused while it lives (see
:func:`firesale.results._per_system`).
"""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

from firesale.engine.simulate import simulate_arrays
from firesale.engine.state import Inputs, ScenarioArrays
from firesale.errors import ModelDivergenceError, Problem
from firesale.results import RESULT_VARIABLES, _per_system, to_dataset
from firesale.scenario import Scenario
from firesale.system import System

__all__ = ["simulate", "load_compiled_kernels", "DETAIL_LIMIT"]

#: Above this many (scenario x institution x asset) cells, per-round (S, N, K) records
#: are left out unless asked for.
DETAIL_LIMIT = 2_000_000


#: Systems with up to this many assets get their loop gain measured where a user reads
#: it (``firesale run``, ``regimes``, the report, the dashboard): K + 1 steps a round.
LOOP_GAIN_MAX_ASSETS = 64


def measures_loop_gain(system: System) -> bool:
    """Whether the loop gain of a run on ``system`` is measured by default (small K)."""
    return system.n_assets <= LOOP_GAIN_MAX_ASSETS


def simulate(
    system: System, scenarios: Scenario | Sequence[Scenario] | None = None, *, detail: bool | None = None,
    variables: Sequence[str] | None = None, loop_gain: bool = False, kernels: str = "numpy",
    threads: int | None = None,
) -> xr.Dataset:
    """Simulate one scenario or a batch of scenarios on one system.

    Parameters
    ----------
    system : System
    scenarios : Scenario or sequence of Scenario
        Run together as one batch on the scenario axis. Default: no shock.
    detail : bool, optional
        Keep per-round holdings, sales by asset and binding channel (dims scenario,
        round, institution, asset). Default: only when the batch is small.
    variables : sequence of str, optional
        Per-round variables to keep (names of :data:`firesale.results.RESULT_VARIABLES`
        with a ``round`` dimension); default all. Large sweeps keep the few their
        summaries need.
    loop_gain : bool
        Also measure each round's loop gain, the spectral radius of the sale → price →
        sale response (``loop_gain``, ``market_loop_gain``; see
        :func:`firesale.engine.simulate.loop_gain_round`). Costs K + 1 steps a round.
    kernels : {"numpy", "numba"}
        What runs the passes over positions: the numpy reference, or the same kernels
        compiled with numba (``pip install "firesale[fast]"``; compiled on first use and
        cached on disk). Both give the same results to rounding (1e-12); each gives a
        scenario the same bits in any batch. Recorded in the Dataset's ``kernels`` attr.
    threads : int, optional
        Threads that run chunks of a large batch side by side (the compiled kernels
        release the GIL): by default one a core for ``"numba"`` (``NUMBA_NUM_THREADS``
        sets it) and one for ``"numpy"``. Results do not depend on it.

    Returns
    -------
    xarray.Dataset
        See :data:`firesale.results.RESULT_VARIABLES`.

    Examples
    --------
    >>> from firesale import load_preset, simulate
    >>> preset = load_preset("dealer_prime")
    >>> ds = simulate(preset.system, preset.scenario)
    >>> round(float(ds.sold.sum()), 9)
    114.0
    """
    if scenarios is None:
        scenarios = [Scenario()]
    elif isinstance(scenarios, Scenario):
        scenarios = [scenarios]
    scenarios = list(scenarios)
    if not scenarios:
        from firesale.errors import ConfigError

        raise ConfigError("no scenario to run: pass at least one Scenario", code="FS202")
    if detail is None:
        detail = len(scenarios) * system.n_institutions * system.n_assets <= DETAIL_LIMIT
    if variables is not None:
        per_round = [name for name, (dims, *_) in RESULT_VARIABLES.items() if "round" in dims]
        unknown = [name for name in variables if name not in per_round]
        if unknown:
            from firesale.errors import ConfigError, Problem, did_you_mean

            raise ConfigError(Problem("FS204", f"variables {unknown[0]!r}",
                                      f"not a per-round result variable.{did_you_mean(unknown[0], per_round)} "
                                      f"Choose from: {', '.join(per_round)}"))
    inputs = system_inputs(system)
    arrays = ScenarioArrays.from_scenarios(system, scenarios)
    try:
        trajectory = simulate_arrays(inputs, arrays, detail=detail, variables=variables, loop_gain=loop_gain,
                                     kernels=kernels, threads=threads)
    except ModelDivergenceError as err:
        raise _named(err, system, scenarios) from None
    return to_dataset(system, scenarios, trajectory)


def load_compiled_kernels(system: System, scenario: Scenario) -> None:
    """:func:`firesale.engine.compiled.load_kernels` on a system and a scenario: compile
    the numba kernels, or load them from numba's cache, before a run needs them."""
    from firesale.engine.compiled import load_kernels

    load_kernels(system_inputs(system), ScenarioArrays.from_scenarios(system, [scenario]))


@_per_system
def system_inputs(system: System) -> Inputs:
    """:meth:`Inputs.from_system`, built once per System object and shared by every run on
    it (its arrays are read-only, as every Inputs' are)."""
    return Inputs.from_system(system)


def _named(err: ModelDivergenceError, system: System, scenarios: Sequence[Scenario]) -> ModelDivergenceError:
    """The engine's error with the scenario, institution and asset named, not numbered."""
    at = getattr(err, "location", None)
    if at is None:
        return err
    where = f"scenario {scenarios[at['scenario']].name!r} (#{at['scenario']}), round {at['round']}"
    if at["institution"] is not None:
        where += f", institution {system.institution_names[at['institution']]!r}"
    if at["asset"] is not None:
        where += f", asset {system.asset_names[at['asset']]!r}"
    problem = err.problems[0]
    named = ModelDivergenceError(Problem(problem.code, where, problem.message))
    named.location = at
    return named
