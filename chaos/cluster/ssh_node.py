"""A Kafka process on a team's host, reached over SSH: the verbs of :class:`~chaos.cluster.node.Node`
done with signals to its pid (found by pid file or systemd unit) and its own start command.

Whatever the harness leaves on a host is marked, so ``kafka-chaos clean`` finds it after a harness
that was killed: a process it killed or stopped (``/var/tmp/kafka-chaos/down``: clean starts it
again), and every watchdog it leaves running (``kafka-chaos-expiry`` in its command line: one
thaws a frozen process, others remove a network rule, each when its time is up, even if nobody
comes back).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from chaos.cluster.config import NodeSpec
from chaos.cluster.node import Node
from chaos.cluster.ssh_config import SshConfig
from chaos.errors import InfrastructureError
from chaos.waiting import WaitTimeout, wait_until

#: Runs a shell command on the host: exit code and combined output.
RunCommand = Callable[[str], tuple[int, str]]

#: The host's directory of the harness's marks.
MARKS = "/var/tmp/kafka-chaos"
#: What every watchdog's command line carries (``pgrep -f`` finds it; the bracket keeps the
#: pattern from matching the shell that runs pgrep).
WATCHDOG = "kafka-chaos-expiry"
_WATCHDOG_PATTERN = "kafka-chaos-expir[y]"
#: Shell reading ``iptables -S``: the names of the harness's chains (``kc-`` and 8 hex digits,
#: :attr:`chaos.faults.network` names them so), never a team's own ``kc-office``.
LIST_CHAINS = "sed -n 's/^-N \\(kc-[0-9a-f]\\{8\\}\\)$/\\1/p'"


def watchdog(tag: str, seconds: float, script: str) -> str:
    """Shell that leaves ``script`` to run after ``seconds`` in a session of its own (it outlives the
    SSH connection and the harness), findable by ``tag``."""
    body = f": {WATCHDOG} {tag}; sleep {int(seconds)}; {script}"
    # In a subshell of its own, so that ``&`` backgrounds only the watchdog, never an and-list it
    # ends (``a && watchdog &`` would run ``a`` in the background, holding the SSH channel open).
    return f"( setsid sh -c {shlex.quote(body)} >/dev/null 2>&1 </dev/null & )"


def cancel_watchdogs(tag: str = "") -> str:
    """Shell that ends the watchdogs tagged ``tag`` (every one of the harness's when empty), with
    the ``sleep`` each is waiting in."""
    pattern = shlex.quote(f"{_WATCHDOG_PATTERN} {tag};" if tag else _WATCHDOG_PATTERN)
    return f"for p in $(pgrep -f {pattern}); do kill -- -$p 2>/dev/null || kill $p 2>/dev/null; done; true"


class SshNode(Node):
    """One broker or controller of a team's cluster (see the module docstring).

    Every verb returns once it took effect, like a container's.
    """

    #: Network rules on a team's host carry an expiry the host enforces.
    remote = True

    def __init__(self, spec: NodeSpec, run: RunCommand, config: SshConfig, where: str, address: str) -> None:
        # No container: the Node verbs are all overridden here.
        self.spec = spec
        self._run = run
        self._config = config
        self._where = where
        self._address = address
        self.interface = config.interface
        self.expiry: float | None = config.rule_expiry

    def usage(self) -> tuple[int, int] | None:
        """Not measured on a team's host (None)."""
        return None

    @property
    def name(self) -> str:
        """Where SSH reaches the node (``user@host:port``)."""
        return self._where

    def __repr__(self) -> str:
        return f"SshNode({self._where}, id={self.node_id})"

    def address(self) -> str:
        """Where the other nodes reach this one."""
        return self._address

    def _sh(self, script: str) -> tuple[int, str]:
        return self._run(self._config.as_root(script))

    def _must(self, script: str, what: str) -> str:
        code, out = self._sh(script)
        if code != 0:
            raise InfrastructureError(f"could not {what} on {self._where} (exit {code}): {out.strip()[-300:]}")
        return out

    def _pid(self) -> str:
        """Shell setting ``$pid`` to Kafka's pid, or to nothing: a pid file's number that another
        program took since is not Kafka's, and is never signalled."""
        return (
            f"pid=$({self._config.kafka.pid_command()}); pid=$(echo $pid | tr -dc 0-9); "
            '[ -n "$pid" ] && ! grep -qai kafka /proc/$pid/cmdline 2>/dev/null && pid=""'
        )

    @property
    def state(self) -> str:
        """``running``, ``paused`` (stopped by SIGSTOP) or ``exited`` (no such process, or a zombie)."""
        script = (
            f"{self._pid()}; "
            'if [ -z "$pid" ] || [ ! -e /proc/$pid/stat ]; then echo exited; exit 0; fi; '
            "s=$(sed 's/.*) //' /proc/$pid/stat | cut -c1); "
            "case $s in T|t) echo paused;; Z|X) echo exited;; *) echo running;; esac"
        )
        out = self._must(script, "read the state of Kafka's process").strip()
        return out if out in ("running", "paused", "exited") else "exited"

    def pid(self) -> int | None:
        """The process's pid, if one runs (a zombie does not).

        Raises:
            InfrastructureError: the host did not answer.
        """
        alive = "[ -n \"$pid\" ] && [ -e /proc/$pid/stat ] && ! sed 's/.*) //' /proc/$pid/stat | grep -q '^[ZX]'"
        out = self._must(f"{self._pid()}; {alive} && echo $pid; true", "find Kafka")
        return int(out.strip()) if out.strip().isdigit() else None

    def _signal(self, sig: str) -> None:
        mark = f"mkdir -p {MARKS} && touch {MARKS}/down; " if sig in ("KILL", "TERM") else ""
        self._must(f'{self._pid()}; [ -n "$pid" ] || exit 3; {mark}kill -{sig} $pid', f"send SIG{sig} to Kafka")

    def _wait_state(self, wanted: set[str], timeout: float) -> None:
        wait_until(
            lambda: self.state in wanted,
            timeout,
            f"Kafka on {self._where} to be {' or '.join(sorted(wanted))}",
            interval=0.1,
            seen=lambda: f"it is {self.state}",
        )

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the Kafka process; returns when it is gone. Raises InfrastructureError."""
        self._signal("KILL")
        self._wait_state({"exited"}, timeout)

    def signal(self, signum: str) -> None:
        """Send ``signum`` (``SIGTERM``, ``SIGKILL``, …) to the Kafka process and return at once."""
        self._signal(signum.removeprefix("SIG"))

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (a controlled shutdown); SIGKILL after ``timeout`` s, as an orchestrator would."""
        self._signal("TERM")
        try:
            self._wait_state({"exited"}, timeout)
        except WaitTimeout:  # a controlled shutdown that does not finish is escalated, as Docker does
            self.kill()

    def start(self) -> None:
        """Start Kafka with the host's own command (its unit or ``start``) and wait until it runs.

        Raises:
            InfrastructureError: the command failed, or no process runs 30 s later.
        """
        self._must(f"rm -f {MARKS}/down; {self._config.kafka.start_command()}", "start Kafka")
        self._wait_state({"running"}, 30.0)

    def pause(self) -> None:
        """SIGSTOP the Kafka process (a very long GC pause); a watchdog on the host thaws it after
        ``rule_expiry`` seconds if nobody does. Raises InfrastructureError."""
        pid = self.pid()
        if pid is None:
            raise InfrastructureError(f"no Kafka process runs on {self._where} to freeze")
        thaw = watchdog(f"thaw-{pid}", self.expiry or 600, f"kill -CONT {pid}")
        self._must(f"kill -STOP {pid} && {thaw}", "freeze Kafka")
        self._wait_state({"paused"}, 10.0)

    def unpause(self) -> None:
        """SIGCONT the Kafka process, and end the watchdog that would have."""
        pid = self.pid()
        if pid is None:
            return
        self._must(f"{cancel_watchdogs(f'thaw-{pid}')}; kill -CONT {pid}", "thaw Kafka")
        self._wait_state({"running", "exited"}, 10.0)

    def logs(self, tail: int | None = None) -> str:
        """The last ``tail`` lines (default 2,000) of the ``log_file`` the config names, else nothing."""
        log_file = self._config.kafka.log_file
        if log_file is None:
            return ""
        code, out = self._sh(f"tail -n {tail or 2000} {shlex.quote(log_file)}")
        return out if code == 0 else ""

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        """Run ``cmd`` as root on the host (through ``sudo -n`` when the config says so).

        Raises:
            InfrastructureError: SSH failed.
        """
        return self._sh(shlex.join(cmd))

    def clean(self) -> list[str]:
        """Undo what the harness may have left on the host: its watchdogs, network rules and tc
        qdisc, a frozen Kafka, a Kafka it killed; returns what it found.

        Raises:
            InfrastructureError: the host did not answer or a step failed.
        """
        from_chains = (
            f"for c in $(iptables -S | {LIST_CHAINS}); do echo rule $c; "
            "iptables -D INPUT -j $c 2>/dev/null; iptables -D OUTPUT -j $c 2>/dev/null; "
            "iptables -F $c; iptables -X $c; done"
        )
        qdisc = (
            f"if tc qdisc show dev {self.interface} 2>/dev/null | grep -q 'qdisc tbf 4b43:'; then echo qdisc; "
            f"tc qdisc del dev {self.interface} root; fi"
        )
        thaw = (
            f'{self._pid()}; if [ -n "$pid" ] && grep -q "^State:.*T" /proc/$pid/status 2>/dev/null; '
            "then echo thawed; kill -CONT $pid; fi"
        )
        count = f"pgrep -fc {shlex.quote(_WATCHDOG_PATTERN)}"
        watchdogs = f'n=$({count}); [ "$n" -gt 0 ] && echo watchdogs $n; {cancel_watchdogs()}'
        out = self._must("; ".join([watchdogs, from_chains, qdisc, thaw, "true"]), "remove the harness's rules")
        found = [line.strip() for line in out.splitlines() if line.strip()]
        code, _ = self._sh(f"[ -f {MARKS}/down ]")
        if code == 0 and self.state == "exited":
            found.append("started")
            self.start()
        self._sh(f"rm -rf {MARKS}")
        return found
