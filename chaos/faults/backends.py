"""Fault backends: what performs a fault on a cluster, and which fault kinds each can perform.

A cluster has one backend, chosen with it and checked when an experiment is loaded: a fault kind
the backend cannot perform is refused before anything starts, naming the kind and the backend.

* ``docker``: the harness's own clusters. Every kind: it owns the brokers' containers, their
  network namespaces, toxiproxy and the kcfs disks.
* ``clients``: an external cluster without consent to faults (``--allow-faults-on``). Only what
  acts on the workloads on this machine: kill or freeze a client, or cut or slow its traffic in its
  own network namespace.
* ``kafka-api``: an external cluster with consent. Also what Kafka's own Admin API does to the
  run's topic: change its configuration.
* ``ssh``: an external cluster with consent whose hosts the harness reaches over SSH
  (``--ssh-config``). Also signals to each Kafka process and iptables and tc on its host.

Kubernetes (``docs/kubernetes.md``) would be one backend more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chaos.errors import UsageError

#: Kinds that act on the traffic of one workload, in its own network namespace on this machine.
CLIENT_NETWORK_KINDS = frozenset({"client_cut", "client_bandwidth"})
#: Kinds that act only on the workload processes on this machine (and their namespaces).
CLIENT_KINDS = frozenset({"client_kill", "client_pause"}) | CLIENT_NETWORK_KINDS
#: Kinds that act on the cluster through Kafka's Admin API, on the run's own topic. (Moving replicas
#: and electing leaders name brokers by their processes, which a team's cluster does not give.)
ADMIN_KINDS = frozenset({"topic_config"})
#: Kinds that act on a Kafka process on its host (signals to its pid, its own start command).
PROCESS_KINDS = frozenset({"broker_kill", "broker_stop", "broker_pause", "rolling_bounce"})
#: Kinds made of iptables rules and a tc qdisc on a node's own host (not netem's latency, which
#: hosts without it cannot do, nor the proxy's or the disk's, which need the harness's containers).
HOST_NETWORK_KINDS = frozenset({"isolate", "partition", "bridge", "one_way", "packet_drop", "bandwidth_limit"})


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
SSH = Backend(
    "ssh",
    CLIENT_KINDS | ADMIN_KINDS | PROCESS_KINDS | HOST_NETWORK_KINDS,
    "the workloads, Kafka's Admin API, and each node's process, iptables and tc over SSH",
)


def external_backend(consented: bool, hosts: bool = False) -> Backend:
    """The backend of an external cluster: with the team's consent ``ssh`` when its ``hosts`` are
    reached over SSH, else ``kafka-api``; without it ``clients``."""
    if not consented:
        return CLIENTS
    return SSH if hosts else KAFKA_API


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
        hosts = (
            "give the team's consent (--allow-faults-on) and its hosts (--ssh-config), or "
            if backend is not SSH and SSH.can(kind)
            else ""
        )
        raise UsageError(
            f"{who} asks for fault {kind}, which backend {backend.name} cannot perform (it reaches "
            f"{backend.reaches}; it performs {can}): {hosts or 'remove the fault, or '}run it on a cluster the "
            "harness starts"
        )
