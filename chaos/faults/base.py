"""Faults: small named objects with ``inject`` and ``heal``, registered by the kind an experiment
file names, recorded in the run's timeline, and always healed.

Each fault checks that it took effect (the killed broker's process is gone, the partitioned broker
cannot reach its peer) and records inject and heal times in ``<run_dir>/timeline.jsonl``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from chaos import rundir
from chaos.cluster import KafkaCluster, Node
from chaos.errors import InfrastructureError, UsageError
from chaos.faults.targets import check_selector, resolve
from chaos.workloads.process import Workload


class FaultError(InfrastructureError):
    """A fault could not be injected or healed, or did not take effect."""


class UnsupportedFault(InfrastructureError):
    """This machine cannot apply the fault (e.g. no tc netem in the kernel)."""


class Timeline:
    """Appends one JSON line per fault event to ``timeline.jsonl`` (thread-safe)."""

    def __init__(self, run_dir: Path, on_record: Callable[[dict[str, Any]], None] | None = None) -> None:
        """``on_record`` also gets every entry as it is written (the runner's lifecycle events)."""
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / rundir.TIMELINE
        self._lock = threading.Lock()
        self._on_record = on_record

    def record(self, event: str, fault: Fault, **detail: Any) -> None:
        """One event (``inject``, ``heal``, ``inject_failed``, …) of ``fault``."""
        entry = {"t": time.time(), "event": event, "fault": fault.name, "kind": fault.kind, **detail}
        with self._lock, self.path.open("a") as f:
            f.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
        if self._on_record is not None:
            self._on_record(entry)

    def note(self, event: str, **detail: Any) -> None:
        """An event of the run that belongs to no fault (``isr``: the topic's under-replicated
        partitions changed); written, not announced to listeners."""
        entry = {"t": time.time(), "event": event, **detail}
        with self._lock, self.path.open("a") as f:
            f.write(json.dumps(entry, sort_keys=True, default=str) + "\n")

    def events(self) -> list[dict[str, Any]]:
        """Everything recorded so far."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


@dataclass
class FaultContext:
    """What faults act on: the cluster, the workload processes by name, a seeded RNG, the timeline."""

    cluster: KafkaCluster
    workloads: Mapping[str, Workload] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    timeline: Timeline | None = None
    #: The run's topic, for faults that act on a topic rather than a broker ("" outside a run).
    topic: str = ""
    #: Each broker's (host, port) as the run's clients dial it, asked when a fault needs it (None:
    #: unknown outside a run).
    client_addresses: Callable[[], Mapping[int, tuple[str, int]]] | None = None

    def __post_init__(self) -> None:
        if self.timeline is None:
            self.timeline = Timeline(self.cluster.run_dir)


class Fault(ABC):
    """One fault. Subclasses set ``kind`` and implement ``_inject``/``_heal``; ``heal`` is idempotent.

    Example::

        fault = make_fault("broker_kill", target="leader:orders:0")
        fault.inject(ctx)
        ...
        fault.heal(ctx)
    """

    kind: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Any]] = {}
    #: The selector used when a fault that takes ``target`` is given none.
    default_target: ClassVar[str] = "random"
    #: Whether it acts on the proxied client path (toxiproxy): clients that take the direct path
    #: (``client_path: direct``) never meet it, so experiment files on that path refuse it.
    acts_on_proxy: ClassVar[bool] = False

    def __init__(self, name: str | None = None, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            allowed = ", ".join(sorted(self.params)) or "none"
            raise UsageError(f"fault {self.kind} has no parameter {unknown[0]!r} (parameters: {allowed})")
        for key, value in params.items():
            if not isinstance(value, self.params[key]) or (isinstance(value, bool) and self.params[key] is not bool):
                raise UsageError(f"fault {self.kind}: {key}={value!r} has the wrong type")
        self.name = name or self.kind
        self.p = params
        self.active = False
        self.targets: list[str] = []
        self._hit: list[Node] = []  # the nodes it acted on, for healing exactly those
        if "target" in self.params:
            check_selector(self.target)
        self.validate()

    @property
    def target(self) -> str:
        """The target selector (see :mod:`chaos.faults.targets`)."""
        return str(self.p.get("target", self.default_target))

    def target_nodes(self, ctx: FaultContext) -> list[Node]:
        """The brokers the target selector names now; also recorded as :attr:`targets`."""
        nodes = resolve(self.target, ctx.cluster, ctx.rng)
        if not nodes:
            raise FaultError(f"{self.kind}: target {self.target!r} names no broker now")
        self.targets = [n.host for n in nodes]
        return nodes

    def validate(self) -> None:  # noqa: B027 - an optional hook
        """Check parameters beyond their types. Raises UsageError."""

    def inject(self, ctx: FaultContext) -> float:
        """Apply the fault and check it took effect; returns the time it took, in ms.

        Raises:
            FaultError: it could not be applied or did not take effect (what was applied is healed).
            UnsupportedFault: this machine cannot apply it.
        """
        assert ctx.timeline is not None
        t0 = time.perf_counter()
        try:
            self._inject(ctx)
            self.active = True
        except BaseException as e:
            ctx.timeline.record("inject_failed", self, error=str(e))
            self.active = True
            try:
                self.heal(ctx)
            finally:
                self.active = False
            raise
        applied = (time.perf_counter() - t0) * 1000
        ctx.timeline.record("inject", self, targets=self.targets, params=self.p, latency_ms=round(applied, 1))
        verify0 = time.perf_counter()
        self._verify(ctx)
        ctx.timeline.record("verified", self, latency_ms=round((time.perf_counter() - verify0) * 1000, 1))
        return applied

    def heal(self, ctx: FaultContext) -> float:
        """Undo the fault (a no-op when it is not active); returns the time it took, in ms."""
        assert ctx.timeline is not None
        if not self.active:
            return 0.0
        t0 = time.perf_counter()
        self._heal(ctx)
        self.active = False
        took = (time.perf_counter() - t0) * 1000
        ctx.timeline.record("heal", self, targets=self.targets, latency_ms=round(took, 1))
        return took

    @abstractmethod
    def _inject(self, ctx: FaultContext) -> None: ...

    @abstractmethod
    def _heal(self, ctx: FaultContext) -> None: ...

    def _verify(self, ctx: FaultContext) -> None:  # noqa: B027 - an optional hook
        """Check the fault took effect; raise FaultError if not. Default: nothing to check."""

    def describe(self) -> dict[str, Any]:
        """Name, kind and parameters, for reports."""
        return {"name": self.name, "kind": self.kind, **self.p}


def workload_named(workloads: Mapping[str, Workload], wanted: str, kind: str) -> str:
    """The one workload ``wanted`` names (``producer-p0`` or the bare id ``p0``).

    Raises:
        UsageError: it names none or several; the message names fault ``kind`` and the workloads.
    """
    names = [n for n in workloads if n == wanted or n.split("-", 1)[-1] == wanted]
    if len(names) != 1:
        raise UsageError(f"{kind} workload {wanted!r} matches {len(names)} workloads: {sorted(workloads)}")
    return names[0]


REGISTRY: dict[str, type[Fault]] = {}


def register(cls: type[Fault]) -> type[Fault]:
    """Class decorator: make ``cls`` available under its ``kind``."""
    REGISTRY[cls.kind] = cls
    return cls


def load_kinds() -> dict[str, type[Fault]]:
    """Import every module of ``chaos.faults`` so each registers its kinds; returns the registry.

    A new fault kind is one module here with a ``@register``-ed class: nothing else names it.
    """
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        importlib.import_module(f"chaos.faults.{info.name}")
    return REGISTRY


def proxy_kinds() -> list[str]:
    """The fault kinds that act on the proxied client path, in name order.

    >>> proxy_kinds()
    ['proxy_down', 'toxic']
    """
    return sorted(kind for kind, cls in load_kinds().items() if cls.acts_on_proxy)


def make_fault(kind: str, name: str | None = None, **params: Any) -> Fault:
    """The fault of ``kind`` with ``params``.

    Raises:
        UsageError: unknown kind (naming the known ones) or bad parameters.
    """
    load_kinds()
    if kind not in REGISTRY:
        raise UsageError(f"unknown fault kind {kind!r}: use one of {', '.join(sorted(REGISTRY))}")
    return REGISTRY[kind](name=name, **params)
