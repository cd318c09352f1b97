"""The team's application as a container on this machine's Docker engine, on the host's network
(the brokers' advertised loopback addresses, through toxiproxy, reach it as they reach a host
process). It is killed with ``docker kill``, paused with ``docker pause``, restarted with ``docker
start`` (the same container: its files stay), and its output is appended to the run directory."""

from __future__ import annotations

import contextlib
import time

from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container

import docker
from chaos.errors import InfrastructureError
from chaos.workloads.application import ApplicationError, AppSpec, HostApplication, app_labels


class ContainerApplication(HostApplication):
    """Instance ``index`` of the application as a container of ``spec.image``."""

    def __init__(self, spec: AppSpec, index: int, client: docker.DockerClient) -> None:
        super().__init__(spec, index)
        self.client = client
        self.container: Container | None = None
        self._logged_since = 0

    @property
    def container_name(self) -> str:
        """``kc-<run-id>-application-<n>``."""
        return f"kc-{self.spec.run_id}-{self.name}"

    def _status(self) -> str:
        if self.container is None:
            return "absent"
        try:
            self.container.reload()
        except NotFound:
            return "absent"
        return str(self.container.status)

    @property
    def alive(self) -> bool:
        """Whether the container runs (a paused one runs)."""
        return self._status() in ("running", "paused")

    @property
    def exit_code(self) -> int | None:
        """The container's exit code once it ended."""
        if self.container is None or self.alive:
            return None
        return int(self.container.attrs.get("State", {}).get("ExitCode", -1))

    def start(self) -> None:
        """Create the container (first start) or start it again.

        Raises:
            ApplicationError: the image does not exist here, or the engine refuses the container.
            InfrastructureError: it is already running.
        """
        if self.alive:
            raise InfrastructureError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f"--- start {self.starts + 1} at {time.time():.3f} ---\n".encode())
        image = str(self.spec.image)
        try:
            if self.container is None:
                self.client.images.get(image)  # never pulled: the harness reaches no registry
                self.container = self.client.containers.create(
                    image,
                    [self.spec.render(p) for p in self.spec.command] or None,
                    name=self.container_name,
                    network_mode="host",
                    environment=self.spec.environment(),
                    labels=app_labels(self.spec),
                    volumes={source: {"bind": target, "mode": "ro"} for target, source in self.spec.files.items()},
                )
            self.container.start()
        except ImageNotFound as e:
            raise ApplicationError(
                f"the application's image {self.spec.image} does not exist on this Docker engine: build or load "
                f"it first (docker images lists what there is)"
            ) from e
        except (APIError, DockerException) as e:
            raise ApplicationError(f"the application's container {self.container_name} did not start: {e}") from e
        self.starts += 1

    def _keep_logs(self) -> None:
        """Append what the container printed since the last time to its log in the run directory."""
        if self.container is None:
            return
        now = int(time.time()) + 1
        try:
            text = self.container.logs(since=self._logged_since or None, until=now)
        except (APIError, DockerException):
            return
        self._logged_since = now
        with self.log_path.open("ab") as out:
            out.write(text)

    def kill(self) -> None:
        """``docker kill`` (SIGKILL)."""
        if self.alive and self.container is not None:
            if self._status() == "paused":
                self.container.unpause()
            self.container.kill()
            self.container.wait()
            self._keep_logs()
            self.kills += 1

    def pause(self) -> None:
        """``docker pause`` (the cgroup freezer)."""
        if self.container is not None and self._status() == "running":
            self.container.pause()

    def resume(self) -> None:
        """``docker unpause``."""
        if self.container is not None and self._status() == "paused":
            self.container.unpause()

    def stop(self, timeout: float | None = None) -> int | None:
        """``docker stop``: SIGTERM, SIGKILL after ``timeout``; the container is then removed."""
        if self.container is None:
            return None
        self.resume()
        if self.alive:
            self.container.stop(timeout=int(timeout or self.spec.stop_timeout))
        self._keep_logs()
        code = self.exit_code
        self.escalated = code == 137
        return code

    def remove(self) -> None:
        """Remove the container (its logs are in the run directory)."""
        if self.container is not None:
            self._keep_logs()
            with contextlib.suppress(NotFound, APIError):
                self.container.remove(force=True)
