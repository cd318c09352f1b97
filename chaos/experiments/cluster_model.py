"""The ``cluster:`` section of an experiment file (part of :mod:`.model`): the harness's cluster
to start, or a team's running one (``external``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chaos.cluster.config import ClusterSpec
from chaos.images.recipes import DEFAULT_KAFKA_VERSION

__all__ = ["ClusterModel", "ExternalModel", "Scalar", "as_properties"]

Scalar = str | int | float | bool


def as_properties(raw: Mapping[str, Scalar]) -> dict[str, str]:
    """Java-style property values as strings (``true``/``false`` for booleans, as Java writes them)."""
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in raw.items()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class ExternalModel(_Strict):
    """A team's running cluster (``docs/external-clusters.md``): where it is, the clients' security
    settings file and its hosts' SSH config (``--ssh-config``'s; both relative to the experiment file).
    Consent to faults on it is never the file's: it is given on the command line (``--allow-faults-on``)."""

    bootstrap_servers: str = Field(min_length=3)
    client_config: Path | None = None
    ssh_config: Path | None = None


class ClusterModel(_Strict):
    """The cluster: brokers, KRaft controllers (0: combined mode), release, settings; or a team's (``external``)."""

    brokers: int = Field(3, ge=1, le=9)
    controllers: int = Field(0, ge=0, le=5)
    kafka_version: str = DEFAULT_KAFKA_VERSION
    broker_config: dict[str, Scalar] = Field(default_factory=dict)
    heap: str = "512m"
    health_timeout: float = Field(120.0, gt=0)
    kafka_image: str | None = Field(None, min_length=1)
    toxiproxy_image: str | None = Field(None, min_length=1)
    #: ``kcfs``: data directories on a disk that can lose power and fail (power_loss, disk_full, disk_error).
    disk: Literal["plain", "kcfs"] = "plain"
    log_dirs: int = Field(1, ge=1, le=4)
    #: Feature levels the storage is formatted with, e.g. ``eligible.leader.replicas.version: 0``.
    features: dict[str, int] = Field(default_factory=dict)
    #: ``dynamic``: a KRaft quorum whose voters can change (KIP-853), with ``spare_controllers``
    #: started as observers for ``voter_add``.
    quorum: Literal["static", "dynamic"] = "static"
    spare_controllers: int = Field(0, ge=0, le=2)
    external: ExternalModel | None = None

    def spec(self, kafka_version: str | None = None) -> ClusterSpec:
        """The :class:`ClusterSpec` (``kafka_version`` overrides the file's). Raises UsageError."""
        return ClusterSpec(
            brokers=self.brokers,
            controllers=self.controllers,
            kafka_version=kafka_version or self.kafka_version,
            broker_config=as_properties(self.broker_config),
            heap=self.heap,
            health_timeout=self.health_timeout,
            kafka_image=self.kafka_image,
            toxiproxy_image=self.toxiproxy_image,
            disk=self.disk,
            log_dirs=self.log_dirs,
            features=dict(self.features),
            quorum=self.quorum,
            spare_controllers=self.spare_controllers,
        )
