"""The clusters running on an engine, found again by their labels: run ids, and the spec each was
started with (kept on its network as JSON, so ``attach`` can rebuild a handle)."""

from __future__ import annotations

import json
from dataclasses import asdict

import docker
from chaos.cluster.config import ClusterSpec
from chaos.labels import RUN_LABEL, run_filter


def running_runs(client: docker.DockerClient) -> list[str]:
    """Run ids of every cluster on the engine, oldest first."""
    networks = client.networks.list(filters=run_filter(role="network"))
    return sorted({str(n.attrs["Labels"][RUN_LABEL]) for n in networks})


def spec_to_json(spec: ClusterSpec) -> str:
    """The spec as the JSON label of a cluster's network."""
    raw = asdict(spec)
    raw["node_config"] = {str(k): dict(v) for k, v in spec.node_config.items()}
    raw["broker_config"] = dict(spec.broker_config)
    raw["features"] = dict(spec.features)
    return json.dumps(raw, sort_keys=True)


def spec_from_json(text: str) -> ClusterSpec:
    """The spec back from :func:`spec_to_json`."""
    raw = json.loads(text)
    raw["node_config"] = {int(k): v for k, v in raw.get("node_config", {}).items()}
    raw["engines"] = tuple(raw.get("engines", ()))
    return ClusterSpec(**raw)
