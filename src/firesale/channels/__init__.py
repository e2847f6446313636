"""Channels: one module per mechanism step, pure numpy functions of batched arrays.

Arrays carry a leading scenario axis: ``(S, N, K)`` = scenario, institution, asset.
No channel opens a file, prints, or keeps module state.
"""

#: Channels of each mechanism; together, the order of the results' ``channel`` axis.
BALANCE_SHEET_CHANNELS = ("slr", "var", "leverage", "default")
FUNDING_CHANNELS = ("margin", "rollover", "unsecured", "redemption")
CHANNELS = BALANCE_SHEET_CHANNELS + FUNDING_CHANNELS
#: The three mechanisms and the switches of each (information sells nothing itself: it
#: marks books down, widens spreads and thins markets, and the other channels sell).
MECHANISMS = {"balance_sheet": BALANCE_SHEET_CHANNELS, "funding": FUNDING_CHANNELS, "information": ("information",)}
#: Every switch of ``scenario.channels``.
SWITCHES = CHANNELS + ("information",)

__all__ = ["CHANNELS", "BALANCE_SHEET_CHANNELS", "FUNDING_CHANNELS", "MECHANISMS", "SWITCHES"]
