"""The SASL_SSL listener on a real cluster: ``cluster up --security sasl_ssl`` prints where it is and
where the client properties are; a client given only those (translated by hand to kafka-python's
arguments, as another client's adapter would) produces and consumes with SCRAM-SHA-512 and with PLAIN;
a wrong password is refused by the broker's authenticator; and after the cluster is destroyed its
client files are gone and no file of its run directory holds the password or a key."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

import docker
from chaos.cluster import KafkaCluster
from chaos.cluster.sweeper import sweep
from chaos.images.recipes import DEFAULT_KAFKA_VERSION
from chaos.labels import new_run_id
from tests.helpers.real_cluster import cli, labelled

#: What the broker logs for each mechanism's refused credentials (its authenticator, not TLS, said no).
REFUSED = {
    "SCRAM-SHA-512": "invalid credentials with SASL mechanism SCRAM-SHA-512",
    "PLAIN": "Invalid username or password",
}


def read_properties(path: Path) -> dict[str, str]:
    """A Java properties file of ``key=value`` lines, as the harness writes them."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def kafka_python_arguments(properties: dict[str, str], bootstrap: str) -> dict[str, str]:
    """kafka-python's arguments for the Java client properties ``properties``."""
    jaas = re.fullmatch(r'\S+ required username="([^"]*)" password="([^"]*)";', properties["sasl.jaas.config"])
    assert jaas, properties["sasl.jaas.config"]
    assert properties["ssl.truststore.type"] == "PEM"
    return {
        "bootstrap_servers": bootstrap,
        "security_protocol": properties["security.protocol"],
        "sasl_mechanism": properties["sasl.mechanism"],
        "sasl_plain_username": jaas[1],
        "sasl_plain_password": jaas[2],
        "ssl_cafile": properties["ssl.truststore.location"],
    }


def round_trip(cluster: KafkaCluster, arguments: dict[str, str]) -> list[bytes]:
    """One record produced and read back by a consumer group, both over ``arguments``; what was read."""
    topic = f"secure-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(topic, partitions=1, replication_factor=1)
    producer = KafkaProducer(acks="all", max_block_ms=30000, **arguments)
    try:
        producer.send(topic, arguments["sasl_mechanism"].encode()).get(timeout=30)
    finally:
        producer.close(timeout=5)
    consumer = KafkaConsumer(
        topic,
        group_id=f"g-{topic}",  # its coordinator is found, and reached, through the secure listener too
        auto_offset_reset="earliest",
        consumer_timeout_ms=30000,
        **arguments,
    )
    try:
        for record in consumer:
            consumer.commit()
            return [record.value]
        return []
    finally:
        consumer.close()


def refused(arguments: dict[str, str]) -> None:
    """Send one record with ``arguments``; raises what the client raises."""
    producer = KafkaProducer(max_block_ms=5000, request_timeout_ms=5000, bootstrap_timeout_ms=5000, **arguments)
    try:
        producer.send("anything", b"x").get(timeout=10)
    finally:
        producer.close(timeout=1)


@pytest.mark.extended
@pytest.mark.parametrize("version", [DEFAULT_KAFKA_VERSION, "3.9.1"])
def test_clients_given_the_properties_reach_the_sasl_ssl_listener_and_nothing_leaks(
    engine: docker.DockerClient, tmp_path: Path, version: str
) -> None:
    run_id = new_run_id()
    try:
        up = cli(
            "cluster", "up", "--brokers", "1", "--security", "sasl_ssl", "--kafka-version", version, "--run-id", run_id
        )
        cluster = KafkaCluster.attach(run_id, engine, run_dir=tmp_path / "run")  # the ports found again
        scram, plain = cluster.client_config_path(), cluster.client_config_path("PLAIN")
        bootstrap = cluster.secure_bootstrap_servers
        assert re.fullmatch(rf"{re.escape(cluster.host)}:\d+", bootstrap)
        assert bootstrap != cluster.direct_bootstrap_servers
        assert f"SASL_SSL: bootstrap.servers={bootstrap}\n" in up.stdout
        assert f"client config (SCRAM-SHA-512): {scram}\nclient config (PLAIN): {plain}\n" in up.stdout
        password = kafka_python_arguments(read_properties(scram), bootstrap)["sasl_plain_password"]
        assert len(password) == 48 and password not in up.stdout + up.stderr

        for path in (scram, plain):
            arguments = kafka_python_arguments(read_properties(path), bootstrap)
            assert round_trip(cluster, arguments) == [arguments["sasl_mechanism"].encode()]
            with pytest.raises(KafkaError):
                refused({**arguments, "sasl_plain_password": password[::-1]})
        log = cluster.node_logs(["broker-1"])["broker-1"]
        assert all(REFUSED[mechanism] in log for mechanism in REFUSED), "the broker logged no refused login"

        status = cluster.status()
        assert status.get("secure_bootstrap_servers") == bootstrap
        cluster.destroy()  # its logs copied into the run directory first
        assert not scram.parent.exists()
        assert labelled(engine, run_id) == []
        written = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
        assert {p.name for p in written} >= {"broker-1.log", "toxiproxy.log"}
        for path in written:
            text = path.read_bytes()
            assert password.encode() not in text and b"PRIVATE KEY" not in text, f"{path} holds a secret"
    finally:
        sweep(engine, run_id)
