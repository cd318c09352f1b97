"""Host ports of the brokers' direct (and secure) listeners: drawn here, shown free by the engine, then
fixed for the cluster's life.

A broker advertises its direct address (``DIRECT://<host>:<port>``) in its server.properties, which
is written before its container starts, and must advertise the same address after every restart:
a client that learnt it from metadata connects there. A port the engine picks when a container
starts is known only after the start and changes at every restart (Docker allocates a random
published port anew each time a container starts). So the ports are fixed before the brokers
exist: a short-lived container publishes one port per broker, which shows the engine can bind them, is
removed, and each broker's container is then created publishing its port explicitly, which a
restart binds again.

The ports are drawn at random from below the kernel's ephemeral port range (20000-32767 with
Linux's default range 32768-60999) and the engine is asked to publish exactly those: it alone can
say whether they are free, as it may be remote (``DOCKER_HOST``). A port the engine reports taken
is drawn again. The range matters: every outgoing connection on the engine's host takes a local port
from the ephemeral range, and a client connection holding a broker's port on the loopback address
keeps that broker from starting (``bind: address already in use``); a port Docker's own allocator
picks comes from that very range. Drawing at random also keeps two harnesses reserving at the same
moment apart. Two windows remain in which something else on the engine's host could take a port:
between the reservation and the brokers' start, and while a broker is down. A broker's start then
fails, saying so (:meth:`chaos.cluster.node.Node.start`); nothing advertises a wrong address.

Docker's publishing still relays the bytes (with its default userland proxy, a ``docker-proxy``
process per port), but only while the broker's container runs: a client of a killed broker is
refused at once, where toxiproxy's listener stays up, accepts, and dials a vanished address.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path

import docker.errors
from docker.models.containers import Container

import docker
from chaos.errors import InfrastructureError, UsageError

#: The reservation container's own ports (nothing listens on them: only their host side matters).
_FIRST = 30001

#: How many draws of ports the engine may report taken before the reservation gives up.
ATTEMPTS = 8

#: Phrases of the engine's refusal to publish a port that something else holds.
_TAKEN = ("port is already allocated", "address already in use")

_LOCAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")

#: Where the ports are drawn instead, ``LOW-HIGH`` (both included): ``kafka-chaos run --engines`` gives
#: each engine's runs a range of their own, so engines publishing on one host never draw the same port.
PORTS_ENV = "KAFKA_CHAOS_PORTS"


def ephemeral_floor(path: Path = _LOCAL_RANGE) -> int:
    """The lowest port of this machine's ephemeral range (32768 when it cannot be read)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_span(floor: int, environ: Mapping[str, str] = os.environ) -> range:
    """The ports drawn from: ``KAFKA_CHAOS_PORTS`` when set, else the 12,768 ports below ``floor``
    (never below 1024).

    Raises:
        UsageError: ``KAFKA_CHAOS_PORTS`` is not ``LOW-HIGH`` with 1024 <= LOW < HIGH <= 65535.

    >>> port_span(32768), port_span(32768, {"KAFKA_CHAOS_PORTS": "20000-26383"})
    (range(20000, 32768), range(20000, 26384))
    """
    text = environ.get(PORTS_ENV, "").strip()
    if not text:
        return range(max(1024, floor - 12768), floor)
    low, _, high = text.partition("-")
    if not (low.isdigit() and high.isdigit() and 1024 <= int(low) < int(high) <= 65535):
        raise UsageError(f"{PORTS_ENV}={text} is not a range of ports such as 20000-26383")
    return range(int(low), int(high) + 1)


def split_span(span: range, parts: int) -> list[str]:
    """``span`` cut into ``parts`` ranges of their own, each as ``KAFKA_CHAOS_PORTS`` writes it.

    >>> split_span(range(20000, 32768), 2)
    ['20000-26383', '26384-32767']
    """
    size = len(span) // parts
    return [f"{span.start + i * size}-{span.start + (i + 1) * size - 1}" for i in range(parts)]


def draw_ports(count: int, rng: random.Random, span: range) -> list[int]:
    """``count`` distinct ports drawn from ``span`` (:func:`port_span`).

    >>> span = range(20000, 32768)
    >>> len(set(draw_ports(30, random.Random(1), span))), all(p in span for p in draw_ports(50, random.Random(2), span))
    (30, True)
    """
    return rng.sample(span, count)


def reserve_ports(
    client: docker.DockerClient,
    image: str,
    count: int,
    *,
    bind: str,
    name: str,
    network: str,
    labels: dict[str, str],
    rng: random.Random | None = None,
) -> list[int]:
    """``count`` free host ports on ``bind``, drawn below the ephemeral range and shown free by the
    engine publishing them, released again for the caller to publish explicitly.

    ``image`` runs for the moment it takes the engine to publish its ports; it must start a process
    that keeps running with ``-host=127.0.0.1`` as its arguments (the toxiproxy image does). The
    container carries ``labels``, so a harness killed meanwhile leaves it to ``kafka-chaos clean``.
    ``rng`` draws the ports (default: the system's randomness, never a seeded generator: two
    harnesses seeded alike would draw the same ports).

    Raises:
        InfrastructureError: the engine reported ports taken in each of :data:`ATTEMPTS` draws, or
            did not publish a port.
        docker.errors.APIError: the engine refused to create or start the container otherwise.
    """
    draw = rng or random.SystemRandom()
    floor = ephemeral_floor()
    span = port_span(floor)
    inside = [_FIRST + i for i in range(count)]
    for _ in range(ATTEMPTS):
        wanted = draw_ports(count, draw, span)
        publish = {f"{port}/tcp": (bind, host) for port, host in zip(inside, wanted, strict=True)}
        container: Container = client.containers.create(
            image, ["-host=127.0.0.1"], name=name, labels=labels, network=network, ports=publish
        )
        try:
            container.start()
        except docker.errors.APIError as e:
            if not any(phrase in str(e) for phrase in _TAKEN):
                raise
            continue
        else:
            return _published(container, inside, name)
        finally:
            container.remove(force=True)
    raise InfrastructureError(
        f"Docker reported the ports drawn for {name} taken {ATTEMPTS} times: free some ports in "
        f"{span.start}-{span.stop - 1} on the engine's host"
    )


def by_broker(reserved: list[int], brokers: int) -> tuple[dict[int, int], dict[int, int]]:
    """The reserved ports by broker id: the first ``brokers`` for the direct listeners, the next
    ``brokers`` for the secure ones (none reserved for them: empty).

    Raises:
        ValueError: ``reserved`` holds neither one nor two ports per broker.

    >>> by_broker([20001, 20002, 20003, 20004], 2)
    ({1: 20001, 2: 20002}, {1: 20003, 2: 20004})
    >>> by_broker([20001, 20002], 2)
    ({1: 20001, 2: 20002}, {})
    """
    if len(reserved) not in (brokers, 2 * brokers):
        raise ValueError(f"{len(reserved)} ports reserved for {brokers} brokers: one or two each")
    ids = range(1, brokers + 1)
    secure = dict(zip(ids, reserved[brokers:], strict=True)) if len(reserved) > brokers else {}
    return dict(zip(ids, reserved[:brokers], strict=True)), secure


def _published(container: Container, inside: list[int], name: str) -> list[int]:
    container.reload()
    bound = container.attrs["NetworkSettings"]["Ports"] or {}
    ports: list[int] = []
    for port in inside:
        entries = bound.get(f"{port}/tcp") or []
        if not entries or not entries[0].get("HostPort"):
            raise InfrastructureError(f"Docker did not publish a port of {name}: the direct listeners have none")
        ports.append(int(entries[0]["HostPort"]))
    return ports


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
