"""Network faults between brokers, applied inside each broker's own network namespace.

iptables rules go into a chain of the fault's own (``kc-<id>``) hooked into INPUT and OUTPUT, so
healing removes exactly that fault's rules and nothing else (blockade names its chains the same
way). Only Kafka nodes' addresses are blocked: the toxiproxy path from clients is left alone, so a
partition here is between brokers (replication, the KRaft quorum). One ``docker exec`` per node,
all nodes in parallel.

tc: ``tbf`` limits a broker's egress bandwidth. This kernel has no ``netem``: a latency or loss
fault needing it is reported as unsupported, never skipped silently (toxiproxy adds latency to
client traffic instead).
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from chaos.cluster import KafkaCluster, Node
from chaos.cluster.config import INTERNAL_PORT
from chaos.cluster.ssh_node import cancel_watchdogs, watchdog
from chaos.errors import InfrastructureError, UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, UnsupportedFault, register
from chaos.faults.targets import check_selector, resolve

CHAIN_PREFIX = "kc-"
#: The handle of the harness's root qdisc ("KC"), by which a heal knows it is its own.
QDISC_HANDLE = "4b43:"
#: ``timeout``'s exit code when the command outran it (a connection hanging: its packets dropped).
_TIMED_OUT = 124
#: The shell's exit code for a command it cannot find (an image without iptables or tc).
_NOT_FOUND = 127


def node_ip(cluster: KafkaCluster, node: Node) -> str:
    """``node``'s address on the run's network (where the other nodes reach it).

    Raises:
        FaultError: it has none (is it running?).
    """
    del cluster
    try:
        return node.address()
    except InfrastructureError as e:
        raise FaultError(str(e)) from None


def run_on(nodes: dict[Node, str]) -> None:
    """Run one shell script per node, in parallel.

    Raises:
        FaultError: a script failed; its output is in the message.
    """

    def one(item: tuple[Node, str]) -> tuple[Node, int, str]:
        node, script = item
        code, out = node.exec(["sh", "-c", script])
        return node, code, out

    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        failures = [(n, c, o) for n, c, o in pool.map(one, nodes.items()) if c != 0]
    if failures:
        node, code, out = failures[0]
        if code == _NOT_FOUND:
            raise FaultError(
                f"network fault on {node.host} failed: its image lacks a command the fault runs as root "
                f"({out.strip()[-200:]}); network faults need iptables and tc in the broker image, which the "
                "harness's own image has (`kafka-chaos images build`)"
            )
        raise FaultError(f"network fault on {node.host} failed (exit {code}): {out.strip()[-300:]}")


def reachable(src: Node, ip: str, port: int = INTERNAL_PORT, timeout: float = 0.5) -> bool:
    """Whether packets from ``src`` reach ``ip:port`` (bash's /dev/tcp, no tools needed): a connection
    made or refused reached it; one dropped on the way out (``Operation not permitted``), without a
    route, or hanging until ``timeout`` did not. A refusal counts, so a peer listening on another
    port (a team's host, a controller) cannot pass for a cut one.

    Raises:
        FaultError: the probe ended otherwise (no bash there, say): nothing can be told.
    """
    code, out = src.exec(["env", "LC_ALL=C", "timeout", str(timeout), "bash", "-c", f"</dev/tcp/{ip}/{port}"])
    said = out.lower()
    if code == 0 or "refused" in said:
        return True
    if code == _TIMED_OUT or any(m in said for m in ("not permitted", "no route", "unreachable")):
        return False
    raise FaultError(
        f"cannot tell whether {src.host} reaches {ip}: the probe ended with exit {code}: {out.strip()[-200:]}"
    )


def flush_all_chains(nodes: list[Node]) -> None:
    """Remove every chain this harness made on ``nodes`` (what ``kafka-chaos cluster heal`` does)."""
    script = (
        f"for c in $(iptables -S | sed -n 's/^-N \\({CHAIN_PREFIX}[^ ]*\\).*/\\1/p'); do "
        "iptables -D INPUT -j $c 2>/dev/null; iptables -D OUTPUT -j $c 2>/dev/null; "
        "iptables -F $c; iptables -X $c; done; tc qdisc del dev eth0 root 2>/dev/null; true"
    )
    run_on({n: script for n in nodes if n.is_running})


def harness_chains(node: Node) -> list[str]:
    """Names of the harness's chains on ``node``.

    Raises:
        FaultError: ``iptables -S`` failed, so nothing can be said about what is left.
    """
    code, out = node.exec(["iptables", "-S"])
    if code != 0:
        raise FaultError(f"cannot list iptables chains on {node.host} (exit {code}): {out.strip()[:200]}")
    return [line.split()[1] for line in out.splitlines() if line.startswith(f"-N {CHAIN_PREFIX}")]


class _Iptables(Fault):
    """Base: each subclass says which (node → drop-rules) to install."""

    def __init__(self, name: str | None = None, **params: Any) -> None:
        super().__init__(name, **params)
        self.chain = f"{CHAIN_PREFIX}{secrets.token_hex(4)}"
        self._nodes: list[Node] = []

    def rules(self, ctx: FaultContext) -> dict[Node, list[str]]:
        """iptables rule bodies (appended to the fault's chain) per node."""
        raise NotImplementedError

    def _inject(self, ctx: FaultContext) -> None:
        per_node = self.rules(ctx)
        self._nodes = list(per_node)
        c = self.chain
        scripts = {
            node: " && ".join(
                [
                    # The watchdog first: on a team's host no rule exists without one.
                    *_expiring(node, c, self._removal()),
                    f"iptables -w -N {c}",
                    *(f"iptables -w -A {c} {r}" for r in rules),
                    f"iptables -w -I INPUT -j {c}",
                    f"iptables -w -I OUTPUT -j {c}",
                ]
            )
            for node, rules in per_node.items()
        }
        run_on(scripts)

    def _removal(self) -> str:
        c = self.chain
        return (
            f"iptables -w -D INPUT -j {c} 2>/dev/null; iptables -w -D OUTPUT -j {c} 2>/dev/null; "
            f"iptables -w -F {c} 2>/dev/null; iptables -w -X {c} 2>/dev/null; true"
        )

    def _heal(self, ctx: FaultContext) -> None:
        """Remove the chain, check it is gone (a heal that failed says so), then end its watchdog."""
        c = self.chain
        gone = f"if iptables -w -S | grep -q -- '^-N {c}$'; then echo 'chain {c} is still there'; exit 1; fi"
        run_on({n: f"{self._removal()}; {gone}; {_cancel(n, c)}" for n in _reachable(self._nodes)})


def _expiring(node: Node, tag: str, removal: str) -> list[str]:
    """On a host the harness does not own, a watchdog that runs ``removal`` when the rule expires
    (the heal survives the harness being killed); nothing on a container of its own."""
    return [watchdog(tag, node.expiry, removal)] if node.remote and node.expiry else []


def _cancel(node: Node, tag: str) -> str:
    """Shell ending ``tag``'s watchdog on a host the harness does not own."""
    return cancel_watchdogs(tag) if node.remote else "true"


def _reachable(nodes: list[Node]) -> list[Node]:
    """The nodes a heal can act on: a host always, a container while it runs."""
    return [n for n in nodes if n.remote or n.is_running]


def _block(ips: list[str], direction: str = "both") -> list[str]:
    rules = []
    for ip in ips:
        if direction in ("both", "in"):
            rules.append(f"-s {ip} -j DROP")
        if direction in ("both", "out"):
            rules.append(f"-d {ip} -j DROP")
    return rules


class _Split(_Iptables):
    """Groups that cannot reach each other (and an optional bridge node reaching all)."""

    def __init__(self, name: str | None = None, **params: Any) -> None:
        super().__init__(name, **params)
        self._pairs: list[tuple[Node, Node]] = []
        self._ip: dict[Node, str] = {}

    def groups(self, ctx: FaultContext) -> tuple[list[list[Node]], list[Node]]:
        raise NotImplementedError

    def rules(self, ctx: FaultContext) -> dict[Node, list[str]]:
        groups, bridge = self.groups(ctx)
        ip = {n: node_ip(ctx.cluster, n) for g in groups for n in g}
        self.targets = [" ".join(n.host for n in g) for g in groups] + [f"bridge {b.host}" for b in bridge]
        self._pairs = [(a, b) for i, g in enumerate(groups) for a in g for h in groups[i + 1 :] for b in h]
        self._ip = ip
        out: dict[Node, list[str]] = {}
        for i, group in enumerate(groups):
            others = [ip[n] for j, g in enumerate(groups) if j != i for n in g]
            for node in group:
                out[node] = _block(others)
        return out

    def _verify(self, ctx: FaultContext) -> None:
        a, b = self._pairs[0]
        if reachable(a, self._ip[b]):
            raise FaultError(f"{a.host} still reaches {b.host} after the partition")


@register
class Isolate(_Split):
    """Cut the target brokers off from every other broker (both directions)."""

    kind = "isolate"
    params: ClassVar[Mapping[str, Any]] = {"target": str}

    def groups(self, ctx: FaultContext) -> tuple[list[list[Node]], list[Node]]:
        inside = resolve(self.target, ctx.cluster, ctx.rng)
        rest = [n for n in ctx.cluster.nodes if n not in inside]
        if not rest:
            raise UsageError("isolate needs at least one node outside the target")
        return [inside, rest], []


@register
class Partition(_Split):
    """Split the cluster in two: a minority (``target``, default ``minority``) and the rest."""

    kind = "partition"
    params: ClassVar[Mapping[str, Any]] = {"target": str}

    default_target = "minority"

    def groups(self, ctx: FaultContext) -> tuple[list[list[Node]], list[Node]]:
        side = resolve(self.target, ctx.cluster, ctx.rng)
        rest = [n for n in ctx.cluster.nodes if n not in side]
        if not rest:
            raise UsageError("partition needs nodes on both sides")
        return [side, rest], []


@register
class Bridge(_Split):
    """Two halves that cannot reach each other, and one node (``target``) that reaches both."""

    kind = "bridge"
    params: ClassVar[Mapping[str, Any]] = {"target": str}

    def groups(self, ctx: FaultContext) -> tuple[list[list[Node]], list[Node]]:
        bridge = resolve(self.target, ctx.cluster, ctx.rng)[:1]
        rest = [n for n in ctx.cluster.nodes if n not in bridge]
        if len(rest) < 2:
            raise UsageError("a bridge needs at least three nodes")
        half = len(rest) // 2
        return [rest[:half], rest[half:]], bridge


@register
class OneWay(_Iptables):
    """Packets from ``source`` to ``dest`` brokers are dropped; the other direction flows."""

    def __init__(self, name: str | None = None, **params: Any) -> None:
        super().__init__(name, **params)
        self._probe: tuple[Node, str] | None = None

    kind = "one_way"
    params: ClassVar[Mapping[str, Any]] = {"source": str, "dest": str}

    def validate(self) -> None:
        if "source" not in self.p or "dest" not in self.p:
            raise UsageError("fault one_way needs source and dest selectors")
        check_selector(str(self.p["source"]))
        check_selector(str(self.p["dest"]))

    def rules(self, ctx: FaultContext) -> dict[Node, list[str]]:
        src = resolve(str(self.p["source"]), ctx.cluster, ctx.rng)
        dst = [n for n in resolve(str(self.p["dest"]), ctx.cluster, ctx.rng) if n not in src]
        if not dst:
            raise UsageError("one_way needs dest nodes other than the source nodes")
        self.targets = [f"{' '.join(n.host for n in src)} -> {' '.join(n.host for n in dst)}"]
        self._probe = (src[0], node_ip(ctx.cluster, dst[0]))
        out: dict[Node, list[str]] = {n: _block([node_ip(ctx.cluster, d) for d in dst], "out") for n in src}
        for d in dst:
            out[d] = _block([node_ip(ctx.cluster, s) for s in src], "in")
        return out

    def _verify(self, ctx: FaultContext) -> None:
        assert self._probe is not None
        src, ip = self._probe
        if reachable(src, ip):
            raise FaultError(f"{src.host} still reaches {ip}")


@register
class PacketDrop(_Iptables):
    """Drop a random share (``probability``) of the packets the target brokers get from other brokers."""

    kind = "packet_drop"
    params: ClassVar[Mapping[str, Any]] = {"target": str, "probability": (int, float)}

    def validate(self) -> None:
        if not 0 < float(self.p.get("probability", 0.3)) <= 1:
            raise UsageError("packet_drop probability must be in (0, 1]")

    def rules(self, ctx: FaultContext) -> dict[Node, list[str]]:
        nodes = self.target_nodes(ctx)
        p = float(self.p.get("probability", 0.3))
        peers = [n for n in ctx.cluster.nodes if n not in nodes]
        return {
            n: [
                f"-s {node_ip(ctx.cluster, peer)} -m statistic --mode random --probability {p} -j DROP"
                for peer in peers
            ]
            for n in nodes
        }


@register
class BandwidthLimit(Fault):
    """Limit the target brokers' egress with tc ``tbf`` (``rate`` like ``1mbit``)."""

    kind = "bandwidth_limit"
    params: ClassVar[Mapping[str, Any]] = {"target": str, "rate": str}

    def _inject(self, ctx: FaultContext) -> None:
        self._hit = self.target_nodes(ctx)
        rate = shlex.quote(str(self.p.get("rate", "1mbit")))
        run_on(
            {
                n: " && ".join(
                    [
                        *_expiring(n, "tbf", _qdisc_removal(n)),
                        f"tc qdisc add dev {n.interface} root handle {QDISC_HANDLE} tbf rate {rate} burst 32kbit "
                        "latency 400ms",
                    ]
                )
                for n in self._hit
            }
        )

    def _heal(self, ctx: FaultContext) -> None:
        run_on({n: f"{_qdisc_removal(n)}; {_qdisc_gone(n)}; {_cancel(n, 'tbf')}" for n in _reachable(self._hit)})


def _qdisc_gone(node: Node) -> str:
    """Shell failing while the harness's qdisc is still there (a heal that did not take)."""
    shown = f"tc qdisc show dev {node.interface} | grep -q 'qdisc tbf {QDISC_HANDLE}'"
    return f"if {shown}; then echo 'the tbf qdisc is still there'; exit 1; fi"


def _qdisc_removal(node: Node) -> str:
    """Remove the root qdisc if it is the harness's (its handle), never another."""
    dev = node.interface
    return (
        f"if tc qdisc show dev {dev} | grep -q 'qdisc tbf {QDISC_HANDLE}'; then tc qdisc del dev {dev} root; fi; true"
    )


@register
class NetemLatency(Fault):
    """Latency (and loss) between brokers with tc ``netem`` — where the kernel has it."""

    kind = "latency"
    params: ClassVar[Mapping[str, Any]] = {
        "target": str,
        "delay_ms": int,
        "jitter_ms": int,
        "loss_percent": (int, float),
    }

    def _inject(self, ctx: FaultContext) -> None:
        self._hit = self.target_nodes(ctx)
        spec = f"delay {int(self.p.get('delay_ms', 100))}ms {int(self.p.get('jitter_ms', 0))}ms"
        if "loss_percent" in self.p:
            spec += f" loss {float(self.p['loss_percent'])}%"
        code, out = self._hit[0].exec(["sh", "-c", f"tc qdisc add dev eth0 root netem {spec} 2>&1"])
        if code != 0:
            if "unknown" in out.lower() or "not supported" in out.lower():
                raise UnsupportedFault(
                    "tc netem is not available on this machine's kernel, so broker-to-broker latency cannot be "
                    "injected here: use the toxiproxy 'toxic' fault (type latency) for client traffic"
                )
            raise FaultError(f"tc netem failed on {self._hit[0].host}: {out.strip()}")
        run_on({n: f"tc qdisc add dev eth0 root netem {spec}" for n in self._hit[1:]})

    def _heal(self, ctx: FaultContext) -> None:
        run_on({n: "tc qdisc del dev eth0 root 2>/dev/null; true" for n in self._hit if n.is_running})
