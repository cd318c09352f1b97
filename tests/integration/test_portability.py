"""Running elsewhere: images the harness did not build, and an engine reached at another address.

Any broker image with java and /opt/kafka/libs runs. No registry is reachable here, so a test builds
locally an image shaped like ``apache/kafka``: Kafka runs as a non-root user behind an entrypoint
wrapper, with no AppCDS archives.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

import docker
from chaos.cluster import HEALTH_TOPIC, ClusterSpec, KafkaCluster
from chaos.images.recipes import DEFAULT_KAFKA_VERSION, kafka_tag
from chaos.labels import IMAGE_LABEL, new_run_id
from tests.helpers.real_cluster import cli, labelled

OTHER = "kafka-chaos-test/apache-like:1"

DOCKERFILE = f"""\
FROM {kafka_tag(DEFAULT_KAFKA_VERSION)}
RUN rm -f /opt/kafka/*.jsa && useradd -u 1000 -m appuser \\
 && mkdir -p /var/lib/kafka/data && chown -R appuser /var/lib/kafka
COPY entry.sh /entry.sh
USER appuser
ENTRYPOINT ["/entry.sh"]
"""
ENTRY = b'#!/bin/sh\necho "apache-like entrypoint as $(id -un)" >&2\nexec "$@"\n'


@pytest.fixture(scope="module")
def other_image(engine: docker.DockerClient) -> Iterator[str]:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data, mode in (("Dockerfile", DOCKERFILE.encode(), 0o644), ("entry.sh", ENTRY, 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    engine.images.build(fileobj=context, custom_context=True, tag=OTHER, rm=True, labels={IMAGE_LABEL: "test"})
    yield OTHER
    engine.images.remove(OTHER, force=True)


def test_a_differently_built_broker_image_runs(engine: docker.DockerClient, other_image: str, run_dir: Path) -> None:
    # One broker: the image is what is on trial (it starts no faster than ours, having no CDS archive).
    with KafkaCluster(ClusterSpec(brokers=1, kafka_image=other_image), run_dir=run_dir) as cluster:
        broker = cluster.broker(1)
        assert broker.container.image.tags == [other_image]  # type: ignore[union-attr]
        assert "apache-like entrypoint as appuser" in broker.logs()
        # Kafka runs as the image's user; fault commands still run as root (iptables, tc)
        assert broker.exec(["ps", "-o", "user=", "-p", "1"])[1].strip() == "appuser"
        assert broker.exec(["iptables", "-L", "OUTPUT"])[0] == 0

        cluster.create_topic("other", partitions=3, replication_factor=1)
        producer = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all")
        futures = [producer.send("other", f"r{i}".encode()) for i in range(200)]
        producer.flush(timeout=60)
        acked = [f.get(timeout=30) for f in futures]  # raises for any record not acknowledged
        assert len({(m.partition, m.offset) for m in acked}) == 200
        producer.close()
        consumer = KafkaConsumer(
            bootstrap_servers=cluster.bootstrap_servers, auto_offset_reset="earliest", consumer_timeout_ms=10_000
        )
        consumer.assign([TopicPartition("other", p) for p in range(3)])
        assert len(list(consumer)) == 200
        consumer.close()
        run_id = cluster.run_id
    assert labelled(engine, run_id) == []


def test_a_named_image_that_is_not_there_says_how_to_get_it(engine: docker.DockerClient) -> None:
    run_id = new_run_id()
    proc = cli("cluster", "up", "--kafka-image", "example.invalid/kafka:0", "--run-id", run_id, check=False)
    assert proc.returncode == 3
    assert "image example.invalid/kafka:0 is not on this Docker engine: `docker pull" in proc.stderr
    assert "never pulls" in proc.stderr
    assert labelled(engine, run_id) == []


def test_brokers_advertise_the_host_the_engine_is_reached_at(
    engine: docker.DockerClient, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A remote engine (DOCKER_HOST=tcp://docker:2375) publishes on its own host; here the same path
    # is taken with another name for this machine, which stays on loopback.
    monkeypatch.setenv("KAFKA_CHAOS_HOST", "localhost")
    with KafkaCluster(ClusterSpec(brokers=1), run_dir=run_dir) as cluster:
        assert cluster.bootstrap_servers.startswith("localhost:")
        assert cluster.toxiproxy.url.startswith("http://localhost:")
        producer = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all")
        metadata = producer.send(HEALTH_TOPIC, b"via localhost").get(timeout=30)
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=cluster.bootstrap_servers, consumer_timeout_ms=10_000)
        consumer.assign([TopicPartition(HEALTH_TOPIC, metadata.partition)])
        consumer.seek(TopicPartition(HEALTH_TOPIC, metadata.partition), metadata.offset)
        assert next(iter(consumer)).value == b"via localhost"
        consumer.close()
        labels = [f"kafka-chaos.run={cluster.run_id}", "kafka-chaos.role=toxiproxy"]
        toxiproxy = engine.containers.list(filters={"label": labels})
        bindings = [b for entries in toxiproxy[0].ports.values() for b in entries or []]
        assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}  # a loopback name binds loopback only
