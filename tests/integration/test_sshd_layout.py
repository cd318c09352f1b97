"""Nodes reached over SSH on a real cluster: ``cluster up --security sasl_ssl --sshd`` prints where
ssh.yaml is, and an SSH client given only that file (its key, and its ``known_hosts`` with every
unknown host refused) kills a broker's Kafka by the pid file while the container and its SSH server
live on, finds the process gone (reaped, not a zombie), starts it again with the file's command
until the cluster is healthy, stops and continues it, and runs iptables; a node stopped by the
engine still shuts Kafka down cleanly; destroying the cluster removes the SSH files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml

import docker
from chaos.cluster import KafkaCluster
from chaos.cluster.sweeper import sweep
from chaos.images.builder import ImageBuilder
from chaos.images.recipes import DEFAULT_KAFKA_VERSION
from chaos.labels import new_run_id
from chaos.waiting import wait_until
from tests.helpers.real_cluster import cli, labelled


def connect(config: dict[str, Any], node_id: int) -> paramiko.SSHClient:
    """An SSH session to node ``node_id`` from ``config`` (ssh.yaml) alone: its user, port and key,
    and its known hosts with any other host refused."""
    client = paramiko.SSHClient()
    client.load_host_keys(config["known_hosts"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        config["nodes"][node_id]["host"],
        port=config["port"],
        username=config["user"],
        key_filename=config["identity_file"],
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    return client


def run(client: paramiko.SSHClient, command: str) -> tuple[int, str]:
    """``command``'s exit status and its output (stdout, then stderr) over ``client``."""
    _, out, err = client.exec_command(command, timeout=60)
    status = out.channel.recv_exit_status()
    return status, out.read().decode() + err.read().decode()


def state(client: paramiko.SSHClient, pid: int) -> str:
    """The state letter of process ``pid`` (``/proc/<pid>/stat``'s third field), or ``gone``."""
    status, stat = run(client, f"cat /proc/{pid}/stat")
    return stat.rsplit(")", 1)[1].split()[0] if status == 0 else "gone"


@pytest.mark.extended
def test_kafka_dies_alone_and_comes_back_over_ssh(engine: docker.DockerClient, tmp_path: Path) -> None:
    ImageBuilder(engine).build_sshd(DEFAULT_KAFKA_VERSION)  # a no-op once built
    run_id = new_run_id()
    try:
        up = cli(
            "cluster", "up", "--brokers", "2", "--controllers", "1", "--security", "sasl_ssl", "--sshd",
            "--run-id", run_id,
        )  # fmt: skip
        cluster = KafkaCluster.attach(run_id, engine, run_dir=tmp_path / "run")
        path = cluster.ssh_config_path()
        assert f"ssh config: {path}\n" in up.stdout and "SASL_SSL: bootstrap.servers=" in up.stdout
        config = yaml.safe_load(path.read_text())
        assert sorted(config["nodes"]) == [1, 2, 1001]
        stranger = paramiko.SSHClient()
        stranger.set_missing_host_key_policy(paramiko.RejectPolicy())  # no known hosts: every host refused
        with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
            stranger.connect(config["nodes"][1]["host"], username="root", key_filename=config["identity_file"])
        ssh = connect(config, 1)
        container = engine.containers.get(cluster.broker(1).name)

        pid = int(run(ssh, f"cat {config['kafka']['pid_file']}")[1])
        assert "kafka.Kafka" in run(ssh, f"tr '\\0' ' ' < /proc/{pid}/cmdline")[1]  # the JVM itself
        assert run(ssh, f"kill -KILL {pid}")[0] == 0
        wait_until(lambda: state(ssh, pid) == "gone", 10, f"pid {pid} to be reaped")  # never a zombie
        container.reload()
        assert container.status == "running"
        ssh.close()
        ssh = connect(config, 1)  # the SSH server still answers a new session
        assert run(ssh, "sh /kafka-chaos/kafka-ctl pid") == (0, f"{pid}\n")

        status, said = run(ssh, config["kafka"]["start"])
        assert status == 0 and said.startswith("kafka-ctl: started Kafka as pid "), said
        restarted = int(run(ssh, "sh /kafka-chaos/kafka-ctl pid")[1])
        assert restarted != pid and said == f"kafka-ctl: started Kafka as pid {restarted}\n"
        assert run(ssh, config["kafka"]["start"]) == (
            0,
            f"kafka-ctl: Kafka already runs as pid {restarted}; not starting another\n",
        )
        t0 = time.monotonic()
        cluster.wait_healthy(120)
        healthy_after = time.monotonic() - t0
        log = cluster.node_logs(["broker-1"])["broker-1"]
        assert log.count("Kafka Server started") == 2, "the restarted Kafka logs into the container's log"

        assert run(ssh, f"kill -STOP {restarted}")[0] == 0
        wait_until(lambda: state(ssh, restarted) == "T", 10, f"pid {restarted} to stop")
        assert run(ssh, f"kill -CONT {restarted}")[0] == 0
        wait_until(lambda: state(ssh, restarted) not in ("T", "gone"), 10, f"pid {restarted} to go on")
        status, rules = run(ssh, "iptables -S")
        assert status == 0 and "-P INPUT ACCEPT" in rules, rules
        ssh.close()
        broker = cluster.broker(2)
        broker.stop()  # the engine's SIGTERM reaches Kafka through host.sh: a clean shutdown
        assert "shut down completed" in broker.logs(tail=50)
        broker.start()
        cluster.wait_healthy(60)
        again = connect(config, 2)  # at the address ssh.yaml names: no other container took it meanwhile
        assert run(again, "true")[0] == 0
        again.close()
        print(f"healthy {healthy_after:.1f}s after Kafka was started again over SSH")

        cluster.destroy()
        assert not path.parent.exists()
        assert labelled(engine, run_id) == []
    finally:
        sweep(engine, run_id)
