"""docker-compose.yml brings up a working cluster by hand, and `kafka-chaos clean` removes it."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError

import docker
from chaos.toxiproxy import ToxiproxyClient
from chaos.waiting import wait_until
from tests.helpers.real_cluster import cli, labelled

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    """``docker compose`` (the plugin) where it exists, else Debian's ``docker-compose``."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0
    command = ["docker", "compose"] if plugin else [shutil.which("docker-compose") or "docker-compose"]
    return subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "-p", "kafka-chaos-compose", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def wait_for_brokers(count: int, timeout: float = 120) -> KafkaAdminClient:
    def registered() -> KafkaAdminClient | None:
        try:
            admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=5000)
        except (KafkaError, OSError):
            return None
        try:
            if len(admin.describe_cluster()["brokers"]) == count:
                return admin
        except (KafkaError, OSError):
            pass
        admin.close()
        return None

    return wait_until(registered, timeout, f"{count} brokers to register", interval=1.0)


@pytest.mark.extended  # the file itself is checked in tests/unit/test_compose.py
def test_compose_up_serves_records_and_clean_removes_it(engine: docker.DockerClient) -> None:
    assert labelled(engine, "compose") == [], "a compose cluster is already up: run `kafka-chaos clean`"
    compose("up", "-d")
    try:
        admin = wait_for_brokers(3)
        topic = f"compose-{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(topic, 3, 3)])
        admin.close()
        producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", retries=10)
        futures = [producer.send(topic, f"r{i}".encode()) for i in range(300)]
        producer.flush(timeout=60)
        acked = [f.get(timeout=30) for f in futures]  # raises for any record not acknowledged
        assert len({(m.partition, m.offset) for m in acked}) == 300
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest", consumer_timeout_ms=10_000)
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        assert sorted(m.value for m in consumer) == sorted(f"r{i}".encode() for i in range(300))
        consumer.close()
        # every client address is a proxy of the compose file's toxiproxy
        proxies = ToxiproxyClient("http://127.0.0.1:18474").proxies()
        assert {name: p.upstream for name, p in proxies.items()} == {
            f"broker-{i}": f"broker-{i}:9092" for i in (1, 2, 3)
        }
        assert len(labelled(engine, "compose")) == 5  # 3 brokers, toxiproxy, network
    finally:
        cli("clean", "--run-id", "compose")
    assert labelled(engine, "compose") == []
