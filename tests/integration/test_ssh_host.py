"""The ssh backend's verbs on a real host over real SSH, fast: one container of the kafka-sshd image
running OpenSSH's server and a stand-in Kafka (a process whose command line says ``kafka.Kafka``,
with a pid file), reached with paramiko and checked host keys. Freeze, thaw, kill and start act on
the process; a rule left with its watchdog disappears by itself; ``clean`` undoes a rule, a freeze
and a kill, and leaves a team's own chain alone. The full proof (B2, B3, C1, P1 against the docker
backend; a SIGKILLed harness) is ``tests/experiments/test_ssh_backend.py`` (``extended``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker.models.containers import Container

from chaos.cluster.config import NodeSpec
from chaos.cluster.node_files import tar_dir
from chaos.cluster.ssh import SshSession
from chaos.cluster.ssh_config import SshConfig
from chaos.cluster.ssh_node import SshNode, watchdog
from chaos.cluster.sshd import new_key
from chaos.engine import docker_client
from chaos.errors import UsageError
from chaos.images.builder import ImageBuilder
from chaos.images.recipes import DEFAULT_KAFKA_VERSION
from chaos.labels import new_run_id, resource_name, run_labels

pytestmark = pytest.mark.docker

START = "setsid bash -c 'exec -a kafka.Kafka sleep 100000' </dev/null >/dev/null 2>&1 & echo $! > /run/kafka.pid"
HOST = f"""set -e
mkdir -p /root/.ssh /run/sshd && chmod 700 /root/.ssh
install -m 600 /kafka-chaos/authorized_keys /root/.ssh/authorized_keys
install -m 600 /kafka-chaos/host_key /etc/ssh/ssh_host_ed25519_key
cat > /etc/ssh/sshd_config <<'CONFIG'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
UseDNS no
CONFIG
{START}
exec /usr/sbin/sshd -D -e
"""


@dataclass(frozen=True)
class Host:
    config: SshConfig
    node: SshNode
    container: Container

    def sh(self, script: str) -> str:
        """``script``'s output, run with ``docker exec``: the test's own eyes, not the harness's SSH."""
        output = self.container.exec_run(["sh", "-c", script]).output
        assert isinstance(output, bytes)
        return output.decode()


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    client = docker_client()
    image = ImageBuilder(client).build_sshd(DEFAULT_KAFKA_VERSION)
    run_id = new_run_id()
    user, host_key = new_key(), new_key()
    container = client.containers.create(
        image,
        ["bash", "-c", HOST],
        name=resource_name(run_id, "ssh-host"),
        labels=run_labels(run_id, "ssh-host"),
        cap_add=["NET_ADMIN"],
        init=True,
    )
    try:
        files = {"authorized_keys": f"{user.public}\n".encode(), "host_key": host_key.private}
        container.put_archive("/", tar_dir("kafka-chaos", files))
        container.start()
        container.reload()
        ip = str(container.attrs["NetworkSettings"]["IPAddress"])
        directory = tmp_path_factory.mktemp("ssh")
        (directory / "id").write_bytes(user.private)
        (directory / "id").chmod(0o600)
        (directory / "known_hosts").write_text(f"{ip} {host_key.public}\n")
        config = SshConfig.model_validate(
            {
                "identity_file": str(directory / "id"),
                "known_hosts": str(directory / "known_hosts"),
                "kafka": {"pid_file": "/run/kafka.pid", "start": START},
                "nodes": {1: {"host": ip}},
                "rule_expiry": 60,
            }
        )
        session = SshSession(config, config.nodes[1])
        deadline = time.monotonic() + 30
        while True:  # sshd is up within a second or two of the start
            try:
                session.connect()
                break
            except UsageError:
                assert time.monotonic() < deadline, container.logs().decode()[-2000:]
                time.sleep(0.3)
        node = SshNode(NodeSpec(1, ip, broker=True, controller=False), session.run, config, session.where, ip)
        yield Host(config, node, container)
        session.close()
    finally:
        container.remove(force=True)


def test_freeze_thaw_kill_and_start_act_on_kafka_over_ssh(host: Host) -> None:
    node = host.node
    first = node.pid()
    assert first is not None and node.state == "running"
    node.pause()
    assert node.state == "paused" and host.sh(f"sed 's/.*) //' /proc/{first}/stat | cut -c1").strip() == "T"
    assert host.sh("pgrep -fc 'kafka-chaos-expir[y]'").strip() == "1"  # its thaw waits on the host
    node.unpause()
    assert node.state == "running" and host.sh("pgrep -fc 'kafka-chaos-expir[y]'").strip() == "0"
    node.kill()
    assert node.state == "exited" and "down" in host.sh("ls /var/tmp/kafka-chaos")
    node.start()
    assert node.state == "running" and node.pid() not in (None, first)


def test_a_rule_left_with_its_watchdog_goes_by_itself(host: Host) -> None:
    chain = "kc-0a1b2c3d"
    removal = f"iptables -w -D INPUT -j {chain}; iptables -w -F {chain}; iptables -w -X {chain}"
    code, out = host.node.exec(
        ["sh", "-c", f"{watchdog(chain, 2, removal)} && iptables -w -N {chain} && iptables -w -I INPUT -j {chain}"]
    )
    assert code == 0, out
    assert f"-N {chain}" in host.sh("iptables -S")
    deadline = time.monotonic() + 15
    while f"-N {chain}" in host.sh("iptables -S"):  # nobody heals it: the host does
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert host.sh("pgrep -fc 'kafka-chaos-expir[y]'").strip() == "0"


def test_clean_undoes_a_rule_a_freeze_and_a_kill_and_leaves_the_teams_own_chain(host: Host) -> None:
    node = host.node
    host.sh("iptables -N kc-office && iptables -N kc-11223344 && iptables -I INPUT -j kc-11223344")
    node.pause()
    node.unpause()
    node.pause()
    assert node.state == "paused"
    found = node.clean()
    assert "rule kc-11223344" in found and "thawed" in found and "watchdogs 1" in found, found
    assert node.state == "running"
    node.kill()
    assert node.clean() == ["started"] and node.state == "running"
    chains = host.sh("iptables -S")
    assert "-N kc-office" in chains and "kc-11223344" not in chains
    assert host.sh("pgrep -fc 'kafka-chaos-expir[y]'; ls /var/tmp/kafka-chaos 2>&1 | grep -c 'No such'").split() == [
        "0",
        "1",
    ]


def test_a_host_with_an_unknown_key_or_no_server_is_refused_in_one_sentence(host: Host, tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("")
    unknown = host.config.model_copy(update={"known_hosts": tmp_path / "empty"})
    with pytest.raises(UsageError, match=r"is not in .*empty: add its key \(ssh-keyscan"):
        SshSession(unknown, unknown.nodes[1]).connect()
    closed = host.config.model_copy(update={"port": 2})
    with pytest.raises(UsageError, match=r"could not reach root@.*:2 over SSH"):
        SshSession(closed, closed.nodes[1]).connect()
