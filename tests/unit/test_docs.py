"""The README and docs/ say only what is true of this repository: every link leads to a file, every
experiment shown loads, every ``kafka-chaos`` command shown exists with its options, and the README
stays a page a user reads (200 lines at most)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from chaos.experiments.loading import load_experiment
from tests.unit.test_cli_hints import resolve

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)


def blocks(kind: str) -> list[tuple[str, str]]:
    return [
        (f"{page.relative_to(ROOT)}", body)
        for page in PAGES
        for lang, body in BLOCK.findall(page.read_text())
        if lang == kind
    ]


def test_the_readme_is_a_page_a_user_reads() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text()) if "://" not in t]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert missing == []


def experiments_shown() -> list[tuple[str, str]]:
    """YAML blocks that are experiment files (others are CI workflows and the like)."""
    return [(page, body) for page, body in blocks("yaml") if re.search(r"^(producer|consumer|faults):", body, re.M)]


@pytest.mark.parametrize(("page", "body"), experiments_shown(), ids=lambda v: v if v.endswith(".md") else "")
def test_every_experiment_shown_loads(page: str, body: str, tmp_path: Path) -> None:
    path = tmp_path / "shown.yaml"
    path.write_text(body)
    load_experiment(path)  # raises with file, line and field when a shown file is wrong


def commands() -> list[str]:
    found = []
    for _, body in blocks("sh"):
        for raw in body.splitlines():
            line = raw.split("  #")[0].strip().removeprefix("sudo ")
            if line.startswith("kafka-chaos"):
                found.append(line.rstrip("\\").strip())
    return sorted(set(found))


@pytest.mark.parametrize("command", commands())
def test_every_command_shown_exists_with_its_options(command: str) -> None:
    words = [w for w in shlex.split(command) if not w.startswith("[")]
    resolve(" ".join(shlex.quote(w) for w in words))
