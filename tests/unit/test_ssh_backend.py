"""The ssh backend's parts without SSH: its config file, and its node verbs acting for real on a
process of this machine (the shell commands they send run locally instead of over SSH)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.cli.common import external_target
from chaos.cluster.config import NodeSpec
from chaos.cluster.ssh_config import SshConfig, load_ssh_config
from chaos.cluster.ssh_hosts import _check_host, connect_hosts
from chaos.cluster.ssh_node import LIST_CHAINS, SshNode, cancel_watchdogs, watchdog
from chaos.errors import InfrastructureError, UsageError
from chaos.experiments.clusters import _check_expiry
from chaos.experiments.loading import load_experiment
from chaos.faults.backends import CLIENTS, KAFKA_API, SSH, check_kinds, external_backend
from chaos.faults.base import REGISTRY, FaultError, load_kinds
from chaos.faults.network import reachable

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "known_hosts").write_text("")
    path = tmp_path / "ssh.yaml"
    path.write_text(text)
    return path


GOOD = """
user: ops
known_hosts: known_hosts
sudo: true
kafka: {pid_file: /run/kafka.pid, start: systemctl start kafka}
nodes:
  1: {host: k1}
  2: {host: k2, port: 2222, address: 10.0.0.2}
"""


def test_a_config_is_read_with_its_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_ssh_config(write(tmp_path, GOOD))
    assert config.known_hosts == tmp_path / "known_hosts" and config.user == "ops" and config.port == 22
    assert config.nodes[2].port == 2222 and str(config.nodes[2].address) == "10.0.0.2"
    assert config.as_root("kill -9 $pid") == "sudo -n sh -c 'kill -9 $pid'"
    assert config.rule_expiry == 600 and config.interface == "eth0"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("kafka: {pid_file: /p}\nnodes: {1: {host: a}}", "pid_file needs start"),
        ("kafka: {systemd_unit: k, pid_file: /p, start: s}\nnodes: {1: {host: a}}", "either systemd_unit or pid_file"),
        ("kafka: {systemd_unit: 'k; rm -rf /'}\nnodes: {1: {host: a}}", "is not a unit name"),
        ("kafka: {systemd_unit: k}\nnodes: {}", "nodes"),
        ("kafka: {systemd_unit: k}\nnodes: {1: {host: a}}\nrule_expiry: 5", "rule_expiry"),
        ("kafka: {systemd_unit: k}\nnodes: {1: {host: a}}\npassword: x", "password: Extra inputs are not permitted"),
        ("- a list", "must be a mapping"),
        ("kafka: [", "is not YAML"),
    ],
)
def test_a_config_that_cannot_serve_is_refused_in_one_sentence(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(UsageError, match="the SSH config") as e:
        load_ssh_config(write(tmp_path, text))
    assert said in str(e.value) and "\n" not in str(e.value)


def test_hosts_are_checked_against_a_known_hosts_file_that_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("known_hosts: known_hosts", "known_hosts: nowhere"))
    with pytest.raises(UsageError, match="which does not exist: add the hosts' keys there"):
        load_ssh_config(path)
    with pytest.raises(UsageError, match="names an identity_file that is not a readable file") as e:
        load_ssh_config(write(tmp_path, GOOD + "identity_file: missing_key\n"))
    pasted = "-----BEGIN OPENSSH PRIVATE KEY-----" + "b3Bl" * 100
    with pytest.raises(UsageError, match="names an identity_file that is not a readable file") as e:
        load_ssh_config(write(tmp_path, GOOD + f"identity_file: '{pasted}'\n"))
    assert "b3Bl" not in str(e.value)  # a key pasted in by mistake is never shown


def test_the_ssh_backend_adds_processes_and_host_networks_and_needs_consent_and_hosts() -> None:
    load_kinds()
    assert not (SSH.kinds or set()) - set(REGISTRY)
    assert (KAFKA_API.kinds or set()) < (SSH.kinds or set())
    assert external_backend(True, hosts=True) is SSH and external_backend(False, hosts=True) is CLIENTS
    for kind in ("power_loss", "toxic", "latency", "disk_full", "end_txn_delay"):
        assert not SSH.can(kind)
    check_kinds(["broker_kill", "isolate", "broker_pause", "bandwidth_limit"], SSH, "b3")
    with pytest.raises(UsageError, match=r"backend kafka-api cannot perform .*\(--ssh-config\), or run it"):
        check_kinds(["broker_kill"], KAFKA_API, "b2")
    with pytest.raises(UsageError, match=r"backend ssh cannot perform .* remove the fault"):
        check_kinds(["power_loss"], SSH, "b6")


# -- the verbs, on a process of this machine ---------------------------------------------------


def local(command: str) -> tuple[int, str]:
    """``command`` as sshd runs it: with the login's shell (bash), its output on a pipe to the end."""
    done = subprocess.run(["bash", "-c", command], check=False, capture_output=True, text=True, timeout=30)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[SshNode]:
    """A stand-in Kafka (a Python process with ``kafka`` in its command line) with a pid file, and
    its start command."""
    pid_file = tmp_path / "kafka.pid"
    start = (
        f"setsid {sys.executable} -c 'import time; time.sleep(600)' kafka.Kafka >/dev/null 2>&1 & echo $! > {pid_file}"
    )
    config = SshConfig.model_validate(
        {"kafka": {"pid_file": str(pid_file), "start": start}, "nodes": {1: {"host": "here"}}, "rule_expiry": 60}
    )
    node = SshNode(NodeSpec(1, "here", broker=True, controller=False), local, config, "root@here:22", "127.0.0.1")
    node.start()
    yield node
    pid = node.pid()
    if pid is not None:
        os.kill(pid, 9)
    local(cancel_watchdogs())


def watchdogs(tag: str) -> int:
    """How many watchdogs tagged ``tag`` wait on this machine (other tests' run beside)."""
    return int(local(f"pgrep -fc 'kafka-chaos-expir[y] {tag};'")[1].strip() or 0)


def test_kill_and_start_act_on_the_process_and_mark_it_for_clean(kafka: SshNode) -> None:
    first = kafka.pid()
    assert first is not None and kafka.state == "running" and kafka.is_running
    kafka.kill()
    assert kafka.state == "exited" and kafka.pid() is None
    assert local("[ -f /var/tmp/kafka-chaos/down ]")[0] == 0  # clean would start it again
    kafka.start()
    assert kafka.state == "running" and kafka.pid() not in (None, first)
    assert local("[ -f /var/tmp/kafka-chaos/down ]")[0] != 0


def test_a_pause_freezes_the_process_with_a_watchdog_that_unpause_ends(kafka: SshNode) -> None:
    thaw = f"thaw-{kafka.pid()}"
    kafka.pause()
    assert kafka.state == "paused" and watchdogs(thaw) == 1
    kafka.unpause()
    assert kafka.state == "running" and watchdogs(thaw) == 0


def test_a_watchdog_heals_by_itself_when_its_time_is_up_and_can_be_cancelled(tmp_path: Path) -> None:
    healed = tmp_path / "healed"
    assert local(watchdog("t1", 1, f"touch {healed}"))[0] == 0
    assert local(watchdog("t2", 60, f"touch {tmp_path / 'never'}"))[0] == 0
    deadline = time.monotonic() + 10
    while not healed.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert healed.exists()  # the harness never came back: the host healed it
    local(cancel_watchdogs("t2"))
    gone = "for i in $(seq 50); do pgrep -f 'kafka-chaos-expir[y] t2|sleep 60$' || exit 0; sleep 0.1; done; exit 1"
    assert local(gone)[0] == 0  # the watchdog and its sleep


def test_a_pid_file_naming_another_program_is_no_kafka_and_is_never_signalled(kafka: SshNode) -> None:
    _check_host(kafka, kafka._config)  # the stand-in passes
    stray = subprocess.Popen(["sleep", "600"])
    try:
        Path(str(kafka._config.kafka.pid_file)).write_text(f"{stray.pid}\n")  # the pid reused by another program
        assert kafka.pid() is None and kafka.state == "exited"
        with pytest.raises(UsageError, match="no Kafka process runs on root@here:22"):
            _check_host(kafka, kafka._config)
        with pytest.raises(InfrastructureError, match="could not send SIGKILL"):
            kafka.kill()
        assert stray.poll() is None  # not killed
    finally:
        stray.kill()


def test_every_broker_must_be_named_and_every_named_node_must_be_the_clusters(tmp_path: Path) -> None:
    config = load_ssh_config(write(tmp_path, GOOD))
    with pytest.raises(UsageError, match=r"the cluster has broker 3, which the SSH config .* does not name"):
        connect_hosts(config, {1, 2, 3}, {1, 2, 3})
    with pytest.raises(UsageError, match=r"names node 2, which is neither a broker nor a controller .*brokers \[1\]"):
        connect_hosts(config, {1}, {1})


def test_the_ssh_config_needs_a_teams_cluster_and_its_consent(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with pytest.raises(UsageError, match="--ssh-config is for a team's cluster: give its --bootstrap-servers too"):
        external_target(None, None, None, path)
    with pytest.raises(
        UsageError, match="--ssh-config reaches the team's hosts for faults, which need the team's consent"
    ):
        external_target("kafka-1:9093", None, None, path)
    target = external_target("kafka-1:9093", None, "abc", path)
    assert target is not None and target.ssh is not None and target.ssh.nodes[1].host == "k1"


def test_a_controller_must_be_named_too_and_clean_connects_without_the_names(tmp_path: Path) -> None:
    config = load_ssh_config(write(tmp_path, GOOD))
    with pytest.raises(UsageError, match=r"the cluster has controller 9, which the SSH config .* does not name"):
        connect_hosts(config, {1, 2}, {9})


def test_a_watchdog_is_cancelled_by_its_own_tag_only(tmp_path: Path) -> None:
    for tag in ("thaw-12", "thaw-123"):
        assert local(watchdog(tag, 60, "true"))[0] == 0
    local(cancel_watchdogs("thaw-12"))
    time.sleep(0.3)
    assert local("pgrep -f 'kafka-chaos-expir[y] thaw-123;'")[0] == 0  # not a prefix match
    assert local("pgrep -f 'kafka-chaos-expir[y] thaw-12;'")[0] != 0
    local(cancel_watchdogs("thaw-123"))


def test_a_failed_command_before_a_watchdog_fails_the_script_and_returns_at_once() -> None:
    started = time.monotonic()
    code, _ = local("false && " + watchdog("t3", 60, "true"))
    assert code != 0 and time.monotonic() - started < 5
    assert local("pgrep -f 'kafka-chaos-expir[y] t3;'")[0] != 0


class Probing:
    """A node whose probe ends as given."""

    host = "h1"

    def __init__(self, code: int, out: str) -> None:
        self.answer = (code, out)

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        assert cmd[:2] == ["env", "LC_ALL=C"]  # the probe's words are English on any host
        return self.answer


@pytest.mark.parametrize(
    ("code", "out", "reached"),
    [
        (0, "", True),
        (1, "bash: connect: Connection refused", True),  # the peer listens elsewhere: packets got through
        (124, "", False),
        (1, "bash: connect: Operation not permitted", False),  # dropped on the way out
        (1, "bash: connect: No route to host", False),
    ],
)
def test_a_probe_counts_a_refusal_as_reaching_the_peer(code: int, out: str, reached: bool) -> None:
    assert reachable(Probing(code, out), "10.0.0.2") is reached  # type: ignore[arg-type]


def test_a_probe_that_proves_nothing_raises() -> None:
    with pytest.raises(FaultError, match=r"cannot tell whether h1 reaches 10\.0\.0\.2: the probe ended with exit 127"):
        reachable(Probing(127, "bash: not found"), "10.0.0.2")  # type: ignore[arg-type]


def test_clean_takes_only_the_harness_s_chains() -> None:
    listing = "-P INPUT ACCEPT\n-N kc-office\n-N kc-0a1b2c3d\n-N kc-connect-workers\n-N kc-0a1b2c3dd\n"
    code, out = local(f"cat <<'EOF' | {LIST_CHAINS}\n{listing}EOF")
    assert code == 0 and out.split() == ["kc-0a1b2c3d"]


def test_a_freeze_or_cut_outlasting_its_watchdog_is_refused(tmp_path: Path) -> None:
    b3 = load_experiment(next((ROOT / "experiments").glob("b3-*.yaml")))
    _check_expiry(b3, 600)  # its isolation lasts 12 s
    with pytest.raises(UsageError, match=r"fault isolate lasts 12 s, and its hosts undo it 40 s after it starts"):
        _check_expiry(b3, 40)
    endless = tmp_path / "endless.yaml"
    endless.write_text(
        "name: endless\ndescription: d\ncluster: {brokers: 3}\ntopic: {replication_factor: 3}\n"
        "producer: {mode: async}\nfaults:\n  - {kind: broker_pause, target: leader, at: 1}\n"
    )
    with pytest.raises(UsageError, match="broker_pause lasts to the end of the run"):
        _check_expiry(load_experiment(endless), 600)
