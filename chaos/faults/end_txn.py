"""A delayed EndTxn: a transactional producer's commit held in the network and delivered after the
producer has committed it again and written part of its next transaction.

``end_txn_delay`` (``workload``: a transactional producer, the run's only transactional client)
installs, on the target brokers (all by default), iptables rules that drop every TCP segment
starting with an EndTxn request (Kafka API key 26, a frame under 512 bytes) on the client
connections that exist at the injection, and nothing else. The producer's next commit is held on
its coordinator connection; its request times out, the client closes that connection and retries
the commit on a new one, which the rules do not match, so the retry commits.

Everything happens at the injection; healing only makes sure the rules are gone and the producer
runs. The fault waits until the producer's ledger shows the held transaction's outcome (its
retried commit) and the rules' counters a held segment; a client that instead takes the timeout as
fatal and starts again (kafka-python) is refused in one sentence, since its new epoch fences the
stale commit whatever the transaction version. It then freezes the producer (SIGSTOP) at a moment
its ledger shows a transaction part written: no commit begun, one of its records acknowledged (so
in the log), and :data:`OPEN_RECORDS` or more still to send (looking while it is frozen, letting it
run again between looks). It removes the rules: the sender's kernel, still retransmitting the held
bytes (the connection's close behind them), delivers the stale EndTxn at its next retransmission
(seconds later; a hold of :data:`HOLD_LIMIT` seconds or more is refused, since the kernel gives up
on an orphaned connection after about 100 s). It waits until the broker has answered the EndTxn or
closed the connection (it reads nothing more on a connection before it answered what it read),
records Kafka's transactions tool's view of the transaction, and lets the producer run again.

On transaction version 1 the stale commit carries the epoch of the transaction now open (the epoch
changes only when a producer is initialised), so the coordinator takes it as that transaction's
commit: what was written of it is committed, and what the producer writes next is refused; on
version 2 (KIP-890) every commit bumps the epoch, and the stale one is fenced.

The rules live in a chain of the fault's own (``kc-<id>``), removed by healing and by
``kafka-chaos cluster heal`` / ``clean`` like every other network fault's.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from chaos import rundir
from chaos.cluster import Node
from chaos.cluster.config import CLIENT_PORT, DIRECT_PORT
from chaos.cluster.kafka_tools import transaction_states
from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, register, workload_named
from chaos.faults.client_pause import OPEN_RECORDS, WithRunDir
from chaos.faults.moments import freeze_when, member_meta
from chaos.faults.network import CHAIN_PREFIX, run_on
from chaos.waiting import wait_until
from chaos.workloads.ledger import PRODUCER_EVENT, Kind
from chaos.workloads.process import Workload

#: Kafka's API key of EndTxn.
END_TXN = 26
#: The u32 match of a segment whose payload starts with a Kafka request frame under 512 bytes (its
#: int32 size) whose API key (the int16 after the size) is EndTxn: the first test keeps a produce
#: request's continuation segment that happens to hold 26 there from matching.
END_TXN_U32 = f"0>>22&0x3C@12>>26&0x3C@0=0:511&&0>>22&0x3C@12>>26&0x3C@4>>16={END_TXN:#x}"
#: Seconds the verification waits for the held commit's retry.
RETRY_WAIT = 90.0
#: Seconds a hold may last: the sender's kernel retransmits an orphaned connection's bytes 8 times,
#: backing off from 0.2 s, the last about 51 s after the first, and then gives up.
HOLD_LIMIT = 45.0
#: Seconds healing waits for the held bytes to reach the broker (retransmissions back off to
#: 12.8 s after 25 s of holding).
DELIVERY_WAIT = 60.0

_ENDS = re.compile(r"\S+:(\d+)\s+(\S+):(\d+)\s*$")


def client_connections(ss_output: str, ports: tuple[int, ...] = (CLIENT_PORT, DIRECT_PORT)) -> list[tuple[str, int]]:
    """(peer address, peer port) of each connection to a client listener, from ``ss -Htn`` (the
    local and the peer address end each line, after the state when several are listed).

    >>> client_connections("0 0 172.18.0.3:9092 172.18.0.2:41234\\nCLOSE-WAIT 1 0 172.18.0.3:9091 172.18.0.4:5501")
    [('172.18.0.2', 41234)]
    """
    found = []
    for line in ss_output.splitlines():
        m = None if line[:1].isspace() else _ENDS.search(line.strip())
        if m and int(m.group(1)) in ports:
            found.append((m.group(2).strip("[]"), int(m.group(3))))
    return found


def bytes_sent(ss_info: str, ports: tuple[int, ...] = (CLIENT_PORT, DIRECT_PORT)) -> dict[int, int]:
    """Bytes the broker has sent on each connection to a client listener, by peer port, from
    ``ss -Htni`` (each connection's line, then a line of its TCP info).

    >>> bytes_sent("ESTAB 0 0 172.18.0.3:9092 172.18.0.2:41234\\n\\t cubic bytes_sent:812 bytes_acked:813\\n")
    {41234: 812}
    """
    found: dict[int, int] = {}
    port = None
    for line in ss_info.splitlines():
        m = None if line[:1].isspace() else _ENDS.search(line.strip())
        if m:
            port = int(m.group(3)) if int(m.group(1)) in ports else None
            continue
        sent = re.search(r"\bbytes_sent:(\d+)", line)
        if port is not None and sent:
            found[port] = int(sent.group(1))
    return found


def held_by_rule(listing: str) -> dict[int, int]:
    """Packets dropped per peer port, from ``iptables -L CHAIN -v -x -n``.

    >>> held_by_rule("Chain kc-1 (1 references)\\n pkts bytes target prot opt in out source destination\\n"
    ...              "    3   180 DROP tcp -- * * 172.18.0.2 0.0.0.0/0 tcp spt:41234 dpt:9092 u32 ...\\n")
    {41234: 3}
    """
    held: dict[int, int] = {}
    for line in listing.splitlines():
        fields = line.split()
        port = re.search(r"\bspt:(\d+)", line)
        if fields and fields[0].isdigit() and port:
            held[int(port.group(1))] = held.get(int(port.group(1)), 0) + int(fields[0])
    return held


def held_commit(events: np.ndarray) -> str:
    """What became of the first commit producer events ``events`` (those after the injection) show
    begun: ``retried`` (its own outcome came: the client retried it), ``restarted`` (a later
    transaction was begun or ended first: the client started again, with a new epoch), or ``""``
    (not yet).

    >>> events = np.zeros(3, PRODUCER_EVENT)
    >>> events["kind"] = [Kind.COMMITTING, Kind.COMMITTED, Kind.COMMITTED]
    >>> events["seq"], events["seq_end"] = [1000, 1000, 2000], [2000, 2000, 3000]
    >>> held_commit(events), held_commit(events[[0, 2]]), held_commit(events[:1])
    ('retried', 'restarted', '')
    """
    ends = np.flatnonzero(np.isin(events["kind"], (Kind.COMMITTING, Kind.COMMITTED, Kind.ABORTED)))
    begun = [int(i) for i in ends if events["kind"][i] == Kind.COMMITTING]
    if not begun:
        return ""
    first = events[begun[0]]
    for row in events[[int(i) for i in ends if i > begun[0]]]:
        if row["seq"] != first["seq"] or row["seq_end"] != first["seq_end"]:
            return "restarted"
        if row["kind"] != Kind.COMMITTING:
            return "retried"
    return ""


def open_part(events: np.ndarray, acks: np.ndarray, size: int) -> int:
    """Records sent in the transaction producer ``events`` show open, when it is part written: no
    commit begun, one of its records acknowledged (``acks``, so in the log), and at least
    :data:`OPEN_RECORDS` of its ``size`` still to send; else 0.

    >>> events = np.zeros(3, PRODUCER_EVENT)
    >>> events["kind"] = [Kind.COMMITTED, Kind.INTENT, Kind.INTENT]
    >>> events["seq"], events["seq_end"] = [0, 200, 260], [200, 260, 330]
    >>> acks = np.zeros(2, PRODUCER_EVENT)
    >>> acks["kind"], acks["seq"], acks["seq_end"] = Kind.ACK, [199, 200], [200, 201]
    >>> open_part(events, acks, 1000), open_part(events, acks[:1], 1000), open_part(events, acks, 200)
    (130, 0, 0)
    """
    ends = np.flatnonzero(np.isin(events["kind"], (Kind.COMMITTING, Kind.COMMITTED, Kind.ABORTED)))
    if not len(ends) or events["kind"][int(ends[-1])] == Kind.COMMITTING:
        return 0
    start = int(events["seq_end"][int(ends[-1])])
    intents = events[int(ends[-1]) + 1 :]
    intents = intents[intents["kind"] == Kind.INTENT]
    sent = int((intents["seq_end"] - intents["seq"]).sum())
    acked = bool(np.any((acks["kind"] == Kind.ACK) & (acks["seq"] >= start)))
    return sent if acked and 0 < sent <= size - OPEN_RECORDS else 0


def _transactional(workload: object) -> bool:
    spec = getattr(workload, "spec", None)
    return getattr(spec, "mode", "") == "transactional" or getattr(spec, "strategy", "") == "transactional"


def _events(path: Path, skip: int) -> np.ndarray:
    count = path.stat().st_size // PRODUCER_EVENT.itemsize if path.exists() else 0
    return np.fromfile(path, dtype=PRODUCER_EVENT, count=count)[skip:] if count else np.zeros(0, PRODUCER_EVENT)


@register
class EndTxnDelay(Fault):
    """Hold a transactional producer's next EndTxn on its coordinator connection until it has
    committed again on another and opened its next transaction; heal delivers the held one."""

    kind = "end_txn_delay"
    params: ClassVar[Mapping[str, Any]] = {"workload": str, "target": str}
    default_target = "all"

    def validate(self) -> None:
        if "workload" not in self.p:
            raise UsageError("fault end_txn_delay needs a workload: the transactional producer, e.g. producer-p0")
        self.chain = f"{CHAIN_PREFIX}{secrets.token_hex(4)}"
        self._rules: dict[Node, list[str]] = {}

    def _inject(self, ctx: FaultContext) -> None:
        name = workload_named(ctx.workloads, str(self.p["workload"]), self.kind)
        workload = ctx.workloads[name]
        if not name.startswith("producer-") or not isinstance(workload, WithRunDir):
            raise UsageError(f"end_txn_delay needs a transactional producer workload, not {name}")
        others = [n for n, w in ctx.workloads.items() if n != name and _transactional(w)]
        if others:
            raise UsageError(
                f"end_txn_delay holds every client's EndTxn, so {name} must be the only transactional client: "
                f"{', '.join(sorted(others))} also commits transactions"
            )
        self._injected = time.monotonic()
        self._events = workload.run_dir / rundir.LEDGERS / f"{name}.events"
        self._acks = self._events.with_suffix(".acks")
        self._skip = _events(self._events, 0).size
        for node in self.target_nodes(ctx):
            code, out = node.exec(["ss", "-Htn", "state", "established"])
            if code != 0:
                raise FaultError(f"cannot list {node.host}'s connections (exit {code}): {out.strip()[:200]}")
            self._rules[node] = [
                f"-p tcp -s {peer} --sport {port} -m multiport --dports {CLIENT_PORT},{DIRECT_PORT} "
                f'-m u32 --u32 "{END_TXN_U32}" -j DROP'
                for peer, port in client_connections(out)
            ]
        if not any(self._rules.values()):
            raise FaultError(f"{self.kind}: no client is connected to {', '.join(self.targets)}")
        c = self.chain
        run_on(
            {
                node: " && ".join(
                    [f"iptables -N {c}", *(f"iptables -A {c} {r}" for r in rules), f"iptables -I INPUT -j {c}"]
                )
                for node, rules in self._rules.items()
            }
        )

    def held(self) -> dict[Node, dict[int, int]]:
        """Segments dropped so far per target broker and peer port.

        Raises:
            FaultError: a broker's counters could not be read.
        """
        found = {}
        for node in self._rules:
            code, out = node.exec(["iptables", "-L", self.chain, "-v", "-x", "-n"])
            if code != 0:
                raise FaultError(f"cannot read the counters of {self.chain} on {node.host}: {out.strip()[:200]}")
            found[node] = {port: n for port, n in held_by_rule(out).items() if n}
        return found

    def _retried(self) -> bool:
        """Whether the held commit was retried and a segment is held.

        Raises:
            FaultError: the client started again instead, or the counters could not be read.
        """
        outcome = held_commit(_events(self._events, self._skip))
        if outcome == "restarted":
            raise FaultError(
                f"{self.kind}: {self.p['workload']} started a new client when its held commit timed out, and the new "
                "client's epoch fences the stale commit on either transaction version: the fault needs a client that "
                "retries its commit (the Java client, librdkafka)"
            )
        return outcome == "retried" and any(self.held().values())

    def _verify(self, ctx: FaultContext) -> None:
        wait_until(
            self._retried, RETRY_WAIT, f"{self.p['workload']} to retry its held commit", interval=0.05, error=FaultError
        )
        self._held = {node: ports for node, ports in self.held().items() if ports}
        self._sent = {node: self._bytes_sent(node) for node in self._held}
        producer = self._producer(ctx)
        try:
            size = int(str(member_meta(self._events.parent, self._events.stem).get("transaction_size") or 0))
            sent = freeze_when(
                "a transaction part written",
                lambda: open_part(_events(self._events, self._skip), _events(self._acks, 0), size),
                producer.pause,
                producer.resume,
            )
        except (TimeoutError, ValueError) as e:
            raise FaultError(f"{self.kind}: {self.p['workload']}: {e}") from e
        self._frozen: Workload | None = producer
        held = {n.host: {str(p): k for p, k in ports.items()} for n, ports in self._held.items()}
        assert ctx.timeline is not None
        ctx.timeline.record("end_txn_held", self, held=held, frozen=self.p["workload"], open_records=sent)
        if time.monotonic() - self._injected > HOLD_LIMIT:
            raise FaultError(
                f"{self.kind}: the EndTxn was held {time.monotonic() - self._injected:.0f} s, past {HOLD_LIMIT:.0f} s, "
                "after which the sender's kernel may give it up: lower the producer's request.timeout.ms "
                "(librdkafka: socket.timeout.ms) so its commit is retried sooner"
            )
        self._release()
        for node, ports in self._held.items():
            self._wait_answered(node, set(ports))
        ctx.timeline.record("end_txn_delivered", self, states=transaction_states(ctx.cluster.brokers))
        self._resume()

    def _producer(self, ctx: FaultContext) -> Workload:
        return ctx.workloads[workload_named(ctx.workloads, str(self.p["workload"]), self.kind)]

    def _release(self) -> None:
        c = self.chain
        script = f"iptables -D INPUT -j {c} 2>/dev/null; iptables -F {c} 2>/dev/null; iptables -X {c} 2>/dev/null; true"
        run_on({n: script for n in self._rules if n.is_running})

    def _resume(self) -> None:
        frozen, self._frozen = getattr(self, "_frozen", None), None
        if frozen is not None:
            frozen.resume()

    def _heal(self, ctx: FaultContext) -> None:
        """Make sure the rules are gone and the producer runs (the fault did its work when injected)."""
        try:
            self._release()
        finally:
            self._resume()

    @staticmethod
    def _bytes_sent(node: Node) -> dict[int, int]:
        """What ``node`` has sent on each client connection (:func:`bytes_sent`).

        Raises:
            FaultError: its connections could not be listed.
        """
        code, out = node.exec(["ss", "-Htni", "state", "connected"])
        if code != 0:
            raise FaultError(f"cannot list {node.host}'s connections (exit {code}): {out.strip()[:200]}")
        return bytes_sent(out)

    def _wait_answered(self, node: Node, ports: set[int]) -> None:
        """Wait until ``node`` has answered the held EndTxn on each of ``ports``, or closed the
        connection: it sends nothing on one between the hold and the EndTxn's answer, since the
        requests behind it wait for it, and closes one only after answering.

        Raises:
            FaultError: neither, after :data:`DELIVERY_WAIT` seconds.
        """
        before = self._sent.get(node, {})

        def answered() -> bool:
            now = self._bytes_sent(node)
            return all(port not in now or now[port] > before.get(port, 0) for port in ports)

        wait_until(answered, DELIVERY_WAIT, f"{node.host} to answer the held EndTxn", interval=0.1, error=FaultError)
