"""What the rules share: how values are read, and the release as numbers."""

from __future__ import annotations

from collections.abc import Callable

from chaos.validate.findings import Finding, TeamConfig

Rule = Callable[[TeamConfig, Callable[[Finding], None]], None]
Add = Callable[[Finding], None]

INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1


def lower(value: str | None) -> str:
    return (value or "").strip().lower()


def release(cfg: TeamConfig) -> tuple[int, ...]:
    """The release as numbers (``4.4.0`` → (4, 4, 0)); unknown parts count as 0."""
    parts: list[int] = []
    for part in cfg.version.split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)
