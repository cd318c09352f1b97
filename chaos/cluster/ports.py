"""Host ports of the brokers' direct listeners: picked by the engine, then fixed for the cluster's life.

A broker advertises its direct address (``DIRECT://<host>:<port>``) in its server.properties, which
is written before its container starts, and must advertise the same address after every restart:
a client that learnt it from metadata connects there. A port the engine picks when a container
starts is known only after the start and changes at every restart (Docker allocates a random
published port anew each time a container starts). So the ports are fixed before the brokers
exist: a short-lived container publishes one port per broker and lets the engine pick them, is
removed, and each broker's container is then created publishing its port explicitly, which a
restart binds again.

The engine picks the ports, not this process, because the engine may be remote (``DOCKER_HOST``):
only it knows which of its ports are free. Docker's allocator moves on from the last port it
handed out rather than back to the lowest free one, so a port just released is not normally handed
to the next container. Two windows remain in which something else on the engine's host could take
a port: between the reservation and the brokers' start, and while a broker is down. A broker's
start then fails, saying so (:meth:`chaos.cluster.node.Node.start`); nothing advertises a wrong
address.

Docker's publishing still relays the bytes (with its default userland proxy, a ``docker-proxy``
process per port), but only while the broker's container runs: a client of a killed broker is
refused at once, where toxiproxy's listener stays up, accepts, and dials a vanished address.
"""

from __future__ import annotations

from docker.models.containers import Container

import docker
from chaos.errors import InfrastructureError

#: The reservation container's own ports (nothing listens on them: only their host side matters).
_FIRST = 30001


def reserve_ports(
    client: docker.DockerClient,
    image: str,
    count: int,
    *,
    bind: str,
    name: str,
    network: str,
    labels: dict[str, str],
) -> list[int]:
    """``count`` free host ports on ``bind``, picked by the engine, released again for the caller
    to publish explicitly.

    ``image`` runs for the moment it takes the engine to publish its ports; it must start a process
    that keeps running with ``-host=127.0.0.1`` as its arguments (the toxiproxy image does). The
    container carries ``labels``, so a harness killed meanwhile leaves it to ``kafka-chaos clean``.

    Raises:
        InfrastructureError: the engine did not publish a port.
        docker.errors.APIError: the engine refused to create or start the container.
    """
    inside = [_FIRST + i for i in range(count)]
    # docker-py takes (host_ip, None) for "this address, any free port"; its stubs type ports only.
    publish = {f"{port}/tcp": (bind, None) for port in inside}
    container: Container = client.containers.run(  # type: ignore[call-overload]
        image,
        ["-host=127.0.0.1"],
        detach=True,
        name=name,
        labels=labels,
        network=network,
        ports=publish,
    )
    try:
        container.reload()
        bound = container.attrs["NetworkSettings"]["Ports"] or {}
        ports: list[int] = []
        for port in inside:
            entries = bound.get(f"{port}/tcp") or []
            if not entries or not entries[0].get("HostPort"):
                raise InfrastructureError(f"Docker did not publish a port of {name}: the direct listeners have none")
            ports.append(int(entries[0]["HostPort"]))
        return ports
    finally:
        container.remove(force=True)


def published_port(container: Container, port: int) -> int | None:
    """The host port ``container`` was created to publish ``port``/tcp on (None: it publishes none,
    or one the engine picks at each start).

    Read from the container's configuration, not its running state, so it is known while the
    container is stopped too (a killed broker found again by ``attach``).
    """
    bindings = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
    entries = bindings.get(f"{port}/tcp") or []
    host_port = str(entries[0].get("HostPort") or "") if entries else ""
    return int(host_port) if host_port.isdigit() else None
