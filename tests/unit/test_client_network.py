"""Client network faults without a cluster: real namespaces on this machine (root, ``ip``,
``iptables``, ``tc``), two listeners on loopback standing in for two brokers' published ports, and
the selectors, validation and load-time refusals with fakes."""

from __future__ import annotations

import ipaddress
import os
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from chaos.cluster.metadata import PartitionState
from chaos.errors import UsageError
from chaos.experiments.loading import load_experiment
from chaos.experiments.model import ExperimentFileError
from chaos.experiments.plan import plan_experiment
from chaos.faults import FaultContext, Timeline, make_fault
from chaos.faults.base import FaultError
from chaos.faults.client_network import broker_ids
from chaos.workloads import netns

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class InNamespace:
    """What a fault needs of a workload: its name and namespace."""

    name: str
    netns: netns.Netns | None


class FakeMetadata:
    def partition(self, topic: str, partition: int) -> PartitionState:
        return PartitionState(topic, partition, 2, (2, 1, 3), (2, 3))

    def coordinator(self, kind: str, key: str) -> int:
        return 3


class FakeCluster:
    metadata = FakeMetadata()


def context(tmp_path: Path, workload: InNamespace, addresses: dict[int, tuple[str, int]]) -> FaultContext:
    return FaultContext(
        cast(Any, FakeCluster()),
        {workload.name: cast(Any, workload)},
        random.Random(0),
        Timeline(tmp_path),
        "t",
        lambda: addresses,
    )


@pytest.fixture
def listeners() -> Iterator[list[int]]:
    """Two listeners on 127.0.0.1 (two brokers' published ports) that accept and hold connections."""
    socks = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        socks.append(s)

    def accept(s: socket.socket) -> None:
        held = []
        while True:
            try:
                held.append(s.accept()[0])
            except OSError:
                return

    for s in socks:
        threading.Thread(target=accept, args=(s,), daemon=True).start()
    yield [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()


@pytest.fixture
def namespace() -> Iterator[netns.Netns]:
    made = netns.Namespaces("20261206-000000-test")
    yield made.add("producer-p0")
    assert made.remove_all() == []


def reaches(ns: netns.Netns, port: int) -> bool:
    probe = ns.wrap(["timeout", "1", "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"])
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def test_a_cut_in_a_workloads_namespace_reaches_only_its_target_and_heals(
    tmp_path: Path, namespace: netns.Netns, listeners: list[int]
) -> None:
    one, two = listeners
    assert reaches(namespace, one) and reaches(namespace, two)  # loopback from inside: this machine's
    ctx = context(tmp_path, InNamespace("producer-p0", namespace), {1: ("127.0.0.1", one), 2: ("localhost", two)})
    for direction in ("both", "to_brokers", "from_brokers"):
        cut = make_fault("client_cut", workload="p0", target="broker:1", direction=direction)
        cut.inject(ctx)  # verified: broker 1's port does not open from inside
        assert cut.targets == ["producer-p0 <-> broker-1"]
        assert not reaches(namespace, one) and reaches(namespace, two), direction
        cut.heal(ctx)
        assert reaches(namespace, one), direction
    slow = make_fault("client_bandwidth", workload="producer-p0", rate="64kbit")
    slow.inject(ctx)
    inside = namespace.run(["tc", "qdisc", "show", "dev", namespace.ns_if], "qdiscs")
    here = subprocess.run(["tc", "qdisc", "show", "dev", namespace.host_if], capture_output=True, text=True, check=True)
    assert "htb 4b43:" in here.stdout
    assert "htb 4b43:" in inside
    slow.heal(ctx)
    assert "htb" not in namespace.run(["tc", "qdisc", "show", "dev", namespace.ns_if], "qdiscs")


def test_a_workload_without_a_namespace_is_refused_in_one_sentence(tmp_path: Path) -> None:
    ctx = context(tmp_path, InNamespace("application-0", None), {1: ("127.0.0.1", 9092)})
    with pytest.raises(UsageError, match="acts in application-0's own network namespace, and it runs in none"):
        make_fault("client_cut", workload="application-0").inject(ctx)


def test_sweep_removes_what_a_killed_run_left_and_only_its_own() -> None:
    left = netns.create("20261206-000000-gone", "consumer-c0")
    other = netns.create("20261206-000000-kept", "consumer-c0")
    try:
        gone = netns.sweep("20261206-000000-gone")
        assert left.name in gone and len([g for g in gone if "rule" in g]) == 5
        assert left.name not in netns.listed() and other.name in netns.listed()
        rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
        assert "kafka-chaos.run=20261206-000000-gone" not in rules and "kafka-chaos.run=20261206-000000-kept" in rules
    finally:
        netns.remove(other)
    assert other.name not in netns.listed()


def test_sweep_leaves_a_namespace_a_process_runs_in_and_matches_run_ids_whole() -> None:
    live = netns.create("20261206-000000-rv0", "producer-p0")
    longer = netns.create("20261206-000000-rv03", "producer-p0")
    sleeper = subprocess.Popen(live.wrap(["sleep", "60"]))
    try:
        assert netns.sweep("20261206-000000-rv0") == []  # its process runs: a run going on
        assert netns.sweep("20261206-000000-rv") == []  # a run id is matched whole, never as a prefix
        rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
        assert rules.count("kafka-chaos.run=20261206-000000-rv03") == 5
        assert rules.count("kafka-chaos.run=20261206-000000-rv0 ") + rules.count('rv0"') >= 5
    finally:
        sleeper.kill()
        sleeper.wait()
    assert live.name in netns.sweep("20261206-000000-rv0") and longer.name in netns.listed()
    netns.remove(longer)


def test_a_second_limit_on_one_workload_is_refused_and_leaves_the_first(
    tmp_path: Path, namespace: netns.Netns, listeners: list[int]
) -> None:
    ctx = context(tmp_path, InNamespace("producer-p0", namespace), {1: ("127.0.0.1", listeners[0])})
    first = make_fault("client_bandwidth", workload="p0", rate="1mbit", direction="to_brokers")
    first.inject(ctx)
    with pytest.raises(FaultError, match="limited already: one client_bandwidth at a time"):
        make_fault("client_bandwidth", workload="p0", rate="64kbit").inject(ctx)
    assert "htb 4b43:" in namespace.run(["tc", "qdisc", "show", "dev", namespace.ns_if], "qdiscs")
    first.heal(ctx)
    assert "htb" not in namespace.run(["tc", "qdisc", "show", "dev", namespace.ns_if], "qdiscs")


def test_a_namespaces_subnet_overlaps_nothing_this_machine_uses() -> None:
    used = [ipaddress.IPv4Network("10.254.0.0/17")]
    for seed in range(50):
        assert not netns.free_subnet(used, random.Random(seed)).overlaps(used[0])
    assert netns.namespace_name("r1", "producer-p0") == "kafka-chaos.r1.producer-p0"
    with pytest.raises(Exception, match=r"no /30 of 10\.254\.0\.0/16 is free"):
        netns.free_subnet([ipaddress.IPv4Network("10.0.0.0/8")])


def test_selectors_name_the_brokers_a_client_talks_to(tmp_path: Path) -> None:
    ctx = context(tmp_path, InNamespace("producer-p0", None), {})
    ids = [1, 2, 3]
    assert broker_ids("all", ctx, ids) == [1, 2, 3] and broker_ids("broker:2", ctx, ids) == [2]
    assert broker_ids("leader:t:0", ctx, ids) == [2] and broker_ids("followers:t:0", ctx, ids) == [1, 3]
    assert broker_ids("out_of_sync:t:0", ctx, ids) == [1] and broker_ids("coordinator:group:g", ctx, ids) == [3]
    with pytest.raises(UsageError, match="there is no broker 7"):
        broker_ids("7", ctx, ids)
    with pytest.raises(UsageError, match="does not name brokers a client talks to"):
        broker_ids("controller", ctx, ids)
    with pytest.raises(FaultError, match="has no leader now"):
        broker_ids("leader:t:0", ctx, [1, 3])


def test_bad_parameters_are_one_sentence() -> None:
    with pytest.raises(UsageError, match="needs a workload"):
        make_fault("client_cut")
    with pytest.raises(UsageError, match="direction must be one of both, to_brokers, from_brokers"):
        make_fault("client_cut", workload="p0", direction="sideways")
    with pytest.raises(UsageError, match="is not a rate like 256kbit or 1mbit"):
        make_fault("client_bandwidth", workload="p0", rate="fast")


def test_a_run_with_a_client_network_fault_puts_its_workloads_in_namespaces(tmp_path: Path) -> None:
    p3d = load_experiment(next((ROOT / "experiments").glob("p3d-*.yaml")))
    p3 = load_experiment(next((ROOT / "experiments").glob("p3-*.yaml")))
    assert plan_experiment(p3d, "r1", tmp_path).namespaces and not plan_experiment(p3, "r2", tmp_path).namespaces
    bad = tmp_path / "bad.yaml"
    a2 = next((ROOT / "experiments").glob("a2-*.yaml")).read_text()
    bad.write_text(
        a2.replace("kind: client_kill, workload: application-0", "kind: client_cut, workload: application-0")
    )
    with pytest.raises(
        ExperimentFileError, match="client_cut cannot act on application-0: an application runs outside"
    ):
        load_experiment(bad)


def test_a_suite_with_a_client_network_fault_is_refused_before_anything_starts_where_it_cannot_run(
    tmp_path: Path,
) -> None:
    p3d = next((ROOT / "experiments").glob("p3d-*.yaml"))
    env = {**os.environ, "PATH": "/usr/bin:/bin", "DOCKER_HOST": "unix:///nonexistent.sock"}  # no sbin: no ip, tc
    argv = [sys.executable, "-m", "chaos.cli", "run", str(p3d), "--reports", str(tmp_path)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "client network faults run each workload in a network namespace, which needs ip" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


def test_a_namespaces_subnet_never_holds_a_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    found = netns.broker_ips({1: ("127.0.0.1", 9092), 2: ("localhost", 9093), 3: ("no-such-host.invalid", 1)})
    assert found == ["127.0.0.1", "127.0.0.1"]
    drawn: list[ipaddress.IPv4Network] = []

    def free(used: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
        drawn.extend(used)
        return ipaddress.IPv4Network("10.254.200.0/30")

    monkeypatch.setattr(netns, "free_subnet", free)
    ns = netns.create("20261206-000000-avoid", "producer-p0", avoid=["10.254.7.9", "::1"])
    try:
        assert ipaddress.IPv4Network("10.254.7.9/32") in drawn and ns.host_ip == "10.254.200.1"
    finally:
        netns.remove(ns)
