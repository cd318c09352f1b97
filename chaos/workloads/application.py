"""The team's application as a black box: started as a host command or a container, killed, paused and
restarted like any workload, its output kept in the run directory. Nothing in it is instrumented.

Each instance is ``application-<n>``, a fault target like ``consumer-c0``. A host command runs in a
process group of its own (a SIGKILL reaches a wrapper script's children too) and dies with the
harness; a container runs on the host's network (the brokers' advertised loopback addresses reach
it, through toxiproxy) and carries the run's label, so ``kafka-chaos clean`` removes it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import string
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chaos import rundir
from chaos.errors import InfrastructureError, UsageError
from chaos.labels import run_labels

#: What an application's command and environment may name.
ENV_PLACEHOLDERS = ("bootstrap", "input_topic", "output_topic", "group", "run_id")
#: The run directory's folder of the applications' output.
APP_DIR = rundir.APPLICATION


class ApplicationError(UsageError):
    """The application given does not run as the experiment says (exit code 2): it does not start,
    exits, or never consumes. The message names its log."""


@dataclass(frozen=True, slots=True)
class Correlation:
    """How an output record names its input: its ``key``, a ``header`` (``where``: its name), or a
    ``json`` JMESPath expression (``where``) into its value."""

    by: Literal["key", "header", "json"]
    where: str = ""


@dataclass(frozen=True, slots=True)
class AppSpec:
    """One run's application: how to start it, its topics and group, how its outputs are correlated."""

    command: tuple[str, ...]
    image: str | None
    env: dict[str, str]
    input_topic: str
    output_topic: str
    group: str
    run_id: str
    run_dir: str
    correlation: Correlation = field(default_factory=lambda: Correlation("key"))
    files: dict[str, str] = field(default_factory=dict)
    instances: int = 1
    start_timeout: float = 60.0
    stop_timeout: float = 30.0
    bootstrap_servers: str = ""
    #: Whether the verdict checks the outputs keep their inputs' order per input key.
    ordered: bool = False

    def render(self, text: str) -> str:
        """``text`` with the run's placeholders filled in."""
        values = {
            "bootstrap": self.bootstrap_servers,
            "input_topic": self.input_topic,
            "output_topic": self.output_topic,
            "group": self.group,
            "run_id": self.run_id,
        }
        return string.Template(text).safe_substitute(values)

    def environment(self) -> dict[str, str]:
        """The application's own environment (placeholders filled in)."""
        return {k: self.render(v) for k, v in self.env.items()}

    def describe(self) -> dict[str, object]:
        """What the run directory says about it: never the environment's values (they may be secrets)."""
        return {
            "command": list(self.command),
            "image": self.image,
            "env": sorted(self.env),
            "files": sorted(self.files),
            "input_topic": self.input_topic,
            "output_topic": self.output_topic,
            "group": self.group,
            "instances": self.instances,
            "correlate": {"by": self.correlation.by, "where": self.correlation.where},
            "ordered": self.ordered,
        }


def _die_with_parent() -> None:
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class HostApplication:
    """Instance ``index`` of the application as a process on this machine."""

    def __init__(self, spec: AppSpec, index: int) -> None:
        self.spec = spec
        self.index = index
        self.kind = "application"
        self.log_path = Path(spec.run_dir) / APP_DIR / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.escalated = False

    @property
    def name(self) -> str:
        """``application-<n>``."""
        return f"application-{self.index}"

    @property
    def alive(self) -> bool:
        """Whether it runs (a paused one runs)."""
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start (or restart) it.

        Raises:
            ApplicationError: its command cannot be run.
            InfrastructureError: it is already running.
        """
        if self.alive:
            raise InfrastructureError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [self.spec.render(part) for part in self.spec.command]
        with self.log_path.open("ab") as out:
            out.write(f"--- start {self.starts + 1} at {time.time():.3f} ---\n".encode())
            out.flush()
            try:
                self.proc = subprocess.Popen(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
                    env={**os.environ, **self.spec.environment()},
                )
            except OSError as e:
                raise ApplicationError(
                    f"the application's command {command[0]} cannot be run ({e.strerror}): give a program that "
                    "exists and is executable (a relative path is the experiment file's)"
                ) from e
        self.starts += 1

    def _signal(self, sig: signal.Signals) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL its whole process group (a crash) and reap it."""
        if self.alive:
            assert self.proc is not None
            self._signal(signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def pause(self) -> None:
        """SIGSTOP its process group (a stall: a long GC pause, a frozen host)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT its process group."""
        self._signal(signal.SIGCONT)

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM (a clean shutdown); SIGKILL after ``timeout`` (the spec's stop timeout)."""
        self.escalated = False
        if self.proc is None:
            return None
        if self.alive:
            self.resume()
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout or self.spec.stop_timeout)
            except subprocess.TimeoutExpired:
                self.escalated = True
                self.kill()
        return self.proc.returncode

    def remove(self) -> None:
        """Nothing to remove: a process leaves nothing behind (a container does)."""

    @property
    def exit_code(self) -> int | None:
        """Its exit code once it ended (None: running or never started)."""
        return None if self.proc is None else self.proc.poll()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of its output."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def app_labels(spec: AppSpec) -> dict[str, str]:
    """The labels of an application's container."""
    return run_labels(spec.run_id, "application")
