"""Where ``kafka-chaos init`` puts the pytest plugin's ``kafka_chaos_experiments`` lines: the file
pytest reads its configuration from, in that file's syntax, or a new ``pytest.ini`` when there is
none (init never edits a configuration file; it prints the lines to add)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

#: What the pytest plugin's ``kafka_chaos_experiments`` collects (relative to pytest's rootdir).
EXPERIMENTS_GLOB = "experiments/*.yaml"


@dataclass(frozen=True, slots=True)
class PytestConfig:
    """The pytest lines: for ``file`` (relative to the directory), ``text``; ``write``: init writes
    the file (no pytest configuration exists), else it prints them; ``present``: already there."""

    file: str
    text: str
    write: bool
    present: bool = False


def _pyproject_table(path: Path) -> str | None:
    """``tool.pytest.ini_options`` or ``tool.pytest`` when ``path`` configures pytest, else None."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # pytest would find no configuration there either
    pytest_table = data.get("tool", {}).get("pytest")
    if not isinstance(pytest_table, dict):
        return None
    return "tool.pytest.ini_options" if "ini_options" in pytest_table else "tool.pytest"


def _ini_section(path: Path, section: str) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(rf"^\s*\[{re.escape(section)}\]\s*$", text, re.MULTILINE) is not None


def pytest_config(root: Path) -> PytestConfig:
    """Where the ``kafka_chaos_experiments`` lines go in ``root``: the first file pytest would read
    its configuration from, in pytest's order, and the lines in that file's syntax; a new
    ``pytest.ini`` when there is none."""
    ini_lines = f"kafka_chaos_experiments =\n    {EXPERIMENTS_GLOB}"
    toml_line = f'kafka_chaos_experiments = ["{EXPERIMENTS_GLOB}"]'
    found: tuple[str, str] | None = None
    for name in ("pytest.toml", ".pytest.toml"):
        if (root / name).is_file():
            found = (name, f"[pytest]\n{toml_line}")
            break
    else:
        for name in ("pytest.ini", ".pytest.ini"):
            if (root / name).is_file():
                found = (name, f"[pytest]\n{ini_lines}")
                break
        else:
            found = _other_config(root, ini_lines, toml_line)
    if found is None:
        header = "# kafka-chaos: the experiment files as tests (pytest -k consumer-kill runs one).\n"
        return PytestConfig("pytest.ini", f"{header}[pytest]\n{ini_lines}\n", write=True)
    name, text = found
    present = "kafka_chaos_experiments" in (root / name).read_text(encoding="utf-8", errors="replace")
    return PytestConfig(name, text + "\n", write=False, present=present)


def _other_config(root: Path, ini_lines: str, toml_line: str) -> tuple[str, str] | None:
    """pyproject.toml, tox.ini or setup.cfg, when one configures pytest."""
    table = _pyproject_table(root / "pyproject.toml")
    if table is not None:
        return "pyproject.toml", f"[{table}]\n{toml_line}"
    if _ini_section(root / "tox.ini", "pytest"):
        return "tox.ini", f"[pytest]\n{ini_lines}"
    if _ini_section(root / "setup.cfg", "tool:pytest"):
        return "setup.cfg", f"[tool:pytest]\n{ini_lines}"
    return None
