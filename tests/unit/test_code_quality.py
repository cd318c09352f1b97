"""The code stays ruff-clean, ruff-formatted and mypy-strict: checked with the tests, not by memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],  # strict, over chaos/, tests/ and benchmarks/ (pyproject.toml)
        # the layers of docs/architecture.md, as import-linter contracts in pyproject.toml
        ["importlinter.cli"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict", "import-layers"],
)
def test_code_quality(command: list[str]) -> None:
    argv = [sys.executable, "-m", *command]
    if command == ["importlinter.cli"]:  # its console script is lint-imports; it has no __main__
        argv = [sys.executable, "-c", "import sys, importlinter.cli as c; sys.exit(c.lint_imports())"]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{' '.join(command)} found problems:\n{proc.stdout}{proc.stderr}"


#: Source files allowed past 400 lines, each with the reason it is still one idea.
LONG_MODULES: dict[str, str] = {}

#: Every source file the rule holds: the Python package, its tests and benchmarks, the Java client driver and its
#: tests, kcfs (Go), the example applications and the example external clients (Go, JavaScript).
SOURCE_GLOBS = (
    "chaos/**/*.py",
    "tests/**/*.py",
    "benchmarks/**/*.py",
    "chaos/images/java/*.java",
    "tests/**/*.java",
    "chaos/**/*.go",
    "examples/**/*.java",
    "examples/**/*.go",
    "examples/**/*.js",
)


def test_every_module_holds_one_idea_in_at_most_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for pattern in SOURCE_GLOBS
        for path in ROOT.glob(pattern)
        if (n := len(path.read_text().splitlines())) > 400
    }
    unexplained = {path: n for path, n in long.items() if path not in LONG_MODULES}
    assert not unexplained, f"split these files, or say in LONG_MODULES why each is one idea: {unexplained}"
