"""`compare` says when each policy lever acts."""

from firesale import load_preset
from firesale.analytics.compare import compare


def test_compare_reports_each_levers_rounds_as_the_bundle_sets_them():
    preset = load_preset("march_2020")
    out = compare(preset, ["fed_response"])
    timing = out["policies"]["fed_response"]["timing"]
    overrides = preset.policies["fed_response"]["overrides"]
    assert timing["purchases"]["start"] == overrides["policy.timing.purchases.start"]
    assert timing["slr_exemption"]["start"] == overrides["policy.timing.slr_exemption.start"]
    assert timing["purchases"]["end"] is None and out["baseline"]["timing"] == {}
