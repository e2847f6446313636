"""The README stays true to the code: every table column, preset and command it should name."""

import pathlib

from firesale.data.preset import list_presets
from firesale.schema import TABLES

README = (pathlib.Path(__file__).parents[1] / "README.md").read_text()


def test_readme_documents_every_table_column():
    for table, columns in TABLES.items():
        assert f"**{table}**" in README, table
        for column in columns:
            assert f"| `{column['column']}` |" in README, f"{table}.{column['column']}"


def test_readme_names_every_preset_and_command():
    for preset in list_presets():
        assert f"`{preset}`" in README, preset
    for command in ("make run", "make test", "firesale run", "firesale explain", "firesale presets", "firesale validate"):
        assert command in README, command
