"""The toxiproxy container of a cluster, started through testcontainers, its published ports, and
one proxy per broker.

testcontainers serves one container well: create it, start it and wait for a readiness check with a
deadline, and attach the container's log to the error when the wait times out. The toxiproxy
container is such a container (its HTTP API answering ``/version`` means it is ready). Brokers are
not started this way: a cluster starts them all before waiting, and "ready" is a cluster-wide
property (every broker registered, full ISR) that :meth:`KafkaCluster.wait_healthy` checks.

testcontainers' Ryuk reaper is not started: its image lives on a container registry, which a
machine without one cannot pull. Every container still carries the run's labels, and
``kafka-chaos clean`` is the reaper.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from docker.models.containers import Container
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

import docker
from chaos.cluster.config import CLIENT_PORT, PROXY_BASE_PORT, TOXIPROXY_API_PORT
from chaos.engine import LOOPBACK, bind_address
from chaos.errors import InfrastructureError
from chaos.toxiproxy import ToxiproxyClient

#: Kernel settings of toxiproxy's own network namespace. toxiproxy 2.5 dials a new client's upstream
#: inside its accept loop, without a timeout: while one dial waits, no other client of that proxy is
#: accepted. A killed broker's container takes its address with it, and a dial to that address is
#: never refused, only unanswered; with Linux's 6 SYN retries it waits over two minutes, and every
#: client of that broker with it, long after the broker is back (seen: a restarted broker unreachable
#: for 15 s while it was in the ISR, a new client of a dead one held for over a minute). One retry
#: bounds such a dial to 3 s.
PROXY_SYSCTLS = {"net.ipv4.tcp_syn_retries": "1"}


class PublishedContainer(DockerContainer):
    """A testcontainers container whose ports are published on one address, reached at ``host``.

    Docker publishes on every interface unless told an address. With a local engine the harness's
    proxies listen on 127.0.0.1 only, so they are not reachable from other machines.
    """

    def __init__(self, image: str, *, host: str, name: str) -> None:
        super().__init__(image, name=name)
        self._host = host
        self._bind = bind_address(host)

    def with_published_port(self, port: int) -> Self:
        """Publish ``port``/tcp on a free port of the bind address."""
        # docker-py takes (host_ip, None) for "this address, any free port"; testcontainers types ints only.
        self.ports[f"{port}/tcp"] = (self._bind, None)  # type: ignore[assignment]
        return self

    def get_container_host_ip(self) -> str:
        """Where this process reaches the published ports (see :func:`chaos.engine.published_host`)."""
        return self._host


@contextmanager
def _without_reaper() -> Iterator[None]:
    """Start containers without Ryuk, restoring the caller's own testcontainers setting afterwards."""
    before = testcontainers_config.ryuk_disabled
    testcontainers_config.ryuk_disabled = True
    try:
        yield
    finally:
        testcontainers_config.ryuk_disabled = before


def start_toxiproxy(
    client: docker.DockerClient,
    image: str,
    *,
    name: str,
    network: str,
    labels: dict[str, str],
    ports: list[int],
    host: str = LOOPBACK,
    timeout: float = 15.0,
    hosts: dict[str, str] | None = None,
) -> Container:
    """Start toxiproxy on ``network``, publish ``ports`` (see ``host``) and wait for its API.

    ``ports[0]`` is the API port; the rest are proxy listen ports. ``host`` is where this process
    reaches them (127.0.0.1: published on loopback only; another host: on every interface). The
    container is returned as seen through ``client`` (testcontainers' own connection is closed once
    it has started). ``hosts`` (name: address) go into its ``/etc/hosts``: the nodes of a cluster
    spread over engines, whose DNS names only their own.

    Raises:
        InfrastructureError: the API did not answer within ``timeout`` seconds; the container's log is
            attached as a note. The container is left for the caller's teardown (it carries ``labels``).
    """
    container = (
        PublishedContainer(image, host=host, name=name)
        .with_command(["-host=0.0.0.0"])
        .with_kwargs(network=network, labels=labels, sysctls=PROXY_SYSCTLS, extra_hosts=hosts or {})
        .waiting_for(HttpWaitStrategy(ports[0], "/version").with_startup_timeout(int(timeout)))
    )
    for port in ports:
        container.with_published_port(port)
    try:
        with _without_reaper():
            container.start()
    except TimeoutError as e:
        error = InfrastructureError(f"toxiproxy's API did not answer within {timeout:.0f}s: see its log below")
        for note in getattr(e, "__notes__", []):
            error.add_note(note)
        raise error from e
    finally:
        container.get_docker_client().client.close()
    return client.containers.get(container.get_container_id())


def proxy_ports(container: Container, brokers: int) -> tuple[int, dict[int, int]]:
    """The host ports toxiproxy's ``container`` publishes: its API's, and each broker's proxy's by
    broker id (1..``brokers``).

    Raises:
        InfrastructureError: Docker did not publish one of them.
    """
    container.reload()
    bound = container.attrs["NetworkSettings"]["Ports"] or {}

    def host_port(port: int) -> int:
        entries = bound.get(f"{port}/tcp") or []
        if not entries:
            raise InfrastructureError(f"Docker did not publish toxiproxy port {port}")
        return int(entries[0]["HostPort"])

    return host_port(TOXIPROXY_API_PORT), {i: host_port(PROXY_BASE_PORT + i) for i in range(1, brokers + 1)}


def create_proxies(api: ToxiproxyClient, brokers: int) -> None:
    """Remove every toxic and enable every proxy, then make the proxy of each broker (1..``brokers``)
    that is missing: ``broker-<i>`` listening on ``PROXY_BASE_PORT + i``, its upstream the broker's
    client listener.

    Raises:
        ToxiproxyError: the API refused a call.
    """
    api.reset()
    existing = api.proxies()
    for i in range(1, brokers + 1):
        name = f"broker-{i}"
        if name not in existing:
            api.create_proxy(name, listen=f"0.0.0.0:{PROXY_BASE_PORT + i}", upstream=f"broker-{i}:{CLIENT_PORT}")


def toxiproxy_ports(brokers: int) -> list[int]:
    """The ports toxiproxy's container publishes: its API first, then one proxy per broker."""
    return [TOXIPROXY_API_PORT, *(PROXY_BASE_PORT + i for i in range(1, brokers + 1))]
