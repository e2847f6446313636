"""Errors raised by firesale, each with a searchable code.

Every error says where (file, row, field), what (the value and what was allowed)
and what to do next. The command line prints the message without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FiresaleError", "DataError", "ConfigError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One problem found in an input.

    Parameters
    ----------
    code : str
        Searchable code, e.g. ``"FS104"``.
    where : str
        File, table, row and field, e.g. ``"institutions.csv row 7 (dealer_b), field slr_target"``.
    message : str
        What is wrong and what to do.
    """

    code: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.where}: {self.message}"


class FiresaleError(Exception):
    """Base class of every error firesale raises on purpose."""

    def __init__(self, problems: list[Problem] | Problem | str, code: str = "FS000"):
        if isinstance(problems, str):
            problems = [Problem(code, "input", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self._format())

    def _format(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class DataError(FiresaleError, ValueError):
    """A system table (institutions, assets, holdings, correlations) is invalid."""


class ConfigError(FiresaleError, ValueError):
    """A scenario, preset name or command-line option is invalid."""
