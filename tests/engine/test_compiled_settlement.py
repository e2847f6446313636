"""The compiled settlement phase (:mod:`firesale.engine.compiled_settlement`) against the
numpy phase, the oracle: at every round of a run, both settle the same arguments and every
field of :class:`~firesale.engine.settlement.Settled` must agree to 1e-12 of its magnitude.

Random systems reach dealers' purchases (and no dealers), final settlement, held proceeds,
derivatives and closed hedges, money-market funds' repo lending, liabilities not repaid
early, defaulters and rounds without acting rows; the presets add systems without funding
(``dealer_prime``, ``var_desk``) and without dealers, funding or derivatives
(``inet_eba2018``), and one batch mixes final and per-round settlement and held proceeds.
"""

from __future__ import annotations

from firesale import load_preset
from firesale.testing import assert_phase_agrees


def test_compiled_settlement_in_a_batch_mixing_final_settlement_and_held_proceeds():
    loaded = load_preset("march_2020")
    scenario = loaded.scenario
    scenarios = [scenario, scenario.updated(**{"market.settlement": "final"}),
                 scenario.updated(**{"market.proceeds": "hold"})]
    assert assert_phase_agrees(loaded.system, scenarios, "settlement") > 0
