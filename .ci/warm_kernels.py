"""Compile firesale's numba kernels into ``NUMBA_CACHE_DIR`` ahead of the tests.

``make test`` runs this in the background, on the core the test session (one process)
leaves idle, while the first test directories run: a cold cache (a fresh clone, or any
change under ``src/``) then costs the suite little of the compile time, since the engine's
compiled tests find the kernels cached. It compiles what those tests compile: the
round as one call on every preset with its policies, and each compiled phase on the
numpy phases' own arguments. Safe to run beside the tests: numba writes each cache entry
whole, so a kernel both compile is simply compiled twice.
"""

from __future__ import annotations

import numpy as np

from firesale import list_presets, load_preset, simulate
from firesale.testing import assert_phase_agrees

PHASES = ("shocks", "calm_dealer_cost", "marking", "constraints", "funding_calls", "allocation", "intermediation",
          "clearing", "settlement", "information", "round_records")


def main() -> None:
    for name in list_presets():
        loaded = load_preset(name if isinstance(name, str) else name.name)
        scenarios = [loaded.scenario, *(loaded.scenario.updated(**policy["overrides"])
                                        for policy in loaded.policies.values())]
        with np.errstate(all="ignore"):
            simulate(loaded.system, scenarios, kernels="numba")
            for phase in PHASES:
                assert_phase_agrees(loaded.system, scenarios, phase, kernels="numba")


if __name__ == "__main__":
    main()
