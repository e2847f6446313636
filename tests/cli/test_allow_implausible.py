"""A likely unit mistake (sigma0 written in percent) is an error that says so; the
--allow-implausible flag lets it through for that command only (issue 15 item 3)."""

from typer.testing import CliRunner

from firesale.cli import app
from firesale.data.synthetic import write_generated

runner = CliRunner()


def _text(result) -> str:
    try:
        err = result.stderr
    except ValueError:  # stderr mixed into stdout
        err = ""
    return result.stdout + err + ("" if result.exception is None else str(result.exception))


def test_percent_sigma0_is_refused_unless_allowed(tmp_path):
    folder = tmp_path / "pct"
    write_generated(folder, 5, 3, 0.5, 2)
    assets = folder / "assets.csv"
    lines = assets.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("sigma0")] = "4.5"
    assets.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    refused = runner.invoke(app, ["validate", str(folder)])
    assert refused.exit_code != 0
    text = _text(refused)
    assert "field sigma0" in text and "looks like a percentage" in text and "--allow-implausible" in text
    allowed = runner.invoke(app, ["--allow-implausible", "validate", str(folder)])
    assert allowed.exit_code == 0, _text(allowed)
    # and the flag does not outlive its command
    again = runner.invoke(app, ["validate", str(folder)])
    assert again.exit_code != 0
