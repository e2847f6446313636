"""``firesale reverse PRESET --target defaults>=1 --json`` on every preset: the shock it
returns meets the target, 0.98 times that shock does not, both checked by running the
shocks here with :func:`firesale.simulate` (not through the reverse module's own runs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from firesale import list_presets, load_preset, simulate
from firesale.cli import app


def _defaults(system, scenario) -> int:
    return int(simulate(system, scenario).defaulted.isel(scenario=0, round=-1).sum())


@pytest.fixture(scope="module", params=sorted(list_presets()))
def reverse_json(request) -> tuple[str, dict]:
    result = CliRunner().invoke(app, ["reverse", request.param, "--target", "defaults>=1", "--json"])
    assert result.exit_code == 0, result.output
    return request.param, json.loads(result.stdout)


def test_the_shock_meets_the_target_and_098_of_it_does_not(reverse_json):
    name, report = reverse_json
    preset = load_preset(name)
    calm = preset.scenario.updated(shocks=[])
    assert report["found"]
    if report["met_without_shock"]:
        # the calm system defaults by itself: no shock is needed, and none is returned
        assert _defaults(preset.system, calm) >= 1
        assert report.get("shocks") is None
        return
    shocks = report["shocks"]
    assert shocks and all(-1 < s.get("price", 0.0) for s in shocks)
    assert _defaults(preset.system, calm.updated(shocks=shocks)) >= 1
    smaller = [{**s, "price": 0.98 * s["price"]} for s in shocks]
    assert _defaults(preset.system, calm.updated(shocks=smaller)) == 0
    assert report["meets_target"] and not report["at_098"]["meets_target"]


def test_distance_and_probability_are_those_of_the_shock(reverse_json):
    """The distance recomputed from the printed shock, sigma0 and the correlations; the
    probability from the chi-square tail."""
    from scipy.stats import chi2

    name, report = reverse_json
    if report["met_without_shock"]:
        assert report.get("distance") is None
        return
    system = load_preset(name).system
    sigma = np.array([a.sigma0 for a in system.assets])
    risky = np.flatnonzero(sigma > 0)
    cov = np.outer(sigma, sigma)[np.ix_(risky, risky)] * np.asarray(system.correlation)[np.ix_(risky, risky)]
    x = np.zeros(len(system.assets))
    for s in report["shocks"]:
        x[[a.name for a in system.assets].index(s["asset"])] = s["price"]
    x = x[risky]
    assert np.sqrt(x @ np.linalg.pinv(cov) @ x) == pytest.approx(report["distance"], rel=1e-6)
    assert report["probability"] == pytest.approx(chi2.sf(report["distance"] ** 2, report["rank"]), rel=1e-9)
    shares = [row["share_of_distance"] for row in report["shock"]]
    assert sum(shares) == pytest.approx(1.0, abs=1e-6)


def test_policies_and_mechanisms_are_reported(reverse_json):
    name, report = reverse_json
    if report["met_without_shock"]:
        return
    mech = report["mechanisms"]
    assert set(mech["players"]) == {"balance_sheet", "funding", "information"}
    assert sum(mech["shapley"].values()) == pytest.approx(mech["amplification_loss"], rel=1e-9, abs=1e-9)
    for row in report["policies"].values():
        # a policy that stops the shock from meeting the target needs a more severe one
        if not row["meets_at_shock"] and row["severity_multiple"] is not None:
            assert row["severity_multiple"] > 1.0
        if row["meets_at_shock"] and row["severity_multiple"] is not None:
            assert row["severity_multiple"] <= 1.0 + 1e-6
