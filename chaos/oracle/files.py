"""Where the verdict is written: the one function that writes ``verdict.json``."""

from __future__ import annotations

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
