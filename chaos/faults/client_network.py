"""Network faults between one client and brokers, inside the client's own network namespace
(:mod:`chaos.workloads.netns`): nothing on the brokers or their hosts changes, so they work on any
cluster, a team's without consent too.

* ``client_cut``: drop the packets between ``workload`` and the ``target`` brokers (default every
  one), in both directions or one (``direction``: ``both``, ``to_brokers`` — its requests vanish —
  or ``from_brokers`` — the answers do). Connections already open stall; new ones time out.
* ``client_bandwidth``: limit that traffic to ``rate`` (tc's units: ``256kbit``, ``1mbit``) with an
  ``htb`` class: ``to_brokers`` on the namespace's end of its veth, ``from_brokers`` on this
  machine's, ``both`` on each.

A broker is told apart by the address the client dials (metadata's for its client path: a port of
127.0.0.1 on the harness's clusters, the advertised host and port on a team's), matched in
iptables by the connection's original destination (``conntrack --ctorig*``), so one rule catches
both directions and survives the namespace's own address translation. Targets name brokers as the
other faults do; a client talks to no controller, so ``controller`` selectors are refused.
"""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Mapping
from typing import Any, ClassVar

from chaos.errors import InfrastructureError, UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, register, workload_named
from chaos.faults.targets import PARTITION_SELECTORS
from chaos.workloads.netns import Netns, run_here

DIRECTIONS = ("both", "to_brokers", "from_brokers")
#: The handle of the harness's htb qdiscs (the same as its tbf on brokers: ``KC``).
HANDLE = "4b43:"
_RATE = re.compile(r"^\d+(\.\d+)?(bit|kbit|mbit|gbit|bps|kbps|mbps)$")
#: Seconds a probe connection waits before it counts the broker as cut off.
PROBE_S = 1


def broker_ids(selector: str, ctx: FaultContext, ids: list[int]) -> list[int]:
    """The brokers (by id, of ``ids``: those a client reaches) ``selector`` names now.

    Raises:
        UsageError: a controller selector, or a broker that is not one of ``ids``.
        FaultError: the partition has no leader now.
    """
    head, _, rest = selector.partition(":")
    if selector.isdigit() or head == "broker":
        wanted = int(rest or selector)
        if wanted not in ids:
            raise UsageError(f"there is no broker {wanted} among the brokers clients reach ({ids})")
        return [wanted]
    if head in PARTITION_SELECTORS:
        topic, part = rest.rsplit(":", 1)
        state = ctx.cluster.metadata.partition(topic, int(part))
        if head == "leader":
            if state.leader not in ids:
                raise FaultError(f"{topic}-{part} has no leader now")
            return [state.leader]
        named = {
            "followers": [r for r in state.replicas if r != state.leader],
            "isr": list(state.isr),
            "out_of_sync": [r for r in state.replicas if r not in state.isr],
        }
        if head == "follower":
            followers = [r for r in state.replicas if r != state.leader]
            return [ctx.rng.choice(followers)] if followers else []
        return named[head]
    if head == "coordinator" and rest.partition(":")[0] in ("group", "transaction"):
        kind, _, key = rest.partition(":")
        return [ctx.cluster.metadata.coordinator(kind, key)]
    if selector == "random":
        return [ctx.rng.choice(ids)]
    if selector == "all":
        return list(ids)
    raise UsageError(
        f"target {selector} does not name brokers a client talks to: use all, broker:N, random, "
        "leader/followers/follower/isr/out_of_sync:TOPIC:PARTITION or coordinator:group:GROUP"
    )


class _ClientFault(Fault):
    """A fault in one workload's namespace, between it and the ``target`` brokers."""

    default_target = "all"

    def __init__(self, name: str | None = None, **params: Any) -> None:
        super().__init__(name, **params)
        self._ns: Netns | None = None
        self._addresses: list[tuple[str, int]] = []
        #: (inside the namespace, device) of each qdisc a bandwidth limit added.
        self._added: list[tuple[bool, str]] = []

    def validate(self) -> None:
        if "workload" not in self.p:
            raise UsageError(f"fault {self.kind} needs a workload: the client whose traffic it cuts, e.g. producer-p0")
        if str(self.p.get("direction", "both")) not in DIRECTIONS:
            raise UsageError(f"fault {self.kind} direction must be one of {', '.join(DIRECTIONS)}")

    @property
    def direction(self) -> str:
        return str(self.p.get("direction", "both"))

    def _aim(self, ctx: FaultContext) -> Netns:
        """The workload's namespace and the target brokers' addresses (kept for healing).

        Raises:
            UsageError: the workload runs in no namespace of its own.
            FaultError: the cluster gives no client addresses, or a broker's host does not resolve.
        """
        name = workload_named(ctx.workloads, str(self.p["workload"]), self.kind)
        ns = getattr(ctx.workloads[name], "netns", None)
        if not isinstance(ns, Netns):
            raise UsageError(
                f"fault {self.kind} acts in {name}'s own network namespace, and it runs in none: an application "
                "runs in the open, and a scenario gives its workloads namespaces with client_namespaces=True"
            )
        if ctx.client_addresses is None:
            raise FaultError(f"fault {self.kind}: this run does not know the address each broker has for its clients")
        addresses = ctx.client_addresses()
        ids = broker_ids(self.target, ctx, sorted(addresses))
        if not ids:
            raise FaultError(f"{self.kind}: target {self.target!r} names no broker now")
        self.targets = [f"{name} <-> broker-{i}" for i in ids]
        try:
            self._addresses = [(socket.gethostbyname(addresses[i][0]), addresses[i][1]) for i in ids]
        except OSError as e:  # gethostbyname knows IPv4 only, as do the namespace's rules
            raise FaultError(f"{self.kind}: a broker's host has no IPv4 address here ({e}): name it by one") from None
        self._ns = ns
        return ns

    def _reaches(self, ns: Netns, ip: str, port: int) -> bool:
        """Whether a new connection from inside ``ns`` to ``ip:port`` opens within :data:`PROBE_S`."""
        try:
            ns.run(["timeout", str(PROBE_S), "bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}"], "a probe")
        except InfrastructureError:
            return False
        return True


@register
class ClientCut(_ClientFault):
    """Drop the packets between ``workload`` and the ``target`` brokers (``direction``)."""

    kind = "client_cut"
    params: ClassVar[Mapping[str, Any]] = {"workload": str, "target": str, "direction": str}

    def _inject(self, ctx: FaultContext) -> None:
        ns = self._aim(ctx)
        self.chain = f"kc-{secrets.token_hex(4)}"
        dirs = {"both": [""], "to_brokers": ["--ctdir ORIGINAL "], "from_brokers": ["--ctdir REPLY "]}[self.direction]
        rules = [
            f"iptables -w -A {self.chain} -p tcp -m conntrack {d}--ctorigdst {ip} --ctorigdstport {port} -j DROP"
            for ip, port in self._addresses
            for d in dirs
        ]
        ns.run(
            [
                "sh",
                "-ec",
                " && ".join(
                    [f"iptables -w -N {self.chain}", *rules]
                    + [f"iptables -w -I {hook} 1 -j {self.chain}" for hook in ("OUTPUT", "INPUT")]
                ),
            ],
            f"cutting {self.p['workload']} off",
        )

    def _verify(self, ctx: FaultContext) -> None:
        assert self._ns is not None
        ip, port = self._addresses[0]
        if self._reaches(self._ns, ip, port):
            raise FaultError(f"{self.p['workload']} still reaches {ip}:{port}")

    def _heal(self, ctx: FaultContext) -> None:
        if self._ns is None or not self._ns.exists():  # removed already (its run's end, clean): so is the cut
            return
        chain = self.chain
        undo = f"for h in OUTPUT INPUT; do while iptables -w -D $h -j {chain} 2>/dev/null; do :; done; done; "
        undo += f"iptables -w -F {chain} 2>/dev/null; iptables -w -X {chain} 2>/dev/null; "
        undo += f"if iptables -w -S {chain} >/dev/null 2>&1; then echo 'chain {chain} is still there'; exit 1; fi"
        self._ns.run(["sh", "-c", undo], f"healing the cut of {self.p['workload']}")


@register
class ClientBandwidth(_ClientFault):
    """Limit the traffic between ``workload`` and the ``target`` brokers to ``rate`` (``direction``)."""

    kind = "client_bandwidth"
    params: ClassVar[Mapping[str, Any]] = {"workload": str, "target": str, "direction": str, "rate": str}

    def validate(self) -> None:
        super().validate()
        if not _RATE.match(str(self.p.get("rate", "1mbit"))):
            raise UsageError(f"fault client_bandwidth rate {self.p['rate']!r} is not a rate like 256kbit or 1mbit")

    def _devices(self, ns: Netns) -> list[tuple[bool, str, str]]:
        """(inside, device, match word) for each direction limited."""
        out = [(True, ns.ns_if, "dst"), (False, ns.host_if, "src")]
        return {"both": out, "to_brokers": out[:1], "from_brokers": out[1:]}[self.direction]

    def _tc(self, ns: Netns, inside: bool, script: str) -> None:
        argv = ["sh", "-ec", script]
        if inside:
            ns.run(argv, "a bandwidth limit")
        else:
            run_here(argv, "a bandwidth limit")

    def _inject(self, ctx: FaultContext) -> None:
        ns = self._aim(ctx)
        rate = str(self.p.get("rate", "1mbit"))
        self._added = []
        for inside, dev, word in self._devices(ns):
            shown = (
                ns.run(["tc", "qdisc", "show", "dev", dev], "qdiscs")
                if inside
                else run_here(["tc", "qdisc", "show", "dev", dev], "qdiscs")
            )
            if f"htb {HANDLE}" in shown:
                raise FaultError(f"{self.p['workload']}'s traffic is limited already: one client_bandwidth at a time")
            port_word = "dport" if word == "dst" else "sport"
            filters = [
                f"tc filter add dev {dev} parent {HANDLE} protocol ip prio 1 u32 match ip {word} {ns.wire(ip)}/32 "
                f"match ip {port_word} {port} 0xffff flowid {HANDLE}1"
                for ip, port in self._addresses
            ]
            self._tc(
                ns,
                inside,
                " && ".join(
                    [
                        f"tc qdisc add dev {dev} root handle {HANDLE} htb",
                        f"tc class add dev {dev} parent {HANDLE} classid {HANDLE}1 htb rate {rate} ceil {rate}",
                        *filters,
                    ]
                ),
            )
            self._added.append((inside, dev))  # healing removes only the limits this fault added

    def _heal(self, ctx: FaultContext) -> None:
        if self._ns is None or not self._ns.exists():  # removed already, and both ends of its veth with it
            return
        for inside, dev in self._added:
            mine = f"tc qdisc show dev {dev} | grep -q 'qdisc htb {HANDLE}'"
            self._tc(
                self._ns,
                inside,
                f"if ! ip link show {dev} >/dev/null 2>&1; then exit 0; fi; "
                f"if {mine}; then tc qdisc del dev {dev} root; fi; "
                f"if {mine}; then echo 'the htb qdisc on {dev} is still there'; exit 1; fi",
            )
