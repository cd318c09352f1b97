"""Network faults between clients and brokers, through toxiproxy (one proxy per broker).

``toxic`` adds one toxic to the target brokers' proxies: ``latency`` (latency, jitter ms),
``bandwidth`` (rate KB/s), ``timeout`` (timeout ms; 0 = a blackhole that holds data forever),
``reset_peer`` (timeout ms, then TCP RST), ``slow_close`` (delay ms), ``limit_data`` (bytes).
``proxy_down`` disables the proxies (connections refused and cut). Healing removes exactly what
was added.

Both act on the proxied client path only: clients of a run with ``client_path: direct`` reach the
brokers' own listeners and never meet them, so experiment files on that path refuse them
(``acts_on_proxy``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, ClassVar

from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, register

TOXIC_TYPES: dict[str, dict[str, int]] = {
    "latency": {"latency": 200, "jitter": 0},
    "bandwidth": {"rate": 100},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slow_close": {"delay": 1000},
    "limit_data": {"bytes": 1024},
}


@register
class Toxic(Fault):
    """One toxiproxy toxic on the target brokers' client proxies (``stream``: downstream, upstream, both)."""

    kind = "toxic"
    params: ClassVar[Mapping[str, Any]] = {
        "target": str,
        "type": str,
        "stream": str,
        "toxicity": (int, float),
        "attributes": dict,
    }

    default_target = "all"
    acts_on_proxy = True

    def validate(self) -> None:
        kind = str(self.p.get("type", ""))
        if kind not in TOXIC_TYPES:
            raise UsageError(f"toxic type {kind!r} is not one of {', '.join(TOXIC_TYPES)}")
        if str(self.p.get("stream", "downstream")) not in ("downstream", "upstream", "both"):
            raise UsageError("toxic stream must be downstream, upstream or both")
        unknown = set(self.p.get("attributes", {})) - set(TOXIC_TYPES[kind])
        if unknown:
            raise UsageError(f"toxic {kind} has no attribute {sorted(unknown)[0]!r} ({', '.join(TOXIC_TYPES[kind])})")
        self.toxic_name = f"kc-{secrets.token_hex(4)}"

    def _inject(self, ctx: FaultContext) -> None:
        self.target_nodes(ctx)
        kind = str(self.p["type"])
        attributes = {**TOXIC_TYPES[kind], **self.p.get("attributes", {})}
        stream = str(self.p.get("stream", "downstream"))
        streams = ["downstream", "upstream"] if stream == "both" else [stream]
        api = ctx.cluster.toxiproxy
        self._added: list[tuple[str, str]] = []
        for host in self.targets:
            for s in streams:
                name = f"{self.toxic_name}-{s}"
                api.add_toxic(
                    host, kind, name=name, stream=s, toxicity=float(self.p.get("toxicity", 1.0)), attributes=attributes
                )
                self._added.append((host, name))

    def _verify(self, ctx: FaultContext) -> None:
        proxies = ctx.cluster.toxiproxy.proxies()
        for host, name in self._added:
            if not any(t.get("name") == name for t in proxies[host].toxics):
                raise FaultError(f"toxic {name} is not on proxy {host}")

    def _heal(self, ctx: FaultContext) -> None:
        api = ctx.cluster.toxiproxy
        present = {h: {t.get("name") for t in p.toxics} for h, p in api.proxies().items()}
        for host, name in getattr(self, "_added", []):
            if name in present.get(host, set()):
                api.remove_toxic(host, name)


@register
class ProxyDown(Fault):
    """Disable the target brokers' client proxies: clients are cut off and refused."""

    kind = "proxy_down"
    params: ClassVar[Mapping[str, Any]] = {"target": str}

    default_target = "all"
    acts_on_proxy = True

    def _inject(self, ctx: FaultContext) -> None:
        self.target_nodes(ctx)
        for host in self.targets:
            ctx.cluster.toxiproxy.set_enabled(host, False)

    def _verify(self, ctx: FaultContext) -> None:
        proxies = ctx.cluster.toxiproxy.proxies()
        if any(proxies[h].enabled for h in self.targets):
            raise FaultError("a proxy is still enabled")

    def _heal(self, ctx: FaultContext) -> None:
        for host in self.targets:
            ctx.cluster.toxiproxy.set_enabled(host, True)
