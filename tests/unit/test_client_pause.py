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


class Producer:
    """A producer workload as a fault sees it, recording whether it was frozen."""

    name = "producer-p0"
    alive = True

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def kill(self) -> None:
        self.calls.append("kill")

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


def events(run_dir: Path, kinds: list[int], ranges: list[tuple[int, int]]) -> None:
    import numpy as np

    from chaos.workloads.ledger import PRODUCER_EVENT

    rows = np.zeros(len(kinds), PRODUCER_EVENT)
    rows["kind"] = kinds
    rows["seq"] = [a for a, _ in ranges]
    rows["seq_end"] = [b for _, b in ranges]
    (run_dir / "ledgers").mkdir(exist_ok=True)
    rows.tofile(run_dir / "ledgers" / "producer-p0.events")


def test_in_transaction_freezes_a_producer_only_inside_an_open_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaos.faults import client_pause
    from chaos.workloads.ledger import Kind

    monkeypatch.setattr(client_pause, "OPEN_WAIT", 0.5)
    producer = Producer(tmp_path)
    ctx = FaultContext(cast(Any, None), {"producer-p0": producer}, timeline=Timeline(tmp_path))
    # committing: no transaction is open for the coordinator to time out
    events(tmp_path, [Kind.INTENT, Kind.COMMITTING], [(0, 200), (0, 200)])
    with pytest.raises(Exception, match="100 records in an open transaction"):
        make_fault("client_pause", workload="producer-p0", in_transaction=True).inject(ctx)
    assert "pause" not in producer.calls
    events(tmp_path, [Kind.COMMITTED, Kind.INTENT, Kind.INTENT], [(0, 200), (200, 260), (260, 330)])
    fault = make_fault("client_pause", workload="producer-p0", in_transaction=True)
    producer.calls.clear()
    fault.inject(ctx)
    assert producer.calls == ["pause"]
    fault.heal(ctx)
    assert producer.calls == ["pause", "resume"]


def test_in_transaction_needs_a_producer(tmp_path: Path) -> None:
    member = Producer(tmp_path)
    member.name = "consumer-c0"
    ctx = FaultContext(cast(Any, None), {"consumer-c0": member}, timeline=Timeline(tmp_path))
    with pytest.raises(UsageError, match="in_transaction needs a producer workload, not consumer-c0"):
        make_fault("client_pause", workload="consumer-c0", in_transaction=True).inject(ctx)
