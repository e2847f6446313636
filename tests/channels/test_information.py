"""The information channel: Glosten-Milgrom spreads, quote withdrawal, opaque marks, and
the three mechanisms switched independently on one batch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firesale import DataError, System, load_preset, mechanism_lattice, simulate
from firesale.channels import MECHANISMS
from firesale.channels.dealers import Positions
from firesale.channels.information import adverse_selection, glosten_milgrom_spread, information_update
from firesale.errors import ConfigError
from firesale.scenario import Scenario
from firesale.testing import assert_batch_equals_single, assert_invariants

PARAMS = {"elasticity": 0.5, "cap": 8.0, "rfq_spread": 2.0, "rfq_depth": 0.5, "depth_elasticity": 0.5,
          "fear_freeze": 0.5}


def _glosten_milgrom_by_bayes(mu: float, sigma: float) -> float:
    """Ask - bid from the dealer's posterior (Glosten-Milgrom 1985, section 2): the asset is
    worth 1 + sigma or 1 - sigma with equal chance; informed traders (share mu) buy when
    it is high, uninformed ones buy or sell with equal chance."""
    high, low = 1.0 + sigma, 1.0 - sigma
    buy_if_high, buy_if_low = mu + (1 - mu) / 2, (1 - mu) / 2
    ask = (buy_if_high * high + buy_if_low * low) / (buy_if_high + buy_if_low)
    bid = ((1 - buy_if_high) * high + (1 - buy_if_low) * low) / ((1 - buy_if_high) + (1 - buy_if_low))
    return ask - bid


@pytest.mark.parametrize("mu,sigma", [(0.02, 0.004), (0.1, 0.01), (0.5, 0.03), (0.9, 0.2)])
def test_spread_is_the_glosten_milgrom_posterior_spread(mu, sigma):
    assert float(glosten_milgrom_spread(mu, sigma)) == pytest.approx(_glosten_milgrom_by_bayes(mu, sigma), rel=1e-12)


def test_ten_year_treasury_spread_at_t0_is_half_a_32nd():
    # mu0 0.02, sigma0 0.4%: 1.6 bp of par, the 0.5/32 of Fleming & Ruela (2020)
    assert float(glosten_milgrom_spread(0.02, 0.004)) * 100 * 32 == pytest.approx(0.512, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    mu0=st.floats(0.0, 0.6), sigma0=st.floats(0.001, 0.05), dealers=st.integers(1, 5), seed=st.integers(0, 10_000),
    elasticity=st.floats(0.0, 3.0), rises=st.lists(st.floats(0.0, 2.0), min_size=2, max_size=8),
)
def test_spreads_rise_and_quotes_fall_with_volatility(mu0, sigma0, dealers, seed, elasticity, rises):
    rng = np.random.default_rng(seed)
    vol = sigma0 * np.cumprod(1.0 + np.asarray(rises))  # a rising volatility path, one scenario each
    s = vol.size
    cost = np.where(rng.random(dealers) < 0.2, np.inf, rng.uniform(0, 2, dealers))
    calm = rng.uniform(0, 1, dealers)
    positions = Positions(dealer=np.arange(dealers), asset=np.zeros(dealers, dtype=int),
                          share=rng.dirichlet(np.ones(dealers)), n_dealers=dealers, n_assets=1)
    params = {k: np.full(s, v) for k, v in PARAMS.items()}
    params["elasticity"] = np.full(s, elasticity)
    info = information_update(vol[:, None], np.array([sigma0]), np.array([mu0]), np.tile(cost, (s, 1)),
                              np.tile(calm, (s, 1)), positions, np.ones((s, dealers)), np.full(s, 0.5), params,
                              np.ones(s, dtype=bool))
    spread, phi = info.spread[:, 0], info.quoting_share[:, 0]
    assert (np.diff(spread) >= -1e-15 * spread[1:]).all()
    assert (np.diff(phi) <= 1e-12).all()
    assert ((phi >= 0) & (phi <= 1)).all()
    assert (info.depth_scale[:, 0] <= 1.0 + 1e-12).all()
    mu = adverse_selection(mu0, vol / sigma0, elasticity)
    assert ((mu >= 0) & (mu < 1)).all()


def _with_opacity(system: System, opacity: float | None) -> System:
    assets = [a.model_copy(update={"opacity": opacity}) for a in system.assets]
    return System(system.name, system.institutions, assets, system.holdings, system.trading_fraction,
                  system.correlation, currency=system.currency, repo=system.repo, derivative=system.derivative,
                  initial_margin=system.initial_margin, market_share=system.market_share)


def test_opaque_marks_write_books_down_further_than_transparent_ones():
    preset = load_preset("dealer_market")
    peak = {}
    for label, opacity in (("opaque", None), ("transparent", 0.0)):
        ds = simulate(_with_opacity(preset.system, opacity), preset.scenario, detail=True)
        assert_invariants(ds)
        # capital lost (redemption payouts are not a loss), at its worst round
        written_down = (ds.initial_equity - ds.equity - ds.capital_out).sum("institution").isel(scenario=0)
        peak[label] = float(written_down.max())
        if opacity == 0.0:
            assert float(abs(ds.mark - ds.price).max()) == 0.0
        else:
            assert float((ds.price - ds.mark).max()) > 0.0
    assert peak["opaque"] > 1.1 * peak["transparent"]  # measured 17.0 against 14.3


def test_the_three_mechanisms_switch_independently_in_one_batch():
    preset = load_preset("dealer_market")
    base = preset.scenario.updated(shocks=[{"asset": "corp_hy", "price": -0.03},
                                           {"institution": "AM", "redemption": 0.1}])
    lattice = mechanism_lattice(base)
    assert len(lattice) == 8 and len({s.name for s in lattice}) == 8
    ds = simulate(preset.system, lattice)
    path = (ds.initial_equity - ds.equity - ds.capital_out).sum("institution")
    loss, peak = path.isel(round=-1), path.max("round")
    none = lattice.index(next(s for s in lattice if s.name == "none"))
    # all three off: the redemption wave is a shock and still comes (10% of AM's NAV in
    # round 0); no other sale is forced
    off = ds.isel(scenario=none)
    assert float(off.sold.drop_sel(institution="AM").sum()) == 0.0
    assert float(off.redeemed.sel(institution="AM").sum()) == pytest.approx(
        0.1 * float(off.marked_equity.sel(institution="AM").isel(round=0)), rel=1e-3)  # NAV as marked
    # each mechanism alone deepens the loss at its worst
    for mechanism in MECHANISMS:
        alone = [s.name for s in lattice].index(mechanism)
        assert float(peak[alone]) > float(peak[none]) + 1e-3, mechanism
    assert_batch_equals_single(preset.system, lattice)


@pytest.mark.parametrize("field,value,needle", [
    ("adverse_selection", 1.0, "adverse_selection"),
    ("adverse_selection", -0.1, "adverse_selection"),
    ("spread", -0.001, "spread"),
    ("spread", 0.02, "implies an adverse-selection share"),  # 0.02 / (2 x 0.005) = 2 >= 1
    ("depth", -5.0, "depth"),
    ("opacity", 1.5, "opacity"),
])
def test_bad_information_inputs_name_table_row_and_field(field, value, needle):
    asset = {"name": "ust", "class": "treasury", "sigma0": 0.005, field: value}
    with pytest.raises(DataError) as info:
        System.from_records([{"name": "d", "cash": 10.0, "liabilities": 100.0}], [asset],
                            [{"institution": "d", "asset": "ust", "quantity": 100.0}], sources={"assets": "assets.csv"})
    text = str(info.value)
    assert "assets.csv row 1" in text and needle in text and "Traceback" not in text


def test_market_shares_that_do_not_sum_to_one_are_refused():
    institutions = [{"name": "d1", "cash": 10.0, "liabilities": 100.0}, {"name": "d2", "cash": 10.0, "liabilities": 100.0},
                    {"name": "fund", "type": "asset_manager", "cash": 10.0, "liabilities": 0.0}]
    assets = [{"name": "ust", "class": "treasury", "sigma0": 0.005}]
    holdings = [{"institution": n, "asset": "ust", "quantity": 100.0} for n in ("d1", "d2", "fund")]
    shares = [{"institution": "d1", "asset": "ust", "share": 0.6}, {"institution": "d2", "asset": "ust", "share": 0.3}]
    with pytest.raises(DataError) as info:
        System.from_records(institutions, assets, holdings, market_shares=shares,
                            sources={"market_shares": "market_shares.csv"})
    assert "market_shares.csv row 1, field share" in str(info.value) and "sum to 0.9" in str(info.value)
    with pytest.raises(DataError) as info:
        System.from_records(institutions, assets, holdings,
                            market_shares=[{"institution": "fund", "asset": "ust", "share": 1.0}])
    assert "'fund' is not a dealer" in str(info.value)
    with pytest.raises(DataError) as info:
        System.from_records(institutions, assets, holdings,
                            market_shares=[{"institution": "d1", "asset": "ust", "share": -0.5},
                                           {"institution": "d2", "asset": "ust", "share": float("nan")}])
    assert "row 1, field share" in str(info.value) and "row 2, field share" in str(info.value)
    ok = System.from_records(institutions, assets, holdings,
                             market_shares=[{"institution": "d1", "asset": "ust", "share": 0.25},
                                            {"institution": "d2", "asset": "ust", "share": 0.75}])
    np.testing.assert_allclose(ok.market_share[:, 0], [0.25, 0.75, 0.0])


@pytest.mark.parametrize("path,value", [("information.quote_spread_cap", 0.5), ("information.rfq_depth", 0.0),
                                        ("market.layoff_share", 1.5), ("information.fear_freeze", 0.0)])
def test_bad_information_parameters_are_refused(path, value):
    with pytest.raises(ConfigError) as info:
        Scenario().updated(**{path: value})
    assert path.split(".")[-1] in str(info.value)
