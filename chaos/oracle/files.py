"""Where the verdict is written: the one function that writes ``verdict.json``; and the reading
of the JSON-lines files a soak writes as it runs."""

from __future__ import annotations

import json
from pathlib import Path

from chaos import rundir
from chaos.oracle.verdict import Verdict


def write_verdict(run_dir: Path, verdict: Verdict) -> Path:
    """Write ``run_dir/verdict.json`` (replacing it) and return its path.

    Raises:
        OSError: it cannot be written.
    """
    path = Path(run_dir) / rundir.VERDICT
    path.write_text(verdict.to_json())
    return path


def read_verdict(run_dir: Path) -> Verdict | None:
    """``run_dir/verdict.json`` read back, or None where the run wrote none.

    Raises:
        pydantic.ValidationError: the file is not a verdict of this contract.
    """
    path = Path(run_dir) / rundir.VERDICT
    return Verdict.read(path) if path.exists() else None


def json_lines(path: Path) -> list[dict[str, object]]:
    """The objects of a JSON-lines file written as a soak runs (none for a missing file; a torn
    last line, of a killed harness, is left out)."""
    out: list[dict[str, object]] = []
    if not path.exists():
        return out
    for text in path.read_text().splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict):
            out.append(line)
    return out
