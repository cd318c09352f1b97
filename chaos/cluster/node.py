"""A Kafka process in its container, with lifecycle verbs (kill, stop, start, pause, unpause)."""

from __future__ import annotations

import time

from docker.errors import APIError, NotFound
from docker.models.containers import Container

from chaos.cluster.config import NodeSpec
from chaos.errors import InfrastructureError
from chaos.waiting import wait_until


class Node:
    """One broker or controller. Verbs act on its container and return once they took effect.

    Example::

        node = cluster.leader_of("orders", 0)
        node.kill()    # SIGKILL: the JVM is gone, unflushed page cache is not
        node.start()   # same container, same data directory
    """

    #: Whether the node is on a host the harness does not own (its network rules then carry an
    #: expiry the host enforces: :attr:`expiry` seconds).
    remote: bool = False
    expiry: float | None = None
    #: The network interface tc shapes.
    interface: str = "eth0"

    def __init__(self, spec: NodeSpec, container: Container) -> None:
        self.spec = spec
        self.container = container

    @property
    def node_id(self) -> int:
        """The node's ``node.id``; broker ``i`` has id ``i``."""
        return self.spec.node_id

    @property
    def host(self) -> str:
        """The node's name on the run's network, e.g. ``broker-2``."""
        return self.spec.host

    @property
    def name(self) -> str:
        """The container's name."""
        return self.container.name or self.spec.host

    def __repr__(self) -> str:
        return f"Node({self.host}, id={self.node_id}, state={self.state})"

    def address(self) -> str:
        """The node's address on the run's network, where the other nodes reach it.

        Raises:
            InfrastructureError: it has none (its container is not running).
        """
        self.container.reload()
        for settings in self.container.attrs["NetworkSettings"]["Networks"].values():
            if settings.get("IPAddress"):
                return str(settings["IPAddress"])
        raise InfrastructureError(f"{self.host} has no address (is it running?)")

    @property
    def state(self) -> str:
        """The container's state: ``running``, ``paused``, ``exited``, ``created`` or ``removed``."""
        try:
            self.container.reload()
        except NotFound:
            return "removed"
        return str(self.container.status)

    @property
    def is_running(self) -> bool:
        """Whether the process runs and is not frozen."""
        return self.state == "running"

    def _act(self, verb: str, *args: object, attempts: int = 1, **kwargs: object) -> None:
        for attempt in range(attempts):
            try:
                getattr(self.container, verb)(*args, **kwargs)
                return
            except APIError as e:
                if attempt == attempts - 1:
                    raise InfrastructureError(f"could not {verb} {self.host}: {e.explanation}") from e
                time.sleep(0.2)

    def _wait_state(self, wanted: set[str], timeout: float) -> None:
        wait_until(
            lambda: self.state in wanted,
            timeout,
            f"{self.host} to be {' or '.join(sorted(wanted))}",
            interval=0.05,
            seen=lambda: f"{self.host} is {self.state}",
        )

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the Kafka process (a crash); returns when it is gone.

        Raises:
            InfrastructureError: Docker refused, or the process still runs after ``timeout``.
        """
        self._act("kill", signal="SIGKILL")
        self._wait_state({"exited", "dead"}, timeout)

    def signal(self, signum: str) -> None:
        """Send ``signum`` (e.g. ``"SIGTERM"``) to the node's process and return at once."""
        self._act("kill", signal=signum)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM the Kafka process (a clean shutdown) and wait for it to exit.

        Docker sends SIGKILL after ``timeout`` seconds, as an orchestrator would.
        """
        self._act("stop", timeout=int(timeout))
        self._wait_state({"exited", "dead"}, 10.0)

    def start(self) -> None:
        """Start the process again in the same container, on the same data directory."""
        self._act("start")
        self._wait_state({"running"}, 10.0)

    def pause(self) -> None:
        """Freeze every process of the node (cgroup freezer, like SIGSTOP: a very long GC pause).

        The cgroup v1 freezer sometimes reports "unable to freeze" while a thread is in the kernel;
        a few attempts get past it.
        """
        self._act("pause", attempts=5)
        self._wait_state({"paused"}, 10.0)

    def unpause(self) -> None:
        """Thaw a paused node."""
        self._act("unpause", attempts=5)
        self._wait_state({"running"}, 10.0)

    def logs(self, tail: int | None = None) -> str:
        """The node's log (all restarts), or its last ``tail`` lines."""
        try:
            raw: bytes = self.container.logs(tail=tail if tail is not None else "all")
        except (NotFound, APIError):
            return ""
        return raw.decode(errors="replace")

    def usage(self) -> tuple[int, int] | None:
        """What the container uses now, from one look at Docker's stats: memory in bytes (less the
        inactive page cache, as ``docker stats`` shows it) and CPU time in ns since it started; None
        when it is not running or Docker cannot say."""
        try:
            stats = self.container.stats(stream=False, one_shot=True)
        except (NotFound, APIError):
            return None
        memory = stats.get("memory_stats") if isinstance(stats, dict) else None
        cpu = stats.get("cpu_stats") if isinstance(stats, dict) else None
        if not isinstance(memory, dict) or not isinstance(cpu, dict):
            return None
        used, cpu_ns = memory.get("usage"), (cpu.get("cpu_usage") or {}).get("total_usage")
        if not isinstance(used, int) or not isinstance(cpu_ns, int):
            return None
        return used - int((memory.get("stats") or {}).get("inactive_file", 0)), cpu_ns

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        """Run ``cmd`` as root inside the node's container; return the exit code and combined output.

        As root whatever user the image runs Kafka as: network faults need iptables and tc.

        Raises:
            InfrastructureError: Docker could not run it (e.g. the container is not running), or
                did not report its exit within 10 s of its output ending.
        """
        if self.container.client is None:
            raise InfrastructureError(f"could not run {cmd[0]} in {self.host}: its container has no Docker client")
        api = self.container.client.api
        try:
            exec_id = api.exec_create(self.container.id, cmd, user="root")["Id"]
            out: bytes = api.exec_start(exec_id)

            def exit_code() -> int | None:
                code = api.exec_inspect(exec_id)["ExitCode"]
                return None if code is None else int(code)

            # The engine may answer the inspection before it has recorded the exit (seen under
            # load): an unknown exit code is waited for, never taken for success.
            code = exit_code()
            if code is None:
                code = wait_until(
                    lambda: (c,) if (c := exit_code()) is not None else None,
                    10,
                    f"the exit code of {cmd[0]} in {self.host}",
                    interval=0.1,
                    error=InfrastructureError,
                )[0]
        except APIError as e:
            raise InfrastructureError(f"could not run {cmd[0]} in {self.host}: {e.explanation}") from e
        return code, out.decode(errors="replace")
