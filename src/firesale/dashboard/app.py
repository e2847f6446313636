"""The Streamlit script of the dashboard: ``streamlit run`` starts it (``firesale
dashboard`` does). Five pages, drawn by :mod:`firesale.dashboard.views`: System, Run
(shocks, policies and results), Compare, Reverse stress test and Runs.
"""

from __future__ import annotations

from firesale.dashboard import require_streamlit, views


def main() -> None:
    """Lay out the app: page config, the widget values kept across pages, the navigation."""
    st = require_streamlit()
    st.set_page_config(page_title="firesale", layout="wide")
    # Streamlit forgets the widgets of a page that is not shown; re-assigning their values
    # keeps the shocks, switches and levers when the analyst looks at another page.
    for key in [k for k in st.session_state if str(k).startswith(views.WIDGET_PREFIX)]:
        st.session_state[key] = st.session_state[key]
    pages = [
        st.Page(views.system_page, title="System", url_path="system", default=True),
        st.Page(views.run_page, title="Shock, policies and results", url_path="run"),
        st.Page(views.compare_page, title="Compare", url_path="compare"),
        st.Page(views.reverse_page, title="Reverse stress test", url_path="reverse"),
        st.Page(views.runs_page, title="Runs", url_path="runs"),
    ]
    st.navigation(pages).run()


if __name__ == "__main__":
    main()
