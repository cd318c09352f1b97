"""Every function of the reporters and of the verdict's core stays at cyclomatic complexity 15 or
less, as radon measures it (boolean operators count): past that, split it into one function per
section or per case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from radon.complexity import cc_visit  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 15
MEASURED = [
    *sorted((ROOT / "chaos" / "reports").glob("*.py")),
    ROOT / "chaos" / "oracle" / "reconcile.py",
    ROOT / "chaos" / "oracle" / "anomalies.py",
    ROOT / "chaos" / "oracle" / "verdict.py",
    ROOT / "chaos" / "oracle" / "trust.py",
    ROOT / "chaos" / "oracle" / "broker_loss.py",
    ROOT / "chaos" / "oracle" / "expectations.py",
]


def functions(path: Path) -> list[Any]:
    """radon's blocks of each function and method of ``path`` (not of its classes as a whole)."""
    return [block for block in cc_visit(path.read_text()) if not hasattr(block, "methods")]


def test_every_function_is_at_most_complexity_15() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{fn.lineno} {fn.fullname} ({fn.complexity})"
        for path in MEASURED
        for fn in functions(path)
        if fn.complexity > LIMIT
    ]
    assert not offenders, f"complexity over {LIMIT} (split it by section or case): " + ", ".join(offenders)
