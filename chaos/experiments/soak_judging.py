"""A soak's judging in windows put together for one run (docs/soak.md, "Judged in windows"): the
tail reader, the judge, and when a run's windows cannot be judged on their own."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

from chaos import rundir
from chaos.experiments.soak_judge import SoakJudge
from chaos.oracle.window import Bound, judge_window
from chaos.workloads.releasing import begin, release
from chaos.workloads.security import Brokers
from chaos.workloads.spec import ConsumerSpec, ProducerSpec
from chaos.workloads.tail import TailReader

#: Kafka's default ``replica.lag.time.max.ms``, in s: how long a follower that stopped fetching
#: holds the high watermark back before it leaves the in-sync replicas.
REPLICA_LAG_S = 30.0
#: The clients' default delivery timeouts, in s (librdkafka's ``message.timeout.ms`` is 300 s, and a
#: client added from outside is given as long).
DELIVERY_TIMEOUT_S = {"kafka-python": 120.0, "java": 120.0}
OTHER_DELIVERY_TIMEOUT_S = 300.0
#: The Java client's default ``request.timeout.ms``.
REQUEST_TIMEOUT_MS = 30_000
#: Why a soak whose producer never gives up on a record is not judged in windows.
NEVER_SETTLES = "a producer never gives up on a record (message.timeout.ms 0): its windows never settle"
#: Modes whose records are decided after their window: a transaction's commit, an outbox's resend.
DECIDED_LATER = frozenset({"transactional", "outbox"})


def unjudgeable(workloads: Sequence[ProducerSpec | ConsumerSpec], application: bool, compacted: bool) -> str | None:
    """Why a run's windows cannot be judged on their own, or None when they can."""
    modes = sorted({w.mode for w in workloads if isinstance(w, ProducerSpec) and w.mode in DECIDED_LATER})
    if modes:
        return f"{' and '.join(modes)} producers decide a record after its window (a commit, a resend)"
    if application:
        return "an application's records are judged by its outputs, which only the whole run has"
    if compacted:
        return "a compacted topic's cleaner removes records any time after their window"
    return None


def _ms(settings: Mapping[str, object], key: str) -> int | None:
    try:
        return int(str(settings[key]))
    except (KeyError, ValueError):
        return None


def delivery_s(w: ProducerSpec) -> float | None:
    """How long ``w``'s client may take to decide a record, in s (None: it never gives up).

    The Java client (and kafka-python after it) raises a delivery timeout below ``linger.ms`` +
    ``request.timeout.ms`` to that sum; librdkafka's ``message.timeout.ms`` of 0 is no timeout."""
    given = w.settings
    timeout = _ms(given, "delivery.timeout.ms")
    timeout = timeout if timeout is not None else _ms(given, "message.timeout.ms")
    if w.client in DELIVERY_TIMEOUT_S:
        floor = (_ms(given, "linger.ms") or 0) + (_ms(given, "request.timeout.ms") or REQUEST_TIMEOUT_MS)
        chosen = timeout if timeout is not None else DELIVERY_TIMEOUT_S[w.client] * 1000
        return max(chosen, floor) / 1000
    if timeout == 0:
        return None
    return timeout / 1000 if timeout is not None else OTHER_DELIVERY_TIMEOUT_S


def settle_s(workloads: Sequence[ProducerSpec | ConsumerSpec], every: float) -> float | None:
    """How long after a window's end (and the return of its last send) its records' fate is
    settled: the producers' longest delivery timeout (:func:`delivery_s`), a period (the fault
    acting then has healed), the replicas' lag time, and 5 s. None: a producer never gives up."""
    timeouts = [delivery_s(w) for w in workloads if isinstance(w, ProducerSpec)]
    if any(t is None for t in timeouts):
        return None
    return max([t for t in timeouts if t is not None] or [0.0]) + every + REPLICA_LAG_S + 5.0


def release_rows(ledgers: Path, bounds: Mapping[str, Bound]) -> None:
    """Release the rows of a judged window's producers' ledgers below where the next window's
    begin (:func:`chaos.workloads.releasing.release`; none past the last window).

    Raises:
        OSError, ValueError: as :func:`chaos.workloads.releasing.release`.
    """
    stops: dict[str, int] = {}
    for pid, b in bounds.items():
        for suffix, stop in ((".events", b.events_stop), (".acks", b.acks_stop)):
            if stop is not None:
                stops[f"producer-{pid}{suffix}"] = stop
    release(ledgers, stops)


class SoakJudging:
    """The tail reader and the judge of one soak; :meth:`close` leaves nothing of the tail behind.
    ``release``: once a window is judged, its ledger rows are released (docs/soak.md, "Judged rows released")."""

    def __init__(
        self,
        brokers: Brokers | str,
        topic: str,
        run_id: str,
        run_dir: Path,
        settle: float | None,
        why_not: str | None,
        release: bool = False,
    ) -> None:
        self.out = run_dir / rundir.SOAK / rundir.SOAK_JUDGED
        self.why_not = why_not or (NEVER_SETTLES if settle is None else None)
        self.tail = TailReader(brokers, topic, run_id, run_dir / rundir.DRAIN / rundir.TAIL)
        ledgers = run_dir / rundir.LEDGERS
        if release:
            begin(ledgers)
        self.judge = SoakJudge(
            ledgers,
            self.tail,
            partial(judge_window, run_dir),
            settle or 0.0,
            self.out,
            release=partial(release_rows, ledgers) if release else None,
        )

    def start(self) -> None:
        """Start following the topic and judging (or say, once, why the windows are not judged)."""
        if self.why_not is not None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.out.write_text(json.dumps({"window": None, "unjudged": self.why_not}) + "\n")
            return
        self.tail.start()
        self.judge.start()

    def mark(self, window: int, end: float) -> None:
        """The watch closed ``window`` at ``end``."""
        if self.why_not is None:
            self.judge.mark(window, end)

    def finish(self, timeout: float) -> None:
        """The workloads have stopped: judge every window left."""
        if self.why_not is None:
            self.judge.finish(timeout)

    def close(self) -> None:
        """Stop the reader and remove its segments."""
        if self.why_not is None:
            self.tail.stop()
        shutil.rmtree(self.tail.directory, ignore_errors=True)
