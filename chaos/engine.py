"""The Docker engine: connecting to it, and saying what to do when it is not there."""

from __future__ import annotations

import os

from docker.errors import DockerException

import docker
from chaos.errors import DockerUnavailable

SETUP_HINT = "run `bash scripts/setup` as root (installs Debian's docker.io and starts dockerd)"


def docker_client(timeout: float = 60) -> docker.DockerClient:
    """Connect to the engine named by ``DOCKER_HOST`` (default: the local socket) and ping it.

    Raises:
        DockerUnavailable: nothing answers; the message says where it looked and how to fix it.

    Example::

        client = docker_client()
        client.containers.list(filters={"label": "kafka-chaos.run"})
    """
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except (DockerException, OSError) as e:
        raise DockerUnavailable(f"no Docker engine answers at {where}: {SETUP_HINT}") from e
    return client
