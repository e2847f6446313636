"""`firesale attribute march_2020`: the exogenous waves are part of the shock, in every
coalition, never credited to a channel."""

import numpy as np

from firesale import load_preset, simulate
from firesale.scenario import mechanism_lattice


def test_every_channel_off_keeps_the_waves_and_their_price_effect():
    preset = load_preset("march_2020")
    lattice = mechanism_lattice(preset.scenario)
    none = next(s for s in lattice if s.name == "none")
    ds = simulate(preset.system, none)
    official = preset.system.institution_index("FO_official")
    # the foreign official wave, 0.3% of NAV a day for 13 days, still sells with every
    # channel off: its NAV falls as it sells, so it sells a little under 13 x 0.3% x 3,300
    sold = float(ds.sold.isel(scenario=0, institution=official).sum())
    assert 0.95 * 13 * 0.003 * 3300 < sold <= 13 * 0.003 * 3300
    # and the waves move the 10-year below its fundamental: the price effect stays in the baseline
    gap = (ds.fundamental - ds.price).sel(asset="ust_10y").isel(scenario=0).values
    assert np.max(gap) > 0.01
