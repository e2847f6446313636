"""The peers' drivers run inside the peers' own checkouts, not in this suite."""

collect_ignore = ["peers/inet_grid.py"]
