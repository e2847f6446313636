"""The compiled information phase (:mod:`firesale.engine.compiled_information`) against the
numpy phase, the oracle (:func:`firesale.engine.information.information`): at every call of
the phase, both run on the reference's own arguments and every output array must agree to
1e-12 of its magnitude."""

from __future__ import annotations

from firesale import load_preset
from firesale.testing import assert_phase_agrees


def test_information_without_dealers():
    # the channel on in a system without dealers: no quoting to withdraw, no counterparty fear
    loaded = load_preset("inet_eba2018")
    scenario = loaded.scenario.updated(**{"channels.information": True, "volatility.anchor": 0.1})
    assert assert_phase_agrees(loaded.system, [scenario], "information") > 0


def test_information_mixed_batch():
    # the channel on in some scenarios only, and the batch-wide shortcuts (anchor, volatility
    # cap, spread cap) set in some scenarios only: each scenario must take the reference's branch
    loaded = load_preset("march_2020")
    base = loaded.scenario
    scenarios = [
        base,
        base.updated(**{"channels.information": False}),
        base.updated(**{"volatility.anchor": 0.0, "volatility.cap": float("inf"), "information.spread_cap": 1.5,
                        "information.depth_floor": 0.0, "information.adverse_selection_elasticity": 0.0}),
    ]
    assert assert_phase_agrees(loaded.system, scenarios, "information") > 0
