"""Where Kafka's own tools run against a cluster: in one of its brokers (the harness's own clusters),
or, for a team's cluster whose brokers the harness cannot enter, in a short-lived container of the
harness's Kafka image on this engine's host network (:class:`ToolBox`).

The tools are the verdict's second witness (``GetOffsetShell``, the share group tool): on a team's
cluster they connect as the workloads do, with the team's client properties as
``--command-config``. The file and the certificates it names are mounted read-only at their own
paths, never copied into the image or the run directory; the container carries the run's label,
so ``kafka-chaos clean`` removes it if the harness dies first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from docker.errors import DockerException
from docker.models.containers import Container

import docker
from chaos.cluster.config import INTERNAL_PORT
from chaos.errors import InfrastructureError
from chaos.labels import resource_name, run_labels
from chaos.workloads.security import ClientSecurity

log = logging.getLogger(__name__)


class ToolHost(Protocol):
    """Where a tool's command runs: a broker's container or a :class:`ToolBox`."""

    @property
    def host(self) -> str: ...
    def exec(self, cmd: list[str]) -> tuple[int, str]: ...


class Broker(ToolHost, Protocol):
    """A broker a tool may run in, with its name on the cluster's network."""

    @property
    def is_running(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class ToolAccess:
    """A place to run Kafka's tools (``on``), the cluster's address from there (``bootstrap``) and the
    arguments that connect them (``args``: ``--command-config FILE`` on a secured cluster)."""

    on: ToolHost
    bootstrap: str
    args: tuple[str, ...] = ()


def in_a_broker(brokers: Sequence[Broker]) -> ToolAccess:
    """The first running broker, asking the cluster through the brokers' internal listener.

    Raises:
        InfrastructureError: no broker is running.
    """
    running = [b for b in brokers if b.is_running]
    if not running:
        raise InfrastructureError("no broker is running to run Kafka's tools in")
    return ToolAccess(running[0], ",".join(f"{b.host}:{INTERNAL_PORT}" for b in running))


class ToolBox:
    """A container of ``image`` on the host network, running nothing but what is asked of it, with
    ``security``'s file and the files it names mounted read-only. A context manager: removed on
    exit (a failure to remove is logged; ``kafka-chaos clean`` finds it by its label).

    Raises (on entry):
        InfrastructureError: the engine could not start it (no image, no engine, a mount refused).
    """

    def __init__(self, client: docker.DockerClient, image: str, run_id: str, security: ClientSecurity) -> None:
        self.client = client
        self.image = image
        self.run_id = run_id
        self.security = security
        self.host = "toolbox"
        self._container: Container | None = None

    def mounts(self) -> dict[str, dict[str, str]]:
        """The client properties file and every file it names, each at its own path, read-only."""
        paths = [self.security.path] if self.security.path else []
        paths += [Path(v) for k, v in self.security.props.items() if k.endswith(".location")]
        return {str(p): {"bind": str(p), "mode": "ro"} for p in paths}

    def __enter__(self) -> Self:
        try:
            self._container = self.client.containers.run(
                self.image,
                ["sleep", "infinity"],
                entrypoint=[],
                name=resource_name(self.run_id, "toolbox"),
                labels=run_labels(self.run_id, "toolbox"),
                network_mode="host",
                volumes=self.mounts(),
                detach=True,
                auto_remove=False,
            )
        except DockerException as e:
            raise InfrastructureError(f"could not start a container of {self.image} for Kafka's tools: {e}") from e
        return self

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        """Run ``cmd`` in the container; its exit code and combined output.

        Raises:
            InfrastructureError: the container is gone or Docker could not run it.
        """
        if self._container is None:
            raise InfrastructureError("the tools' container is not running")
        try:
            code, out = self._container.exec_run(cmd)
        except DockerException as e:
            raise InfrastructureError(f"could not run {cmd[0]} in the tools' container: {e}") from e
        return int(code or 0), out.decode(errors="replace") if isinstance(out, bytes) else str(out)

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._container is not None:
            try:
                self._container.remove(force=True)
            except DockerException as error:
                log.warning("could not remove the tools' container of %s: %s", self.run_id, error)
            self._container = None
