"""A cluster spread over several Docker engines of this machine (``ClusterSpec.engines``).

Each engine gets the run's network under the same name, on a subnet the engine draws from its own
pool (asked by creating the network once, then made again with that subnet given, so that nodes
can have addresses fixed before they start). Node ``k`` of an engine takes the subnet's ``k + 2``-th
address; the engine hands out others (toxiproxy's, the port reservation's) from the upper half
only. An engine's DNS knows only its own containers, so every node and toxiproxy get every node's
name and address in ``/etc/hosts``; the machine routes between the engines' bridges
(``scripts/second-engine`` lets it forward between them). Toxiproxy and the port reservation run on
the engine the harness talks to (``DOCKER_HOST``), which must be one of the cluster's; each node's
published ports open on this machine's loopback whichever engine runs it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from docker.models.networks import Network
from docker.types import IPAMConfig, IPAMPool

import docker
from chaos.cluster.config import ClusterSpec
from chaos.cluster.containers import required_images
from chaos.cluster.registry import spec_from_json
from chaos.cluster.sweeper import SweepResult, sweep
from chaos.engine import engine_address
from chaos.errors import DockerUnavailable, ImageMissing, UsageError
from chaos.labels import SPEC_LABEL, run_filter


class Connect(Protocol):
    """Connects to the engine at ``address`` (:func:`chaos.engine.docker_client`)."""

    def __call__(self, timeout: float = 60, address: str | None = None) -> docker.DockerClient:
        """A client of the engine; raises DockerUnavailable when it does not answer."""
        ...


@dataclass
class Spread:
    """The engines of a spread cluster (by address, the harness's own among them) and each node's
    fixed address on its engine's network."""

    clients: dict[str, docker.DockerClient]
    addresses: dict[int, str]
    spec: ClusterSpec

    def client_of(self, node_id: int) -> docker.DockerClient:
        """The client of the engine node ``node_id`` runs on."""
        engine = self.spec.engine_of(node_id)
        assert engine is not None
        return self.clients[engine]

    def hosts(self) -> dict[str, str]:
        """Every node's name and address, for ``/etc/hosts``."""
        return {n.host: self.addresses[n.node_id] for n in self.spec.nodes()}

    def others(self, home: str) -> Iterator[docker.DockerClient]:
        """The clients of the engines other than ``home``."""
        return (client for address, client in self.clients.items() if address != home)


def spread_networks(
    spec: ClusterSpec,
    home: docker.DockerClient,
    home_address: str,
    name: str,
    labels: Mapping[str, str],
    connect: Connect,
) -> Spread:
    """Create the run's network ``name`` on every engine of ``spec`` and fix each node's address.

    Raises:
        UsageError: the harness's own engine (``home_address``) is not one of the cluster's.
        DockerUnavailable: an engine does not answer.
        ImageMissing: an engine lacks an image of ``spec`` (the sentence says how to copy it there).
        docker.errors.APIError: an engine refused a network.
    """
    if home_address not in spec.engines:
        raise UsageError(
            f"the engine the harness talks to ({home_address}) is not one of the cluster's engines "
            f"({', '.join(spec.engines)}): set DOCKER_HOST to one of them"
        )
    clients = {engine: home if engine == home_address else connect(address=engine) for engine in spec.engines}
    for engine, client in clients.items():  # the images, before anything is made on any engine
        try:
            required_images(client, spec)
        except ImageMissing as e:
            raise ImageMissing(
                f"engine {engine}: {str(e).split(': ')[0]}: copy the images there with `docker save IMAGE | "
                f"docker -H {engine} load` (scripts/second-engine does for its engine)"
            ) from None
    addresses: dict[int, str] = {}
    for engine, client in clients.items():
        probe = client.networks.create(name, driver="bridge", labels=dict(labels))
        subnet = ipaddress.IPv4Network(probe.attrs["IPAM"]["Config"][0]["Subnet"])
        probe.remove()
        upper = list(subnet.subnets(prefixlen_diff=1))[1]
        pool = IPAMPool(subnet=str(subnet), iprange=str(upper))
        client.networks.create(
            name, driver="bridge", ipam=IPAMConfig(pool_configs=[pool]), labels=dict(labels), check_duplicate=True
        )
        mine = [n for n in spec.nodes() if spec.engine_of(n.node_id) == engine]
        addresses.update({n.node_id: str(subnet.network_address + 2 + k) for k, n in enumerate(mine)})
    return Spread(clients, addresses, spec)


def engines_of(networks: list[Network], read_spec: Callable[[str], ClusterSpec]) -> set[str]:
    """The engines named by the spec labels of ``networks`` (a spread cluster's), for a sweep to
    follow; a label that does not parse names none."""
    found: set[str] = set()
    for network in networks:
        with suppress(KeyError, ValueError, TypeError, UsageError):
            found.update(read_spec(network.attrs["Labels"][SPEC_LABEL]).engines)
    return found


def sweep_everywhere(
    client: docker.DockerClient, run_id: str | None, connect: Connect, images: bool = False
) -> SweepResult:
    """:func:`~chaos.cluster.sweeper.sweep` on ``client``'s engine, and on every other engine a spread
    cluster of ``run_id`` (every run's when None) names in its network's spec label; an engine that
    does not answer is a failure of the result, not an error."""
    networks = client.networks.list(filters=run_filter(run_id, role="network"))
    others = engines_of(networks, spec_from_json) - {engine_address()}
    result = sweep(client, run_id, images=images)
    for address in sorted(others):
        try:
            other = sweep(connect(address=address), run_id)
        except DockerUnavailable as e:
            result.failures.append(str(e))
            continue
        result.containers += other.containers
        result.networks += other.networks
        result.failures += other.failures
    return result
