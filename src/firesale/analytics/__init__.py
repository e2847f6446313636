"""Analytics on a results Dataset: amplification and the cascade."""

from firesale.analytics.amplification import cascade_order, institution_table, summarize

__all__ = ["summarize", "cascade_order", "institution_table"]
