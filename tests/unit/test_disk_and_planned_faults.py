"""The kcfs disk option, disk faults and planned operations without Docker: spec, files, parameters,
refusals and report lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chaos.cluster import KafkaCluster
from chaos.cluster.config import ClusterSpec, NodeSpec, server_properties
from chaos.cluster.node_files import packaged
from chaos.cluster.registry import spec_from_json, spec_to_json
from chaos.errors import UsageError
from chaos.experiments.loading import load_experiment
from chaos.faults import FaultContext, FaultError, Timeline, UnsupportedFault, make_fault
from chaos.faults.disk import kcfs_command
from chaos.images import kcfs
from chaos.reports.words import settings_line


def test_log_dirs_and_features_reach_the_broker_and_the_format() -> None:
    spec = ClusterSpec(brokers=1, disk="kcfs", log_dirs=2, features={"eligible.leader.replicas.version": 0})
    props = server_properties(spec, NodeSpec(1, "broker-1", True, True), "127.0.0.1:1", "127.0.0.1:2")
    assert "log.dirs=/var/lib/kafka/data,/var/lib/kafka/data-2\n" in props
    assert spec.format_arguments() == "--feature eligible.leader.replicas.version=0"
    assert spec_from_json(spec_to_json(spec)) == spec


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"disk": "ramdisk"}, "disk 'ramdisk' is not one of plain, kcfs"),
        ({"log_dirs": 5}, "log_dirs must be 1 to 4"),
        ({"features": {"elr; rm -rf /": 1}}, "is not a feature name"),
        ({"features": {"x.version": -1}}, "is not a feature name"),
    ],
)
def test_bad_disk_settings_are_one_sentence(fields: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        ClusterSpec(**fields)  # type: ignore[arg-type]


def test_experiment_files_ask_for_kcfs_in_their_cluster_section() -> None:
    exp = load_experiment(Path("experiments/b6c-last-replica-standing-elr-off.yaml"))
    spec = exp.cluster.spec()
    assert (spec.disk, spec.features) == ("kcfs", {"eligible.leader.replicas.version": 0})
    line = settings_line({"cluster": {"disk": "kcfs", "features": {"eligible.leader.replicas.version": 1}}})
    assert "feature eligible.leader.replicas.version=1" in line and "data on kcfs" in line


@pytest.mark.parametrize("kind", ["power_loss", "disk_full", "disk_error"])
def test_disk_faults_refuse_a_cluster_without_kcfs(kind: str, tmp_path: Path) -> None:
    cluster = KafkaCluster(ClusterSpec(brokers=1), run_dir=tmp_path)
    fault = make_fault(kind, target="all")
    with pytest.raises(UnsupportedFault, match=r"add `disk: kcfs` to the experiment's cluster: section"):
        fault.inject(FaultContext(cluster, timeline=Timeline(tmp_path)))


def test_disk_fault_parameters_are_checked_at_load() -> None:
    with pytest.raises(UsageError, match="log_dir counts from 1"):
        make_fault("disk_full", target="all", log_dir=0)
    with pytest.raises(UsageError, match="has no parameter 'path'"):
        make_fault("disk_error", path="/var/lib/kafka")


@pytest.mark.parametrize("kind", ["partition_reassign", "preferred_election"])
def test_planned_operations_need_a_partition(kind: str) -> None:
    with pytest.raises(UsageError, match="names no partition: use a partition selector"):
        make_fault(kind, target="all")
    assert make_fault(kind, target="leader:orders:0").target == "leader:orders:0"


def test_kcfs_is_shipped_with_the_package_and_hashed() -> None:
    assert len(kcfs.source_hash()) == 12
    assert b"func (d *disk) powerCut()" in (Path(kcfs.__file__).parent / "kcfs" / "disk.go").read_bytes()
    # every file of the Go package is built and hashed, and nothing else of the directory
    assert kcfs.sources() == ["control.go", "disk.go", "go.mod", "go.sum", "loopback.go", "main.go"]
    options = kcfs.kcfs_container_options()
    assert options["cap_add"] == ["SYS_ADMIN"] and options["devices"] == ["/dev/fuse:/dev/fuse:rwm"]


def test_the_brokers_start_script_mounts_kcfs_where_the_disk_faults_look_for_it() -> None:
    # start.sh is shell: it names the paths itself, held here to the ones the faults use
    script = packaged("start.sh").decode()
    assert f"{kcfs.BINARY} mount /kcfs-store {kcfs.MOUNT} {kcfs.SOCKET} " in script
    assert f"until [ -S {kcfs.SOCKET} ]" in script


def test_cluster_up_refuses_a_feature_level_that_is_not_a_number() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "cluster", "up", "--feature", "eligible.leader.replicas.version=on"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "the level is a whole number, e.g. eligible.leader.replicas.version=1" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_engine_without_fuse_is_refused_in_one_sentence() -> None:
    from docker.errors import APIError

    refused = APIError(
        "500 Server Error",
        explanation='error gathering device information while adding custom device "/dev/fuse": no such file',
    )
    error = kcfs.no_fuse(refused)
    assert error is not None and "`modprobe fuse`" in str(error) and "\n" not in str(error)
    assert kcfs.no_fuse(APIError("500 Server Error", explanation="port is already allocated")) is None


def test_doctor_says_whether_kcfs_can_run_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from chaos import doctor

    monkeypatch.setattr("chaos.images.builder.default_cache_dir", lambda: tmp_path)
    check = doctor._kcfs_check()
    assert (check.check, check.ok, check.fix) == ("kcfs disk (power_loss)", False, "run `kafka-chaos images build`")


class Answers:
    """A node whose ``exec`` gives the next of ``outputs`` (exit code, output)."""

    host = "broker-1"

    def __init__(self, *outputs: tuple[int, str]) -> None:
        self.outputs, self.calls = list(outputs), 0

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        self.calls += 1
        return self.outputs.pop(0)


def test_a_kcfs_answer_lost_on_the_way_is_asked_for_again() -> None:
    cut = '{"files":2,"bytes_dropped":4096,"blocks_restored":0,"fsyncs":3,"cut":true}\n'
    node = Answers((0, ""), (0, cut))
    assert kcfs_command(node, "cut")["bytes_dropped"] == 4096  # type: ignore[arg-type]
    assert node.calls == 2


@pytest.mark.parametrize(
    ("outputs", "calls"),
    [([(0, ""), (0, "")], 2), ([(1, "kcfs: dial unix /run/kcfs.sock: connect: no such file")], 1)],
    ids=["lost twice", "refused"],
)
def test_a_kcfs_command_without_an_answer_is_a_fault_error(outputs: list[tuple[int, str]], calls: int) -> None:
    node = Answers(*outputs)
    with pytest.raises(FaultError, match="kcfs on broker-1 refused 'cut'"):
        kcfs_command(node, "cut")  # type: ignore[arg-type]
    assert node.calls == calls
