"""The compiled funding calls (:mod:`firesale.engine.compiled_funding_calls`) against the
numpy phase, the oracle (:func:`firesale.engine.funding_calls.funding_calls`): at every call
of the phase, both run on the reference's own arguments and every output array must agree
to 1e-12 of its magnitude."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings

from firesale import load_preset
from firesale.testing import assert_phase_agrees
from firesale.testing.strategies import system_and_scenarios

SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _variants(system, scenario):
    """The scenario with funding channels switched off, and with a repo facility on the first
    asset (at a minimum bid rate below a repo-rate shock) and swing pricing for part of the run."""
    asset = system.assets[0].name
    shocks = [*scenario.model_dump()["shocks"], {"asset": asset, "repo_rate": 0.04, "round": 0}]
    return [
        scenario.updated(**{"channels.margin": False, "channels.redemption": False}),
        scenario.updated(**{"channels.rollover": False, "channels.unsecured": False}),
        scenario.updated(**{"shocks": shocks, "policy.repo_facility": {"assets": [asset], "haircut": 0.01,
                                                                        "min_rate": 0.02},
                            "policy.timing.repo_facility": {"start": 1}, "policy.swing_pricing": True,
                            "policy.timing.swing_pricing": {"start": 0, "end": 2}}),
    ]


@settings(max_examples=10, **SLOW)
@given(system_and_scenarios(count=1, max_institutions=9, max_assets=7))
def test_funding_calls_switches_and_facility(case):
    # each scenario of a mixed batch takes its own branch: channels off, a facility rolling
    # eligible repo at its minimum bid rate, swing pricing in a window, next to the base
    system, (scenario,) = case
    assert assert_phase_agrees(system, [scenario, *_variants(system, scenario)], "funding_calls") > 0


@settings(max_examples=10, **SLOW)
@given(system_and_scenarios(count=2, max_institutions=9, max_assets=7))
def test_funding_calls_recall_of_repo_lending(case):
    # a redemption wave the money-market fund's cash cannot meet: it recalls repo lending,
    # and its borrowers lose that share of their repo; the other scenario recalls what it needs
    system, (scenario, other) = case
    assume(any(institution.name == "mmf" for institution in system.institutions))
    waves = [{"institution": "mmf", "redemption": 0.3, "round": t} for t in (0, 1)]
    hit = scenario.updated(shocks=[*scenario.model_dump()["shocks"], *waves], max_rounds=max(scenario.max_rounds, 3))
    assert assert_phase_agrees(system, [hit, other], "funding_calls") > 0


def test_funding_calls_mixed_batch_on_a_preset():
    loaded = load_preset("march_2020")
    assert assert_phase_agrees(loaded.system, [loaded.scenario, *_variants(loaded.system, loaded.scenario)],
                               "funding_calls") > 0


def test_funding_calls_without_funding_and_from_a_wave_alone():
    # a system without repo, short-term debt, funds or derivatives: the calls are nothing;
    # a redemption wave on it gives funding to call all the same
    loaded = load_preset("inet_eba2018")
    institution = loaded.system.institutions[0].name
    shocks = [*loaded.scenario.model_dump()["shocks"], {"institution": institution, "redemption": 0.1, "round": 1}]
    assert assert_phase_agrees(loaded.system, [loaded.scenario], "funding_calls") > 0
    assert assert_phase_agrees(loaded.system, [loaded.scenario.updated(shocks=shocks)], "funding_calls") > 0
