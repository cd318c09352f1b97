"""Workloads as separate OS processes, so a fault can SIGKILL them like a crashing application."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from chaos.errors import InfrastructureError
from chaos.rundir import LEDGERS
from chaos.workloads.lines import NEXT_SEQ_ENV, LineConverter, LineProtocolError
from chaos.workloads.netns import Netns
from chaos.workloads.released import any_released
from chaos.workloads.spec import ConsumerSpec, ProducerSpec, save_spec
from chaos.workloads.totals import next_seq

_PR_SET_PDEATHSIG = 1
#: How often a line-protocol driver's new lines are turned into ledgers while it runs.
PUMP_S = 0.05


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
    client its driver (:class:`chaos.images.java_driver.JavaDriver`), an external client the command
    of its description. A driver of the line protocol prints its events to
    ``ledgers/<kind>-<id>.lines`` (its stdout; its stderr goes to the log), which a thread turns into
    ledgers while it runs (:class:`chaos.workloads.lines.LineConverter`), completely once it exited.

    Example::

        p = WorkloadProcess(ProducerSpec(id="p0", topic="t", ...))
        p.start(); time.sleep(2); p.kill(); p.start(); p.wait(60)
    """

    def __init__(
        self,
        spec: ProducerSpec | ConsumerSpec,
        command: Callable[[Path], list[str]] | None = None,
        netns: Netns | None = None,
    ) -> None:
        self.spec = spec
        #: The network namespace it runs in (:mod:`chaos.workloads.netns`); None: this machine's.
        self.netns = netns
        external = spec.external
        if command is None and external is not None:
            command = external.command_for
        #: The command that runs the workload for a spec file (default: the Python workload module).
        self.command = command or (lambda path: [sys.executable, "-m", f"chaos.workloads.{self.kind}", str(path)])
        self.kind = "producer" if isinstance(spec, ProducerSpec) else "consumer"
        #: The converter of a line-protocol driver's output (None: the driver writes its ledgers).
        self.lines = LineConverter(spec) if external is not None and external.protocol == "lines" else None
        self._pump: threading.Thread | None = None
        self._broken: LineProtocolError | None = None
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
    def run_dir(self) -> Path:
        """The run directory its ledgers are in."""
        return Path(self.spec.run_dir)

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
        self._settle()
        self.check()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.lines is not None:
            env[NEXT_SEQ_ENV] = str(self.lines.begin())
        elif isinstance(self.spec, ProducerSpec) and any_released(self.run_dir / LEDGERS):
            env[NEXT_SEQ_ENV] = str(next_seq(self.run_dir, self.spec.id))  # a scan of .events cannot see released rows
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f"--- start {self.starts + 1} at {time.time():.3f} ---\n".encode())
            out.flush()
            stdout = self.lines.stdout() if self.lines is not None else out.fileno()
            try:
                argv = self.command(self.spec_path)
                self.proc = subprocess.Popen(
                    self.netns.wrap(argv) if self.netns is not None else argv,
                    stdout=stdout,
                    stderr=out if self.lines is not None else subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
                    env=env,
                )
            finally:
                if self.lines is not None:
                    os.close(stdout)
        self.starts += 1
        if self.lines is not None:
            self._pump = threading.Thread(target=self._convert, args=(self.proc, self.lines), daemon=True)
            self._pump.name = f"lines-{self.name}"
            self._pump.start()

    def _convert(self, proc: subprocess.Popen[bytes], lines: LineConverter) -> None:
        """The pump thread: convert while ``proc`` runs, then everything. A line that breaks the
        protocol kills the driver (nothing it does after can be judged) and is kept for :meth:`check`."""
        try:
            while proc.poll() is None:
                lines.pump()
                time.sleep(PUMP_S)
            lines.finish()
        except LineProtocolError as e:
            self._broken = e
            proc.kill()
            lines.close()

    def _settle(self) -> None:
        """Wait until the output of a process that has exited is converted whole."""
        if self._pump is not None:
            self._pump.join()
            self._pump = None

    def check(self) -> None:
        """Raises LineProtocolError if the driver printed a line that breaks the line protocol."""
        if self._broken is not None:
            raise self._broken

    def kill(self) -> None:
        """SIGKILL the process (a crash) and reap it."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()
            self.kills += 1
        self._settle()

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

        Raises:
            LineProtocolError: the driver broke the line protocol.
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
        self._settle()
        self.check()
        return self.proc.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit on its own; returns its exit code.

        Raises:
            InfrastructureError: it did not exit within ``timeout``, or never started.
            LineProtocolError: the driver broke the line protocol.
        """
        if self.proc is None:
            raise InfrastructureError(f"{self.name} was never started")
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise InfrastructureError(f"{self.name} still runs after {timeout:.0f}s: see {self.log_path}") from None
        self._settle()
        self.check()
        return code

    @property
    def exit_code(self) -> int | None:
        """Its exit code once it ended (None: running or never started)."""
        return None if self.proc is None else self.proc.poll()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the process's output."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
