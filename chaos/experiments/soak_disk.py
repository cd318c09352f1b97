"""How much disk a soak needs, said before it starts, and a soak refused when the disk cannot hold it
(docs/soak.md).

The need is the records the soak will send (its producer's ``rate`` times its length, or, without a
rate, :data:`ASSUMED_RATE`, the most a client drove on a 2-core machine) times what each record
costs: on this machine's disk its ledger rows (:data:`LEDGER_BYTES`, intents and acks, each
consumer group's processed rows, the drain's copy, and the tail reader's copy at its largest: the
windows waiting to be judged), in the engine's data root its log segments on every replica (payload
and envelope plus Kafka's record and batch overhead).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chaos.engine import engine_data_root
from chaos.errors import UsageError
from chaos.experiments.model import Experiment, ExternalClientModel
from chaos.experiments.soak_release import released_span, releases, tail_span
from chaos.workloads.ledger import LOG_RECORD, PROCESSED, PRODUCER_EVENT

#: Records a second assumed for a producer without ``rate`` (the Java workload's 88k on 2 cores, rounded up).
ASSUMED_RATE = 100_000.0
#: Ledger bytes per record: at most three producer rows (a sync send's intent, ack and return; the
#: streaming modes write fewer), and the drain's row.
LEDGER_BYTES = 3 * PRODUCER_EVENT.itemsize + LOG_RECORD.itemsize
#: A line-protocol driver's lines per record, as ``producer-<id>.lines`` keeps them (intent, returned, ack).
LINE_BYTES = 150
#: Kafka's bytes per record beyond the value: envelope header, record and batch overhead, index.
RECORD_OVERHEAD = 120
#: The share of the free space a soak may plan to fill.
HEADROOM = 0.9
#: Warmup, settle, stop and drain: the soak's records beyond its duration, as a share of it.
BEYOND = 0.1


@dataclass(frozen=True, slots=True)
class DiskNeed:
    """What a soak will write: ``records``, at ``rate`` a second (``assumed``: no rate was set),
    ``ledger_bytes`` on this machine, ``broker_bytes`` in the engine's data root (None: a team's
    cluster, whose disks are its own)."""

    records: int
    rate: float
    assumed: bool
    ledger_bytes: int
    broker_bytes: int | None
    #: Judged windows' ledger rows are released: ``ledger_bytes`` is what is held at once.
    released: bool = False
    #: The topic's retention deletes judged records: ``broker_bytes`` is what is held at once.
    retained: bool = False

    def sentence(self) -> str:
        """The need in a sentence."""
        rate = f"{self.rate:,.0f} records/s" + (
            " (no producer.rate: assumed the most a client drives)" if self.assumed else ""
        )
        at_most = " at most at once (the topic's retention)" if self.retained else ""
        brokers = "" if self.broker_bytes is None else f" and {_gib(self.broker_bytes)} of broker logs{at_most}"
        ledgers = f"{_gib(self.ledger_bytes)} of ledgers" + (
            " at most at once (judged rows released)" if self.released else ""
        )
        return f"{self.records:,} records at {rate}: {ledgers}{brokers}"


def _gib(n: int | float) -> str:
    """``n`` bytes in GiB, or MiB below one GiB."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def disk_need(exp: Experiment) -> DiskNeed:
    """What ``exp``, a soak, will write (see the module docstring).

    Raises:
        ValueError: ``exp`` is no soak.
    """
    if exp.soak is None:
        raise ValueError(f"{exp.name} is no soak")
    rate = exp.producer.rate or ASSUMED_RATE
    records = int(rate * exp.soak.duration * (1 + BEYOND))
    groups = (1 if exp.consumer is not None else 0) + (1 if exp.application is not None else 0)
    outputs = (exp.consumer is not None and exp.consumer.output_topic is not None) or exp.application is not None
    per_row = LEDGER_BYTES + groups * PROCESSED.itemsize
    per_row += LOG_RECORD.itemsize * ((exp.producer.mode == "transactional") + outputs)  # committed.bin, output.bin
    external = exp.cluster.external is not None
    per_record = (exp.producer.payload_size + RECORD_OVERHEAD) * exp.topic.replication_factor * (1 + outputs)
    tail = min(records, int(rate * tail_span(exp))) * LOG_RECORD.itemsize
    # released: the rows of the windows not yet judged, and a period more (the window being judged)
    kept = records
    if releases(exp):  # the windows' verdict: no drain either
        kept, per_row = min(records, int(rate * (tail_span(exp) + exp.soak.every))), per_row - LOG_RECORD.itemsize
    client = exp.producer.client
    if isinstance(client, ExternalClientModel) and client.protocol == "lines":  # its .lines are kept whole
        tail += records * LINE_BYTES
    span = released_span(exp)  # the topic's retention: the brokers hold this many seconds of records
    logged = records if span is None else min(records, int(rate * span))
    return DiskNeed(
        records,
        rate,
        exp.producer.rate is None,
        kept * per_row + tail,
        None if external else logged * per_record,
        kept < records,
        logged < records,
    )


def _free(path: Path) -> tuple[int, int]:
    """Free bytes of the filesystem holding ``path`` (or its nearest existing parent), and its device."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free, os.stat(path).st_dev


def check_disk(soaks: list[Experiment], reports_dir: Path, data_root: Callable[[], Path | None]) -> DiskNeed:
    """The need of every run of ``soaks`` (a suite's, one entry per run; :func:`disk_need`), summed,
    once the disks can hold it all with headroom. ``data_root()`` is where the engine keeps its
    containers' files (None: not on this machine).

    Raises:
        UsageError: naming the need, the free space and the directory short of it.
    """
    needs = [disk_need(exp) for exp in soaks]
    root = data_root() if any(n.broker_bytes is not None for n in needs) else None
    need = DiskNeed(
        records=sum(n.records for n in needs),
        rate=max(n.rate for n in needs),
        assumed=any(n.assumed for n in needs),
        ledger_bytes=sum(n.ledger_bytes for n in needs),
        broker_bytes=None if root is None else sum(n.broker_bytes or 0 for n in needs),
        released=all(n.released for n in needs),
        retained=all(n.retained for n in needs),
    )
    wants: dict[int, tuple[int, int, Path]] = {}
    places = [(Path(reports_dir).resolve(), need.ledger_bytes)]
    if root is not None and need.broker_bytes is not None:
        places.append((root, need.broker_bytes))
    for place, wanted in places:
        free, device = _free(place)
        held = wants.get(device, (free, 0, place))
        wants[device] = (free, held[1] + wanted, held[2])
    runs = f"{soaks[0].name}" if len(soaks) == 1 else f"{len(soaks)} soaks"
    for free, wanted, place in wants.values():
        if wanted > free * HEADROOM:
            raise UsageError(
                f"{runs} need{'s' if len(soaks) == 1 else ''} {_gib(wanted)} on the disk of {place} "
                f"({need.sentence()}) and {_gib(free)} is free: shorten soak.duration, lower producer.rate "
                "or free some space"
            )
    return need


def soak_need(soaks: list[Experiment], reports_dir: Path, local: bool) -> str:
    """:func:`check_disk` for ``soaks`` on this machine's engine (``local``; else a team's cluster,
    whose disks are its own), and the need in a line for the person watching.

    Raises:
        UsageError: the disks cannot hold the soaks.
    """
    need = check_disk(soaks, reports_dir, engine_data_root if local else lambda: None)
    runs = f"{soaks[0].name}: a soak of" if len(soaks) == 1 else f"{len(soaks)} soaks of"
    return f"{runs} {need.sentence()}"
