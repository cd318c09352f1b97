"""An engine's worker (:mod:`.engine_worker`) as the harness sees it: a child process whose
``DOCKER_HOST`` names the engine and whose ``KAFKA_CHAOS_PORTS`` is a range of host ports of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Protocol

import chaos
from chaos.cluster.ports import PORTS_ENV
from chaos.errors import InfrastructureError
from chaos.experiments.engine_jobs import Job, WorkerSetup, decode, encode
from chaos.results import RunResult

#: How long a worker may take to heal, tear down and remove its clusters once told to stop.
STOP_TIMEOUT = 600.0


class EngineLost(InfrastructureError):
    """An engine's worker ended without answering (it died, or the harness stopped it)."""


class Worker(Protocol):
    """What the scheduler needs of an engine's worker."""

    def run(self, job: Job) -> RunResult:
        """Run ``job`` on the engine; raises :class:`EngineLost` when the worker does not answer."""
        ...

    def interrupt(self) -> None:
        """Ctrl-C for the worker: it stops its run after healing and tearing down, and exits."""
        ...

    def close(self) -> None:
        """No more jobs: the worker removes its clusters and exits; wait for it."""
        ...


def worker_environment(engine: str, ports: str, environ: dict[str, str]) -> dict[str, str]:
    """The environment of ``engine``'s worker: ``environ`` with ``DOCKER_HOST`` and
    ``KAFKA_CHAOS_PORTS`` set, and this package first on ``PYTHONPATH`` (the child runs the same code).

    >>> env = worker_environment("unix:///run/d2.sock", "26384-32767", {"PYTHONPATH": "/x"})
    >>> env["DOCKER_HOST"], env["KAFKA_CHAOS_PORTS"], env["PYTHONPATH"].endswith(":/x")
    ('unix:///run/d2.sock', '26384-32767', True)
    """
    here = str(Path(chaos.__file__).resolve().parents[1])
    path = [here, *filter(None, environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**environ, "DOCKER_HOST": engine, PORTS_ENV: ports, "PYTHONPATH": os.pathsep.join(path)}


class ChildWorker:
    """``python -m chaos.experiments.engine_worker`` for one engine, in a session of its own: a
    Ctrl-C at the terminal reaches the harness only, which passes it on once (:meth:`interrupt`)."""

    def __init__(self, setup: WorkerSetup, ports: str) -> None:
        """Start the worker and send it ``setup``.

        Raises:
            EngineLost: the worker could not be started.
        """
        self.engine = setup.engine
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "chaos.experiments.engine_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=worker_environment(setup.engine, ports, dict(os.environ)),
                start_new_session=True,
            )
        except OSError as e:
            raise EngineLost(f"the worker of engine {self.engine} could not start: {e}") from e
        self._send(setup)

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None  # both are pipes
        return stdin, stdout

    def _send(self, value: object) -> None:
        stdin, _ = self._pipes()
        try:
            stdin.write(encode(value))
            stdin.flush()
        except OSError as e:  # it exited: its stdin is closed
            raise EngineLost(f"the worker of engine {self.engine} exited ({self.process.poll()})") from e

    def run(self, job: Job) -> RunResult:
        """Send ``job``, wait for its result.

        Raises:
            EngineLost: the worker exited before answering, or answered something else.
        """
        self._send(job)
        _, stdout = self._pipes()
        line = stdout.readline()
        if not line:
            code = self.process.wait()
            raise EngineLost(f"the worker of engine {self.engine} exited ({code}) during {job.name}")
        try:
            result = decode(line)
        except ValueError as e:
            raise EngineLost(f"the worker of engine {self.engine} answered garbage: {e}") from e
        if not isinstance(result, RunResult):
            raise EngineLost(f"the worker of engine {self.engine} answered a {type(result).__name__}")
        return result

    def interrupt(self) -> None:
        """Send the worker SIGINT (once), if it still runs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def close(self) -> None:
        """Close its stdin and wait for it to remove its clusters; kill it after :data:`STOP_TIMEOUT`."""
        stdin, _ = self._pipes()
        with contextlib.suppress(OSError):  # it exited already
            stdin.close()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
