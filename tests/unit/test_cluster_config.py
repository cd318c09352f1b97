"""The configuration in force, recorded in the run directory: every key, secrets named and never
shown, what went wrong when the cluster cannot say, and the report's lines."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from kafka.admin import ConfigResource
from kafka.errors import KafkaConnectionError

from chaos import rundir
from chaos.experiments.cluster_config import record
from chaos.reports.in_force import in_force_items

T = TypeVar("T")
SECRET = "org.apache.kafka.common.security.plain.PlainLoginModule required password='hunter2';"


class FakeAdmin:
    """What describe_cluster and describe_configs answer for two brokers and a topic."""

    def describe_cluster(self) -> dict[str, object]:
        return {"cluster_id": "q1Sh-9_ZTQ2Ij0u8yY5p3A", "brokers": [{"broker_id": 2}, {"broker_id": 1}]}

    def describe_features(self) -> dict[str, object]:
        return {"metadata.version": {"finalized": (27, 27)}, "transaction.version": {"finalized": (2, 2)}}

    def describe_configs(self, resources: Sequence[ConfigResource], config_filter: str = "all") -> object:
        assert config_filter == "all"
        broker = {
            "min.insync.replicas": {"value": "2", "config_source": "STATIC_BROKER_CONFIG"},
            "log.flush.interval.messages": {"value": "9223372036854775807", "config_source": "DEFAULT_CONFIG"},
            # a secret a broker sent back although it should not have: still never written
            "listener.name.client.plain.sasl.jaas.config": {"value": SECRET, "config_source": "STATIC_BROKER_CONFIG"},
            "ssl.keystore.password": {"value": None, "config_source": "STATIC_BROKER_CONFIG", "is_sensitive": True},
        }
        other = {**broker, "min.insync.replicas": {"value": "1", "config_source": "STATIC_BROKER_CONFIG"}}
        topic = {"cleanup.policy": {"value": "compact", "config_source": "DYNAMIC_TOPIC_CONFIG"}}
        return {"broker": {"1": broker, "2": other}, "topic": {"orders": topic}}


def caller(admin: object) -> Callable[..., object]:
    def admin_call(fn: Callable[[object], T], attempts: int = 3) -> T:
        return fn(admin)

    return admin_call


def test_every_key_is_recorded_and_no_secret_is_written(tmp_path: Path) -> None:
    record(tmp_path, caller(FakeAdmin()), "orders")  # type: ignore[arg-type]
    text = (tmp_path / rundir.CLUSTER_CONFIG).read_text()
    assert "hunter2" not in text and "PlainLoginModule" not in text
    config = json.loads(text)
    assert config["cluster_id"] == "q1Sh-9_ZTQ2Ij0u8yY5p3A"
    jaas = config["brokers"]["1"]["listener.name.client.plain.sasl.jaas.config"]
    assert jaas == {"source": "STATIC_BROKER_CONFIG", "sensitive": True}
    assert config["brokers"]["2"]["min.insync.replicas"] == {"value": "1", "source": "STATIC_BROKER_CONFIG"}
    assert config["topic"]["orders"]["cleanup.policy"]["value"] == "compact"
    assert sorted(config["brokers"]) == ["1", "2"]  # every broker the cluster reports, none named by the caller
    assert config["features"] == {"metadata.version": 27, "transaction.version": 2}
    items = dict(in_force_items(tmp_path))
    assert items["cluster id"] == "q1Sh-9_ZTQ2Ij0u8yY5p3A"
    shown = items["set on the cluster"]
    assert "min.insync.replicas=broker 1: 2, broker 2: 1" in shown
    assert "listener.name.client.plain.sasl.jaas.config=(sensitive)" in shown and "hunter2" not in shown
    assert "topic cleanup.policy=compact" in shown and "log.flush" not in shown


def test_a_cluster_that_cannot_say_leaves_what_went_wrong(tmp_path: Path) -> None:
    class Down:
        def describe_cluster(self) -> object:
            raise KafkaConnectionError("no broker answered")

    record(tmp_path, caller(Down()), "orders")  # type: ignore[arg-type]
    assert json.loads((tmp_path / rundir.CLUSTER_CONFIG).read_text()) == {
        "error": "KafkaConnectionError: KafkaConnectionError: no broker answered"
    }
    assert in_force_items(tmp_path) == [
        ("configuration in force", "unknown (KafkaConnectionError: KafkaConnectionError: no broker answered)")
    ]
    assert in_force_items(tmp_path / "elsewhere") == []
