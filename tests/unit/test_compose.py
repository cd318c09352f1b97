"""docker-compose.yml's broker configs are exactly what the harness generates."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from chaos.cluster.config import DIRECT_PORT, PROXY_BASE_PORT, ClusterSpec, server_properties
from chaos.cluster.proxy import PROXY_SYSCTLS

ROOT = Path(__file__).resolve().parents[2]


def test_compose_broker_properties_match_the_generator() -> None:
    spec = ClusterSpec()
    for node in spec.nodes():
        path = ROOT / "docker" / "compose" / f"broker-{node.node_id}.properties"
        expected = server_properties(
            spec, node, f"127.0.0.1:{19091 + node.node_id}", f"127.0.0.1:{19191 + node.node_id}"
        )
        assert path.read_text() == expected, f"{path} is stale: regenerate it from server_properties()"


def test_compose_wires_each_proxy_to_its_broker_and_labels_everything() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    proxies = json.loads((ROOT / "docker" / "compose" / "toxiproxy.json").read_text())
    assert [(p["listen"], p["upstream"]) for p in proxies] == [
        (f"0.0.0.0:{PROXY_BASE_PORT + i}", f"broker-{i}:9092") for i in (1, 2, 3)
    ]
    published = services["toxiproxy"]["ports"]
    for i in (1, 2, 3):
        assert f"127.0.0.1:{19091 + i}:{PROXY_BASE_PORT + i}" in published
        # each broker publishes its own direct listener, at the port its properties advertise
        assert services[f"broker-{i}"]["ports"] == [f"127.0.0.1:{19191 + i}:{DIRECT_PORT}"]
    for name, service in services.items():
        assert service["labels"]["kafka-chaos.run"] == "compose", name
    assert compose["networks"]["default"]["labels"]["kafka-chaos.run"] == "compose"
    # toxiproxy's kernel settings are the harness's own
    assert services["toxiproxy"]["sysctls"] == PROXY_SYSCTLS
