"""Shipped checks for results, channels and models (the scikit-learn ``check_estimator`` way).

Import the hypothesis strategies from :mod:`firesale.testing.strategies` (hypothesis is
only needed there).
"""

from firesale.testing.invariants import (
    CHECKS,
    assert_balance_sheet_identity,
    assert_batch_equals_single,
    assert_cash_conserved,
    assert_channels_off_is_revaluation,
    assert_deterministic,
    assert_invariants,
    assert_no_negative_holdings,
    assert_supply_conserved,
    assert_zero_shock_no_sales,
    check_channel,
    parametrize_with_checks,
)

__all__ = [
    "CHECKS",
    "assert_invariants",
    "assert_balance_sheet_identity",
    "assert_supply_conserved",
    "assert_cash_conserved",
    "assert_no_negative_holdings",
    "assert_batch_equals_single",
    "assert_deterministic",
    "assert_zero_shock_no_sales",
    "assert_channels_off_is_revaluation",
    "check_channel",
    "parametrize_with_checks",
]
