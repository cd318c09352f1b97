"""Fault parameters, selectors and schedules, without a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.errors import UsageError
from chaos.faults import REGISTRY, Step, make_fault, random_schedule, steps_from
from chaos.faults.targets import check_selector


def test_every_kind_the_issue_names_is_registered() -> None:
    assert set(REGISTRY) >= {
        "broker_kill",
        "broker_stop",
        "broker_pause",
        "rolling_bounce",
        "client_kill",
        "isolate",
        "partition",
        "one_way",
        "bridge",
        "packet_drop",
        "bandwidth_limit",
        "latency",
        "toxic",
        "proxy_down",
    }


@pytest.mark.parametrize(
    "selector",
    [
        "broker:2",
        "3",
        "leader:orders:0",
        "followers:my:topic:1",
        "controller",
        "controller_followers",
        "random",
        "minority",
        "majority",
        "all",
    ],
)
def test_selectors(selector: str) -> None:
    assert check_selector(selector) == selector


@pytest.mark.parametrize("selector", ["broker:", "leader:orders", "everyone", "broker:x", ""])
def test_bad_selectors(selector: str) -> None:
    with pytest.raises(UsageError, match="is not a selector"):
        check_selector(selector)


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("earthquake", {}, "unknown fault kind 'earthquake'"),
        ("broker_kill", {"targets": "all"}, "has no parameter 'targets'"),
        ("broker_kill", {"target": 3}, "wrong type"),
        ("toxic", {"type": "lag"}, "toxic type 'lag'"),
        ("toxic", {"type": "latency", "attributes": {"delay": 1}}, "no attribute 'delay'"),
        ("toxic", {"type": "latency", "stream": "sideways"}, "stream must be"),
        ("packet_drop", {"probability": 1.5}, "probability must be"),
        ("client_kill", {}, "needs a workload"),
        ("one_way", {"source": "broker:1"}, "needs source and dest"),
        ("isolate", {"target": "nobody"}, "is not a selector"),
    ],
)
def test_bad_faults_are_usage_errors(kind: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        make_fault(kind, **params)


def test_same_seed_same_schedule_all_healed_inside_the_window() -> None:
    a = random_schedule(42, window=120, count=6)
    b = random_schedule(42, window=120, count=6)
    c = random_schedule(43, window=120, count=6)
    shape = [(s.at, s.duration, s.fault.kind, s.fault.p) for s in a]
    assert shape == [(s.at, s.duration, s.fault.kind, s.fault.p) for s in b]
    assert shape != [(s.at, s.duration, s.fault.kind, s.fault.p) for s in c]
    ends = [s.at + (s.duration or 0) for s in a]
    assert all(end <= 120 for end in ends)
    assert all(a[i + 1].at >= ends[i] for i in range(len(a) - 1)), "faults overlap"
    with pytest.raises(UsageError, match="do not fit"):
        random_schedule(1, window=10, count=6)


def test_steps_from_plain_data() -> None:
    steps = steps_from(
        [
            {"kind": "broker_kill", "target": "leader:t:0", "at": 5, "duration": 10},
            {"kind": "toxic", "type": "latency", "name": "slow"},
        ]
    )
    assert [(s.at, s.duration, s.fault.kind, s.fault.name) for s in steps] == [
        (5.0, 10.0, "broker_kill", "broker_kill"),
        (0.0, None, "toxic", "slow"),
    ]
    with pytest.raises(UsageError, match="has no kind"):
        steps_from([{"at": 1}])
    with pytest.raises(UsageError, match="duration must be positive"):
        Step(0, make_fault("broker_kill"), 0)


def test_a_network_fault_on_an_image_without_iptables_says_what_the_image_lacks() -> None:
    from chaos.faults.base import FaultError
    from chaos.faults.network import run_on

    class NoIptables:
        host = "broker-2"

        def exec(self, cmd: list[str]) -> tuple[int, str]:
            return 127, "sh: 1: iptables: not found\n"

    class Fine:
        host = "broker-1"

        def exec(self, cmd: list[str]) -> tuple[int, str]:
            return 0, ""

    with pytest.raises(FaultError) as info:
        run_on({Fine(): "iptables -N kc-x", NoIptables(): "iptables -N kc-x"})  # type: ignore[dict-item]
    assert str(info.value) == (
        "network fault on broker-2 failed: its image lacks a command the fault runs as root (sh: 1: iptables: not "
        "found); network faults need iptables and tc in the broker image, which the harness's own image has "
        "(`kafka-chaos images build`)"
    )
