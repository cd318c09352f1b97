"""Each command's ``--help`` lists exactly the exit codes docs/exit-codes.md gives it."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from chaos.cli import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "exit-codes.md"


def documented() -> dict[str, set[int]]:
    """The "By command" table: command -> its exit codes."""
    section = DOC.read_text().split("## By command", 1)[1]
    rows = re.findall(r"^\| `([a-z-]+)` \| ([\d, ]+) \|$", section, flags=re.MULTILINE)
    return {command: {int(code) for code in codes.split(",")} for command, codes in rows}


def listed(help_text: str) -> set[int] | None:
    """The codes an ``Exit code:`` paragraph of a help text lists (None: it lists none)."""
    flat = " ".join(help_text.split())
    if "Exit code:" not in flat:
        return None
    paragraph = flat.split("Exit code:", 1)[1]
    paragraph = paragraph.split("Options:", 1)[0]
    return {int(code) for code in re.findall(r"(?:^|,) ?(\d+) ", paragraph)}


def help_of(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command of the command line, subcommands of groups included."""
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
    return found


def test_the_table_names_the_commands_that_list_codes() -> None:
    assert documented() == {
        "run": {0, 1, 2, 3, 4},
        "validate": {0, 1, 2, 3, 4},
        "explore": {0, 1, 2, 3},
        "soak": {0, 1, 2, 3, 4},
        "reconcile": {0, 1, 2, 4},
        "doctor": {0, 3},
        "init": {0, 2},
    }
    listing = {" ".join(command) for command in commands(cli) if listed(help_of(*command)) is not None}
    assert listing == set(documented())


@pytest.mark.parametrize("command", sorted(documented()))
def test_each_help_lists_exactly_the_documented_codes(command: str) -> None:
    assert listed(help_of(command)) == documented()[command]


def test_the_listing_is_read_as_written() -> None:
    text = "Exit code: 0 PASS, 1 FAIL (a fault lost records, or 2 of them), 3 no Docker,\n  4 inconclusive.\n\nOptions:"
    assert listed(text) == {0, 1, 3, 4}
