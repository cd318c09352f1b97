"""The Docker engine: connecting to it, and saying what to do when it is not there."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from docker.errors import DockerException

import docker
from chaos.errors import DockerUnavailable, UsageError

LOOPBACK = "127.0.0.1"

SETUP_HINT = (
    "start Docker (on Debian or Ubuntu, `apt-get install docker.io` as root, then `dockerd &`), "
    "or point DOCKER_HOST at an engine"
)


def docker_client(timeout: float = 60, address: str | None = None) -> docker.DockerClient:
    """Connect to the engine at ``address`` (a ``DOCKER_HOST``-style URL), else the one named by
    ``DOCKER_HOST`` (default: the local socket), and ping it.

    Raises:
        DockerUnavailable: nothing answers; the message says where it looked and how to fix it.

    Example::

        client = docker_client()
        client.containers.list(filters={"label": "kafka-chaos.run"})
    """
    client: docker.DockerClient | None = None
    try:
        if address is None:
            client = docker.from_env(timeout=int(timeout))
        else:
            client = docker.DockerClient(base_url=address, timeout=int(timeout))
        client.ping()
    except (DockerException, OSError) as e:
        if client is not None:
            client.close()  # its connection pool holds the socket that found nobody
        where = address or engine_address()
        raise DockerUnavailable(f"no Docker engine answers at {where}: {SETUP_HINT}") from e
    return client


def engine_data_root(timeout: float = 10) -> Path | None:
    """Where the engine of ``DOCKER_HOST`` keeps its containers' files, when it runs on this machine
    (a ``unix://`` socket); None for an engine elsewhere or one that does not answer."""
    address = engine_address()
    if not address.startswith("unix://"):
        return None
    try:
        client = docker_client(timeout)
    except DockerUnavailable:
        return None
    try:
        root = client.info().get("DockerRootDir")
    except (DockerException, OSError):
        return None
    finally:
        client.close()
    return Path(root) if isinstance(root, str) else None


def engine_address(environ: Mapping[str, str] = os.environ) -> str:
    """Where :func:`docker_client` looks for the engine: ``DOCKER_HOST``, else the local socket.

    >>> engine_address({}), engine_address({"DOCKER_HOST": "tcp://docker:2375"})
    ('unix:///var/run/docker.sock', 'tcp://docker:2375')
    """
    return environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def published_host(environ: Mapping[str, str] = os.environ) -> str:
    """Where this process reaches the ports the engine publishes (brokers advertise it to clients).

    ``KAFKA_CHAOS_HOST`` when set; else the host of a ``tcp://`` or ``ssh://`` ``DOCKER_HOST`` (a
    remote engine, e.g. ``tcp://docker:2375`` in a CI job with a Docker-in-Docker service); else
    127.0.0.1.

    Raises:
        UsageError: ``DOCKER_HOST`` is a tcp or ssh address without a host.

    Example::

        >>> published_host({"DOCKER_HOST": "tcp://docker:2375"})
        'docker'
        >>> published_host({"DOCKER_HOST": "ssh://ci@build-7.example"})
        'build-7.example'
        >>> published_host({"DOCKER_HOST": "unix:///var/run/docker.sock"}), published_host({})
        ('127.0.0.1', '127.0.0.1')
        >>> published_host({"DOCKER_HOST": "tcp://docker:2375", "KAFKA_CHAOS_HOST": "10.0.0.5"})
        '10.0.0.5'
    """
    override = environ.get("KAFKA_CHAOS_HOST", "").strip()
    if override:
        return override
    docker_host = environ.get("DOCKER_HOST", "").strip()
    parts = urlsplit(docker_host)
    if parts.scheme not in ("tcp", "ssh", "http", "https"):
        return LOOPBACK  # the local socket (unix://, npipe://) or nothing set
    if not parts.hostname:
        raise UsageError(f"DOCKER_HOST={docker_host} names no host: write e.g. tcp://docker:2375")
    return parts.hostname


def bind_address(host: str) -> str:
    """The address to publish ports on: loopback when the harness reaches the engine locally, else
    every interface of the (remote) engine's machine.

    Example::

        >>> bind_address("127.0.0.1"), bind_address("localhost"), bind_address("docker")
        ('127.0.0.1', '127.0.0.1', '0.0.0.0')
    """
    if host == "localhost":
        return LOOPBACK
    try:
        return LOOPBACK if ipaddress.ip_address(host).is_loopback else "0.0.0.0"
    except ValueError:
        return "0.0.0.0"


#: The schemes ``DOCKER_HOST`` takes.
SCHEMES = ("unix", "tcp", "ssh", "http", "https", "npipe")


def parse_engines(text: str, option: str = "--engines") -> list[str]:
    """The engines of ``--engines`` (``option``): comma-separated ``DOCKER_HOST``-style URLs, each once.

    Raises:
        UsageError: an empty list, a URL without a known scheme or without a socket or host, or an
            engine named twice.

    >>> parse_engines("unix:///var/run/docker.sock, unix:///run/kafka-chaos/docker2.sock")
    ['unix:///var/run/docker.sock', 'unix:///run/kafka-chaos/docker2.sock']
    >>> parse_engines("tcp://build-7:2375,ssh://ci@build-8")
    ['tcp://build-7:2375', 'ssh://ci@build-8']
    """
    engines = [part.strip() for part in text.split(",") if part.strip()]
    if not engines:
        raise UsageError(f"{option} names no engine: write e.g. unix:///var/run/docker.sock,tcp://build-7:2375")
    for engine in engines:
        parts = urlsplit(engine)
        where = parts.path if parts.scheme in ("unix", "npipe") else parts.hostname
        if parts.scheme not in SCHEMES or not where:
            raise UsageError(
                f"{option}: {engine} is not an engine's address: write unix:///path/to/docker.sock, "
                "tcp://HOST:PORT or ssh://USER@HOST"
            )
    twice = sorted({e for e in engines if engines.count(e) > 1})
    if twice:
        raise UsageError(f"{option} names {', '.join(twice)} twice: name each engine once")
    return engines
