"""Eisenberg & Noe (2001), "Systemic risk in financial systems": the clearing vector.

DESIGN §3 check: liabilities [[0,4,0],[0,0,3],[2,0,0]], external assets [20, 20, 10],
external liabilities [17, 18, 8]. Senior external debt: no shock → interbank payments
[4, 3, 2], equity [1, 3, 3]; external assets −10% → payments [3, 3, 2], recovery
[0.75, 1, 1], equity [0, 0, 2]. Pari passu, the same shock → payments [80/21, 3, 2],
equity [0, 17/21, 2].
"""

import numpy as np
import pytest

from firesale.errors import ConfigError
from firesale.models.eisenberg_noe import clearing_vector

LIABILITIES = np.array([[0.0, 4.0, 0.0], [0.0, 0.0, 3.0], [2.0, 0.0, 0.0]])
ASSETS = np.array([20.0, 20.0, 10.0])
EXTERNAL = np.array([17.0, 18.0, 8.0])


def test_senior_no_shock():
    r = clearing_vector(LIABILITIES, ASSETS, EXTERNAL, "senior")
    np.testing.assert_allclose(r.interbank_payments, [4, 3, 2], atol=1e-12)
    np.testing.assert_allclose(r.equity, [1, 3, 3], atol=1e-12)
    np.testing.assert_allclose(r.recovery, [1, 1, 1], atol=1e-12)
    assert not r.defaulted.any()


def test_senior_ten_percent_shock():
    r = clearing_vector(LIABILITIES, 0.9 * ASSETS, EXTERNAL, "senior")
    np.testing.assert_allclose(r.interbank_payments, [3, 3, 2], atol=1e-12)
    np.testing.assert_allclose(r.recovery, [0.75, 1, 1], atol=1e-12)
    np.testing.assert_allclose(r.equity, [0, 0, 2], atol=1e-12)
    np.testing.assert_allclose(r.external_payments, EXTERNAL, atol=1e-12)  # senior: paid in full
    assert r.defaulted.tolist() == [True, False, False]
    assert r.rounds <= 3


def test_pari_passu_ten_percent_shock():
    r = clearing_vector(LIABILITIES, 0.9 * ASSETS, EXTERNAL, "pari_passu")
    np.testing.assert_allclose(r.interbank_payments, [80 / 21, 3, 2], atol=1e-12)
    np.testing.assert_allclose(r.equity, [0, 17 / 21, 2], atol=1e-12)
    np.testing.assert_allclose(r.recovery, [20 / 21, 1, 1], atol=1e-12)
    np.testing.assert_allclose(r.external_payments, [17 * 20 / 21, 18, 8], atol=1e-12)
    assert round(float(r.interbank_payments[0]), 4) == 3.8095 and round(float(r.equity[1]), 4) == 0.8095


def test_payments_are_conserved():
    for seniority in ("senior", "pari_passu"):
        r = clearing_vector(LIABILITIES, 0.9 * ASSETS, EXTERNAL, seniority)
        assert abs(r.received.sum() - r.interbank_payments.sum()) < 1e-12
        np.testing.assert_allclose(r.payment_matrix.sum(axis=1), r.interbank_payments, atol=1e-12)


def test_senior_external_debt_above_external_assets_floors_interbank_payments_at_zero():
    # bank 0 holds 10 against 17 of senior external debt: it pays banks nothing
    r = clearing_vector(LIABILITIES, [10.0, 18.0, 9.0], EXTERNAL, "senior")
    np.testing.assert_allclose(r.interbank_payments, [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(r.external_payments, [11, 18, 8], atol=1e-12)
    np.testing.assert_allclose(r.equity, [0, 0, 0], atol=1e-12)


def _iterated(liabilities, assets, external, seniority, steps=100_000):
    """Slow reference: the Picard iteration of EN's map from full payment (monotone, converges)."""
    owed = liabilities.sum(axis=1)
    obligations, cash = (owed, assets - external) if seniority == "senior" else (owed + external, assets)
    pi = np.divide(liabilities, obligations[:, None], out=np.zeros_like(liabilities), where=obligations[:, None] > 0)
    p = obligations.copy()
    for _ in range(steps):
        new = np.minimum(obligations, np.maximum(0.0, cash + pi.T @ p))
        if np.abs(new - p).max() < 1e-14:
            break
        p = new
    return p * np.divide(owed, obligations, out=np.ones_like(owed), where=obligations > 0)


@pytest.mark.parametrize("seniority", ["senior", "pari_passu"])
def test_random_networks_are_fixed_points_and_match_the_iteration(seniority):
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(2, 9))
        lia = rng.random((n, n)) * (rng.random((n, n)) < 0.5) * 10
        np.fill_diagonal(lia, 0.0)
        assets, external = rng.random(n) * 10, rng.random(n) * 10
        r = clearing_vector(lia, assets, external, seniority)
        np.testing.assert_allclose(r.interbank_payments, _iterated(lia, assets, external, seniority), atol=1e-8)
        owed = lia.sum(axis=1)
        assert (r.interbank_payments <= owed + 1e-12).all() and (r.interbank_payments >= 0).all()
        assert abs(r.received.sum() - r.interbank_payments.sum()) < 1e-9
        assert r.rounds <= n
        # balance sheet: what a bank has = what it pays + what is left
        np.testing.assert_allclose(assets + r.received, r.interbank_payments + r.external_payments + r.equity,
                                   atol=1e-9)


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        ((np.ones((2, 3)), [1, 1], [1, 1]), "liabilities"),
        ((-LIABILITIES, ASSETS, EXTERNAL), "liabilities"),
        ((LIABILITIES + np.eye(3), ASSETS, EXTERNAL), "diagonal"),
        ((LIABILITIES, ASSETS[:2], EXTERNAL), "external_assets"),
        ((LIABILITIES, ASSETS, EXTERNAL[:2]), "external_liabilities"),
        ((LIABILITIES, -ASSETS, EXTERNAL), "external_assets"),
    ],
)
def test_bad_input_names_the_argument(args, argument):
    with pytest.raises(ConfigError, match=argument) as info:
        clearing_vector(*args)
    assert "FS803" in str(info.value)


def test_unknown_seniority_suggests_the_spelling():
    with pytest.raises(ConfigError, match="pari_passu"):
        clearing_vector(LIABILITIES, ASSETS, EXTERNAL, "pari-passu")


def test_a_set_that_owes_only_itself_is_named():
    """Senior external debt: bank 3's external creditor takes bank 0's only external asset,
    and all four banks' interbank debt circulates among them with no net external value, so
    I - M is singular (Eisenberg-Noe regularity fails): the error names the four banks."""
    liabilities = [[0, 2, 0, 3], [2, 0, 3, 0], [1, 3, 0, 0], [0, 0, 3, 0]]
    with pytest.raises(ConfigError, match=r"banks \[0, 1, 2, 3\] default") as info:
        clearing_vector(liabilities, [1, 0, 0, 0], [0, 0, 0, 1])
    assert "FS803" in str(info.value)
