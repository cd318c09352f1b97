"""Where Kafka's own tools run against a cluster: in one of its brokers (the harness's own clusters),
or, for a team's cluster whose brokers the harness cannot enter, on this machine's JVM with the
release's own jars (:class:`HostJvm`), as the Java client's workloads run.

The tools are the verdict's second witness (``GetOffsetShell``, the share group tool): on a team's
cluster they connect as the workloads do, with the team's client properties as
``--command-config`` (read in place, never copied). Nothing is started that could outlive the run.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from chaos.cluster.config import INTERNAL_PORT
from chaos.errors import InfrastructureError

#: A short-lived tool JVM in a broker's container, as a shell command: the client compiler only, and
#: the broker's AppCDS archive where the image has one (loading classes is most of a tool's start:
#: 1.1 s to 0.65 s here).
TOOL_JAVA = (
    "java -Xmx256m -XX:TieredStopAtLevel=1 "
    "$([ -f /opt/kafka/kafka.jsa ] && echo -XX:SharedArchiveFile=/opt/kafka/kafka.jsa) -cp '/opt/kafka/libs/*'"
)


class ToolHost(Protocol):
    """Where a tool's command runs: a broker's container or :class:`HostJvm`."""

    @property
    def host(self) -> str: ...
    def exec(self, cmd: list[str]) -> tuple[int, str]: ...


class Broker(ToolHost, Protocol):
    """A broker a tool may run in, with its name on the cluster's network."""

    @property
    def is_running(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class ToolAccess:
    """A place to run Kafka's tools (``on``), the cluster's address from there (``bootstrap``), the
    arguments that connect them (``args``: ``--command-config FILE`` on a secured cluster) and the
    JVM, as a shell command without the class (``java``)."""

    on: ToolHost
    bootstrap: str
    args: tuple[str, ...] = ()
    java: str = TOOL_JAVA


def in_a_broker(brokers: Sequence[Broker]) -> ToolAccess:
    """The first running broker, asking the cluster through the brokers' internal listener.

    Raises:
        InfrastructureError: no broker is running.
    """
    running = [b for b in brokers if b.is_running]
    if not running:
        raise InfrastructureError("no broker is running to run Kafka's tools in")
    return ToolAccess(running[0], ",".join(f"{b.host}:{INTERNAL_PORT}" for b in running))


@dataclass(frozen=True, slots=True)
class HostJvm:
    """This machine, running a tool's command as it is (its ``sh -c`` wrapper included)."""

    host: str = "this machine"
    timeout: float = 120.0

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        """Run ``cmd``; its exit code and combined output.

        Raises:
            InfrastructureError: it could not start, or did not end within :attr:`timeout`.
        """
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise InfrastructureError(f"could not run Kafka's tool on {self.host}: {e}") from e
        return proc.returncode, proc.stdout + proc.stderr


def on_this_machine(java: str, libs: Path, bootstrap: str, command_config: Path | None) -> ToolAccess:
    """Kafka's tools on this machine's ``java`` with the release's jars in ``libs``, asking the
    cluster at ``bootstrap`` with ``command_config`` (the team's client properties; None: PLAINTEXT).

    >>> on_this_machine("/usr/bin/java", Path("/c/kafka-4.4.0/libs"), "k:9093", Path("/t/c.properties")).args
    ('--command-config', '/t/c.properties')
    """
    shell = f"{shlex.quote(java)} -Xmx256m -XX:TieredStopAtLevel=1 -cp {shlex.quote(str(libs) + '/*')}"
    args = ("--command-config", str(command_config)) if command_config is not None else ()
    return ToolAccess(HostJvm(), bootstrap, args, shell)
