"""Workloads as separate OS processes, so a fault can SIGKILL them like a crashing application."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from chaos.errors import InfrastructureError
from chaos.workloads.spec import ConsumerSpec, ProducerSpec, save_spec

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux: the workload gets SIGKILL when the harness dies, so a SIGKILLed harness never leaves
    # clients hammering a cluster the sweeper is about to remove.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Workload(Protocol):
    """What a fault does to a workload (a producer, a consumer member, an application instance)."""

    @property
    def name(self) -> str:
        """``producer-p0``, ``consumer-c0``, ``application-0``."""
        ...

    @property
    def alive(self) -> bool:
        """Whether it runs."""
        ...

    def start(self) -> None:
        """Start (or restart) it."""
        ...

    def kill(self) -> None:
        """SIGKILL it."""
        ...

    def pause(self) -> None:
        """Stop it from running (SIGSTOP), as a long pause would."""
        ...

    def resume(self) -> None:
        """Let it run again."""
        ...


class WorkloadProcess:
    """One producer or consumer process: start, kill (SIGKILL), stop (SIGTERM), restart, wait.

    Its spec is written to ``<run_dir>/workloads/<kind>-<id>.json`` and its output appended to
    ``<run_dir>/workloads/<kind>-<id>.log`` across restarts. ``command`` gives the command line for
    the spec file: kafka-python and librdkafka run ``python -m chaos.workloads.<kind>``, the Java
    client its driver (:class:`chaos.images.java_driver.JavaDriver`).

    Example::

        p = WorkloadProcess(ProducerSpec(id="p0", topic="t", ...))
        p.start(); time.sleep(2); p.kill(); p.start(); p.wait(60)
    """

    def __init__(self, spec: ProducerSpec | ConsumerSpec, command: Callable[[Path], list[str]] | None = None) -> None:
        self.spec = spec
        #: The command that runs the workload for a spec file (default: the Python workload module).
        self.command = command or (lambda path: [sys.executable, "-m", f"chaos.workloads.{self.kind}", str(path)])
        self.kind = "producer" if isinstance(spec, ProducerSpec) else "consumer"
        base = Path(spec.run_dir) / "workloads" / f"{self.kind}-{spec.id}"
        self.spec_path = base.with_suffix(".json")
        self.log_path = base.with_suffix(".log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        #: Whether the last :meth:`stop` had to SIGKILL (the process ignored SIGTERM for its timeout).
        self.escalated = False
        save_spec(spec, self.spec_path)

    @property
    def name(self) -> str:
        """``producer-<id>`` or ``consumer-<id>``."""
        return f"{self.kind}-{self.spec.id}"

    @property
    def alive(self) -> bool:
        """Whether the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start (or restart) the process.

        Raises:
            InfrastructureError: it is already running.
        """
        if self.alive:
            raise InfrastructureError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f"--- start {self.starts + 1} at {time.time():.3f} ---\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.command(self.spec_path),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL the process (a crash) and reap it."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()
            self.kills += 1

    def pause(self) -> None:
        """SIGSTOP the process (a stall: a long GC pause, a frozen host)."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT the process."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM (a clean shutdown: finish, flush, commit, close); SIGKILL after ``timeout``.

        Returns the exit code (``None``: never started). A stop that had to SIGKILL returns ``-9``
        and sets :attr:`escalated`, so a caller can tell a clean stop from a crash.
        """
        self.escalated = False
        if self.proc is None:
            return None
        if self.alive:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.escalated = True
                self.kill()
        return self.proc.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit on its own; returns its exit code.

        Raises:
            InfrastructureError: it did not exit within ``timeout``, or never started.
        """
        if self.proc is None:
            raise InfrastructureError(f"{self.name} was never started")
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise InfrastructureError(f"{self.name} still runs after {timeout:.0f}s: see {self.log_path}") from None

    @property
    def exit_code(self) -> int | None:
        """Its exit code once it ended (None: running or never started)."""
        return None if self.proc is None else self.proc.poll()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the process's output."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
