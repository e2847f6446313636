"""The HTML report: one self-contained file (plotly.js inline, works offline) with the
summary, price paths, the equity waterfall by round, the cascade timeline, the
attribution, the regime table and the configuration of a run.

plotly is imported only when a report is built (through
:func:`firesale.analytics.figures.plotly_graph_objects`), never by ``import firesale``.
"""

from firesale.report.html import (
    REPORT_SECTIONS,
    REPORT_STEPS,
    attribution_figure,
    build_report,
    cascade_figure,
    check_report_path,
    equity_waterfall,
    price_figure,
    waterfall_figure,
    write_report,
)

__all__ = ["REPORT_SECTIONS", "REPORT_STEPS", "attribution_figure", "build_report", "cascade_figure",
           "check_report_path", "equity_waterfall", "price_figure", "waterfall_figure", "write_report"]
