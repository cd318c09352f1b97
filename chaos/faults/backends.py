"""Fault backends: what performs a fault on a cluster, and which fault kinds each can perform.

A cluster has one backend, chosen with it and checked when an experiment is loaded: a fault kind
the backend cannot perform is refused before anything starts, naming the kind and the backend.

* ``docker``: the harness's own clusters. Every kind: it owns the brokers' containers, their
  network namespaces, toxiproxy and the kcfs disks.
* ``clients``: an external cluster without consent to faults (``--allow-faults-on``). Only what
  acts on the workloads on this machine: kill or freeze a client.
* ``kafka-api``: an external cluster with consent. Also what Kafka's own Admin API does to the
  run's topic: change its configuration.

Hosts reached over SSH and Kubernetes (``docs/kubernetes.md``) would be one backend each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chaos.errors import UsageError

#: Kinds that act only on the workload processes on this machine.
CLIENT_KINDS = frozenset({"client_kill", "client_pause"})
#: Kinds that act on the cluster through Kafka's Admin API, on the run's own topic. (Moving replicas
#: and electing leaders name brokers by their processes, which a team's cluster does not give.)
ADMIN_KINDS = frozenset({"topic_config"})


@dataclass(frozen=True, slots=True)
class Backend:
    """A way of performing faults: its ``name``, the ``kinds`` it can perform (None: every kind),
    and what it reaches (for the refusal's sentence)."""

    name: str
    kinds: frozenset[str] | None
    reaches: str

    def can(self, kind: str) -> bool:
        """Whether this backend performs ``kind``."""
        return self.kinds is None or kind in self.kinds


DOCKER = Backend("docker", None, "the brokers' containers, networks and disks")
CLIENTS = Backend("clients", CLIENT_KINDS, "only the workloads on this machine")
KAFKA_API = Backend("kafka-api", CLIENT_KINDS | ADMIN_KINDS, "the workloads and Kafka's Admin API")


def external_backend(consented: bool) -> Backend:
    """The backend of an external cluster: ``kafka-api`` with the team's consent, else ``clients``."""
    return KAFKA_API if consented else CLIENTS


def check_kinds(kinds: Iterable[str], backend: Backend, who: str, consent_hint: str = "") -> None:
    """Refuse an experiment asking for a fault kind ``backend`` cannot perform.

    ``consent_hint`` is added when consent would have let the kind run (``clients`` backend).

    Raises:
        UsageError: naming the first such kind, the backend and what it reaches.
    """
    for kind in sorted(set(kinds)):
        if backend.can(kind):
            continue
        if backend is CLIENTS and KAFKA_API.can(kind):
            raise UsageError(
                f"{who} asks for fault {kind}, which acts on the cluster, and faults on a team's cluster need its "
                f"consent: {consent_hint or 'pass --allow-faults-on with the cluster id'}"
            )
        can = ", ".join(sorted(backend.kinds or ()))
        raise UsageError(
            f"{who} asks for fault {kind}, which backend {backend.name} cannot perform (it reaches "
            f"{backend.reaches}; it performs {can}): remove the fault, or run it on a cluster the harness starts"
        )
