"""A network namespace of one workload on this machine, so that faults can cut, drop one way, or
slow the traffic between that client and any broker without touching the brokers (any cluster:
the harness's own, or a team's without consent to faults on it).

Each namespace, ``kafka-chaos.<run-id>.<workload>.<hex>``, has a veth pair to this machine (``kcw<hex>h``
here, ``kcw<hex>n`` inside) on a /30 of ``10.254.0.0/16`` that nothing on this machine uses, and its
default route through it. Two kinds of broker address work from inside:

* loopback (the harness's clusters publish their ports on 127.0.0.1): inside, a connection to
  ``127.x.y.z:P`` is sent (DNAT, then masquerade; ``route_localnet``) to this machine's end of the
  veth, where it is sent on (DNAT) to ``127.0.0.1:P``. The port is kept, so each broker is still
  told apart by its port;
* any other (a team's brokers): forwarded and masqueraded by this machine, as a container's would be.

What a fault adds inside the namespace is the fault's own (:mod:`chaos.faults.client_network`);
what this module adds on this machine (nat and forward rules) carries the iptables comment
``kafka-chaos.run=<run-id>``, and :func:`sweep` (``kafka-chaos clean``) removes it and the
namespaces. Deleting a namespace deletes its veth pair with it.

Why hand-written: the namespace is a handful of ``ip`` and ``iptables`` commands, which no library
on PyPI wraps for both (pyroute2 would do the links, not the rules); the commands are the contract.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import re
import secrets
import shlex
import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from chaos.errors import InfrastructureError, UsageError

#: Every namespace's name starts with it (then the run id, then the workload).
PREFIX = "kafka-chaos."
#: The comment on every rule this module adds on this machine (then ``=<run-id>``).
COMMENT = "kafka-chaos.run"
#: Where the namespaces' /30s come from.
POOL = ipaddress.IPv4Network("10.254.0.0/16")
#: The chains of this machine that hold a namespace's rules: (table, chain).
HOST_CHAINS = (("nat", "PREROUTING"), ("nat", "POSTROUTING"), ("filter", "FORWARD"), ("filter", "INPUT"))
#: The programs a namespace and the faults in it run.
TOOLS = ("ip", "iptables", "tc", "sysctl", "bash", "timeout")
#: CAP_NET_ADMIN and CAP_SYS_ADMIN (``ip netns add`` mounts), as bits of ``CapEff``.
CAPABILITIES = {"NET_ADMIN": 12, "SYS_ADMIN": 21}
#: Seconds any one command may take.
TIMEOUT_S = 20.0
_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def run_here(argv: Sequence[str], what: str) -> str:
    """Run ``argv`` and return its stdout.

    Raises:
        InfrastructureError: it failed, timed out or is not installed; the message says ``what``.
    """
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InfrastructureError(f"{what} failed: {shlex.join(argv)}: {e}") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise InfrastructureError(f"{what} failed: {shlex.join(argv)}: {said[-1] if said else done.returncode}")
    return done.stdout


def check_can() -> None:
    """Check this machine can give workloads namespaces of their own.

    Raises:
        UsageError: not root, without CAP_NET_ADMIN or CAP_SYS_ADMIN (an unprivileged container), or
            without one of :data:`TOOLS`; the sentence says what to do.
    """
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise UsageError(
            f"client network faults run each workload in a network namespace, which needs {', '.join(missing)} "
            "(apt-get install iproute2 iptables procps bash coreutils): install it, or remove the client network faults"
        )
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    held = int(next((line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), "0"), 16)
    lacking = [name for name, bit in CAPABILITIES.items() if not held >> bit & 1]
    if os.geteuid() != 0 or lacking:
        raise UsageError(
            "client network faults run each workload in a network namespace, which needs root"
            + (f" with CAP_{' and CAP_'.join(lacking)} (a privileged container)" if lacking else "")
            + ": run as such, or remove the client network faults"
        )


@dataclass(frozen=True, slots=True)
class Netns:
    """One workload's namespace: its name, run id, the veth ends and their addresses."""

    name: str
    run_id: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace (``ip netns exec`` execs it: the pid stays the program's)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], what: str) -> str:
        """Run ``argv`` inside the namespace; its stdout. Raises InfrastructureError (it failed)."""
        return run_here(self.wrap(argv), what)

    def exists(self) -> bool:
        """Whether the namespace is still there. Raises InfrastructureError (``ip`` failed)."""
        return self.name in listed()

    def wire(self, ip: str) -> str:
        """The address a packet to or from ``ip`` carries on the veth: this machine's end for a loopback
        address (inside, those are sent there), else ``ip`` itself."""
        return self.host_ip if ipaddress.ip_address(ip).is_loopback else ip

    def host_rules(self) -> list[tuple[str, str, list[str]]]:
        """The rules on this machine, as (table, chain, rule spec)."""
        tag = ["-m", "comment", "--comment", f"{COMMENT}={self.run_id}"]
        to_loopback = ["-i", self.host_if, "-d", self.host_ip, "-p", "tcp", *tag, "-j", "DNAT", "--to-destination"]
        answers = ["-o", self.host_if, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", *tag, "-j", "ACCEPT"]
        return [
            ("nat", "PREROUTING", [*to_loopback, "127.0.0.1"]),
            ("nat", "POSTROUTING", ["-s", self.ns_ip, "!", "-o", self.host_if, *tag, "-j", "MASQUERADE"]),
            ("filter", "FORWARD", ["-i", self.host_if, *tag, "-j", "ACCEPT"]),
            ("filter", "FORWARD", answers),
            # a firewall dropping what comes in (ufw's default) would drop the namespace's connections
            ("filter", "INPUT", ["-i", self.host_if, "-d", "127.0.0.1", "-p", "tcp", *tag, "-j", "ACCEPT"]),
        ]


def _used_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks of this machine's addresses and routes."""
    out = run_here(["ip", "-4", "-o", "addr", "show"], "listing this machine's addresses")
    out += run_here(["ip", "-4", "route", "show", "table", "all"], "listing this machine's routes")
    found = re.findall(r"\b(\d+\.\d+\.\d+\.\d+(?:/\d+)?)\b", out)
    return [ipaddress.IPv4Network(n, strict=False) for n in found if not n.startswith("0.0.0.0")]


def free_subnet(used: Sequence[ipaddress.IPv4Network], rng: random.Random | None = None) -> ipaddress.IPv4Network:
    """A /30 of :data:`POOL` that overlaps none of ``used``.

    Raises:
        InfrastructureError: none is free after many tries.
    """
    rng = rng or random.Random()
    subnets = POOL.num_addresses // 4
    for _ in range(200):
        net = ipaddress.IPv4Network(f"{POOL.network_address + 4 * rng.randrange(subnets)}/30")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return net
    raise InfrastructureError(f"no /30 of {POOL} is free on this machine for a workload's namespace")


def broker_ips(addresses: Mapping[int, tuple[str, int]]) -> list[str]:
    """The IPv4 addresses of brokers' (host, port)s, as this machine resolves them (a host that does
    not resolve is left out: a client could not reach it either)."""
    found = []
    for host, _ in addresses.values():
        with contextlib.suppress(OSError):
            found.append(socket.gethostbyname(host))
    return found


def namespace_name(run_id: str, workload: str, tag: str = "") -> str:
    """``kafka-chaos.<run-id>.<workload>.<tag>`` (the prefix of a run's with ``workload`` empty),
    with characters a namespace name cannot carry replaced."""
    return _NAME.sub("_", f"{PREFIX}{run_id}.{workload}" + (f".{tag}" if tag else ""))


def create(run_id: str, workload: str, avoid: Sequence[str] = ()) -> Netns:
    """A new namespace for ``workload`` of run ``run_id``, with its veth pair, routes and rules, on a
    /30 holding none of the IPv4 addresses ``avoid`` names (the brokers': a /30 holding one would
    take its traffic).

    Raises:
        UsageError: this machine cannot (:func:`check_can`).
        InfrastructureError: a command failed (what was made is removed).
    """
    check_can()
    brokers = [ipaddress.IPv4Network(a) for a in avoid if ipaddress.ip_address(a).version == 4]
    net = free_subnet([*_used_networks(), *brokers])
    hosts = list(net.hosts())
    tag = secrets.token_hex(4)  # in the name too: two runs sharing a run id never share a namespace
    name = namespace_name(run_id, workload, tag)
    ns = Netns(name, run_id, f"kcw{tag}h", f"kcw{tag}n", str(hosts[0]), str(hosts[1]))
    run_here(["ip", "netns", "add", ns.name], "creating a workload's network namespace")
    try:
        veth = ["ip", "link", "add", ns.host_if, "type", "veth", "peer", "name", ns.ns_if, "netns", ns.name]
        run_here(veth, "a veth pair")
        run_here(["ip", "addr", "add", f"{ns.host_ip}/30", "dev", ns.host_if], "the veth's address")
        run_here(["ip", "link", "set", ns.host_if, "up"], "the veth")
        Path(f"/proc/sys/net/ipv4/conf/{ns.host_if}/route_localnet").write_text("1\n")
        for table, chain, rule in ns.host_rules():
            run_here(["iptables", "-w", "-t", table, "-I", chain, "1", *rule], "a rule for the namespace")
        inside = [
            f"ip addr add {ns.ns_ip}/30 dev {ns.ns_if}",
            f"ip link set {ns.ns_if} up",
            "ip link set lo up",
            f"ip route add default via {ns.host_ip}",
            "sysctl -qw net.ipv4.conf.all.route_localnet=1",
            f"iptables -w -t nat -A OUTPUT -d 127.0.0.0/8 -p tcp -j DNAT --to-destination {ns.host_ip}",
            f"iptables -w -t nat -A POSTROUTING -o {ns.ns_if} -m addrtype --src-type LOCAL -j SNAT "
            f"--to-source {ns.ns_ip}",
        ]
        ns.run(["sh", "-ec", " && ".join(inside)], "setting up a workload's network namespace")
    except (InfrastructureError, OSError) as e:
        remove(ns)
        if isinstance(e, OSError):
            raise InfrastructureError(f"setting up the namespace {ns.name} failed: {e}") from None
        raise
    return ns


def remove(ns: Netns) -> None:
    """Remove ``ns``: this machine's rules for it, then the namespace (and with it its veth pair).
    Never raises for what is already gone.

    Raises:
        InfrastructureError: the namespace is still there afterwards.
    """
    for table, chain, rule in ns.host_rules():
        with contextlib.suppress(InfrastructureError):
            run_here(["iptables", "-w", "-t", table, "-D", chain, *rule], "removing a namespace's rule")
    if ns.name in listed():
        run_here(["ip", "netns", "del", ns.name], f"removing the namespace {ns.name}")


def listed() -> list[str]:
    """The names of this machine's network namespaces."""
    out = run_here(["ip", "netns", "list"], "listing network namespaces")
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def sweep(run_id: str | None = None) -> list[str]:
    """Remove the namespaces of ``run_id`` (every run's when None) and this machine's rules for them;
    the names of what went. A namespace a process still runs in belongs to a run going on (its
    workloads die with their harness) and stays, with its run's rules. Without root, or without
    ``ip`` or ``iptables``, there are none to remove.

    Raises:
        InfrastructureError: a namespace or rule could not be removed.
    """
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("iptables") is None:
        return []
    prefix = namespace_name(run_id, "") if run_id is not None else PREFIX
    gone, live = [], set()
    for name in listed():
        if not name.startswith(prefix):
            continue
        if run_here(["ip", "netns", "pids", name], "listing a namespace's processes").strip():
            live.add(name[len(PREFIX) :].split(".", 1)[0])
            continue
        run_here(["ip", "netns", "del", name], f"removing the namespace {name}")
        gone.append(name)
    for table, chain in HOST_CHAINS:
        for line in run_here(["iptables", "-w", "-t", table, "-S", chain], "listing rules").splitlines():
            spec = shlex.split(line)
            labels = [w.split("=", 1)[1] for w in spec if w.startswith(f"{COMMENT}=")]
            if spec[:2] != ["-A", chain] or not labels or labels[0] in live or run_id not in (None, labels[0]):
                continue
            run_here(["iptables", "-w", "-t", table, "-D", chain, *spec[2:]], "removing a namespace's rule")
            gone.append(f"{table} {chain} rule {line[3:]}")
    return gone


class Namespaces:
    """The namespaces of one run's workloads: made one by one, removed together."""

    def __init__(self, run_id: str, avoid: Callable[[], Sequence[str]] = list) -> None:
        """``avoid`` gives the addresses no namespace's /30 may hold (the brokers', asked when one is made)."""
        self.run_id = run_id
        self.avoid = avoid
        self.made: list[Netns] = []

    def add(self, workload: str) -> Netns:
        """A namespace for ``workload``. Raises UsageError (this machine cannot), InfrastructureError."""
        ns = create(self.run_id, workload, self.avoid())
        self.made.append(ns)
        return ns

    def remove_all(self) -> list[str]:
        """Remove every namespace made (their workloads gone); the errors of those that stayed."""
        errors = []
        for ns in self.made:
            try:
                remove(ns)
            except InfrastructureError as e:
                errors.append(str(e))
        self.made = []
        return errors
