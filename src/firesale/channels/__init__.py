"""Channels: one module per mechanism step, pure numpy functions of batched arrays.

Arrays carry a leading scenario axis: ``(S, N, K)`` = scenario, institution, asset.
No channel opens a file, prints, or keeps module state.
"""

#: Channels of each mechanism; together, the order of the results' ``channel`` axis.
BALANCE_SHEET_CHANNELS = ("slr", "var", "leverage", "default")
FUNDING_CHANNELS = ("margin", "rollover", "unsecured", "redemption")
CHANNELS = BALANCE_SHEET_CHANNELS + FUNDING_CHANNELS

__all__ = ["CHANNELS", "BALANCE_SHEET_CHANNELS", "FUNDING_CHANNELS"]
