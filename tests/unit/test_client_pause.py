"""client_pause: a workload frozen and let go, on real processes (no cluster): a host application's
whole process group stops (state T) and runs again, and a kill reaches a wrapper's children."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from chaos.errors import UsageError
from chaos.faults import FaultContext, Timeline, make_fault
from chaos.workloads.application import AppSpec, HostApplication


def state(pid: int) -> str:
    """The kernel's state letter of process ``pid`` (``T``: stopped; ``S``/``R``: running)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def settled(pids: tuple[int, ...], wanted: Callable[[str], bool], timeout: float = 5.0) -> bool:
    """Whether every process of ``pids`` reaches a state ``wanted`` accepts within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not all(wanted(state(pid)) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def app(tmp_path: Path, command: list[str]) -> HostApplication:
    spec = AppSpec(tuple(command), None, {}, "in", "out", "g", "r1", str(tmp_path))
    return HostApplication(spec, 0)


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def test_a_paused_application_stops_with_its_children_and_runs_again_when_healed(tmp_path: Path) -> None:
    a = app(tmp_path, ["sh", "-c", "sleep 60 & wait"])
    a.start()
    try:
        deadline = time.monotonic() + 5
        while not children(a.proc.pid) and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.02)
        (child,) = children(a.proc.pid)  # type: ignore[union-attr]
        fault = make_fault("client_pause", workload="application-0")
        ctx = FaultContext(cast(Any, None), workloads={a.name: a}, timeline=Timeline(tmp_path))
        fault.inject(ctx)
        assert fault.targets == ["application-0"]
        pids = (a.proc.pid, child)  # type: ignore[union-attr]
        assert settled(pids, lambda s: s == "T")  # a signal is delivered, not waited for: look until it took
        fault.heal(ctx)
        assert settled(pids, lambda s: s != "T")
        a.kill()
        assert not a.alive and a.kills == 1
        time.sleep(0.1)
        assert not Path(f"/proc/{child}").exists() or state(child) == "Z"  # the group's SIGKILL reached it
    finally:
        a.kill()


def test_client_pause_names_a_workload_of_the_run() -> None:
    with pytest.raises(UsageError, match="client_pause needs a workload"):
        make_fault("client_pause")


def test_an_application_whose_program_cannot_run_is_one_sentence(tmp_path: Path) -> None:
    from chaos.workloads.application import ApplicationError

    a = app(tmp_path, [str(tmp_path / "missing")])
    with pytest.raises(ApplicationError, match=r"cannot be run .* give a program that exists and is executable"):
        a.start()
    assert a.log_path.exists() and not a.alive
