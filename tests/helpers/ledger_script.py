"""The ledger golden test's script (``tests/unit/test_ledger_golden.py``): the ledger events both the
Java driver's writers (``tests/unit/golden/LedgerScript.java``) and the Python writers are given, on
fixed clocks, and the script's run through the Python writers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaos.rundir import LEDGERS
from chaos.workloads.clocks import Clocks
from chaos.workloads.envelope import producer_tag
from chaos.workloads.ledger import ConsumerLedger, Kind, ProducerLedger
from chaos.workloads.spec import load_spec
from chaos.workloads.totals import next_seq

BASE = 1_700_000_000_000_000_000  # the fixed wall clock's start, in ns
MS = 1_000_000
BIG = 1 << 40  # a sequence number past 32 bits
TAG = producer_tag("p0")  # above 2^31: a u4 that a signed int must carry unchanged
PRODUCER_META = {
    "mode": "transactional",
    "settings": {"acks": "all", "client.id": 'naïve "quoted" \\ and\ttab'},
    "substituted": ["client.id"],
    "emulated": [],
    "transaction_size": 100,
    "enabled": True,
    "nothing": None,
    "negative": -7,
}
CONSUMER_META = {"group": "g", "strategy": "after_process", "output_topic": None, "batch_size": 200}


def script() -> list[list[str]]:
    """The events both writers are given: every kind, -1 offsets, torn tails, restarts, clock edges."""
    p, c = json.dumps(PRODUCER_META), json.dumps(CONSUMER_META)
    lines: list[list[Any]] = [
        ["wall", BASE],
        ["mono", 1000 * MS],
        ["producer", "p0", json.dumps({"mode": "transactional"})],
        ["wall", BASE + 1 * MS + 999_999],  # t_ms floors: 1
        ["intent", 0, 256],
        ["begin", 0],
        ["upto", 100],
        ["wall", BASE + 2 * MS],
        ["returned", 0, 256],
        # grouped acks: ack_batch 3, ack_flush_ms 5 (the spec's, not the defaults)
        ["ack", 0, 0, 10],
        ["ack", 1, 1, -1],  # acks=0: no offset
        ["size", "producer-p0.acks"],
        ["ack", 2, 2, 20],  # the third fills the group
        ["size", "producer-p0.acks"],
        ["mono", 1001 * MS],
        ["ack", 3, 0, 11],
        ["mono", 1006 * MS],  # 5 ms: not yet older than ack_flush_ms
        ["ack", 4, 0, 12],
        ["size", "producer-p0.acks"],
        ["mono", 1007 * MS],
        ["ack", 5, 0, 13],  # the oldest waited 6 ms: the group goes out with it
        ["size", "producer-p0.acks"],
        ["ack", 6, 1, 21],
        ["tick"],  # the timer: nothing stale yet
        ["size", "producer-p0.acks"],
        ["mono", 1014 * MS],
        ["tick"],  # the timer writes a lone ack once it is stale
        ["size", "producer-p0.acks"],
        ["ack_in_thread", 7, 0, 14],
        ["ack", 8, 0, 15],
        ["error", 9, 1, 1, "TimeoutException", "Topic t not present\\nin metadata after 300 ms."],
        ["error", 10, 0, 1, "TimeoutException", "again: the class is already in .errors"],
        ["error", 11, 1, 0, "NotEnoughReplicasException"],  # no message
        ["error", 12, 0, 0, "RecordTooLargeException", "délai dépassé ✓"],
        ["note_error", "TimeoutException", "a commit failed"],
        ["wall", BASE - 5 * MS],  # a wall clock that stepped back: t_ms 0
        ["intent", 256, 300],
        ["wall", BASE + ((1 << 32) + 5) * MS],  # past 2^32 ms: saturates
        ["committing", 256, 300],
        ["committed", 256, 300],
        ["wall", BASE + 3 * MS],
        ["aborted", 300, 310],
        ["intent", BIG, BIG + 2],
        ["begin", 300],
        ["upto", 305],
        ["close_producer"],
        ["tear", "producer-p0.events", 5],  # killed mid-write
        ["tear", "producer-p0.acks", 36],
        ["wall", BASE + 10 * MS],
        ["producer", "p0", p],  # its meta is rewritten whole, with the first start_ns
        ["next_seq", "p0"],
        ["ack", 13, 0, 16],
        ["flush_acks"],
        ["close_producer"],
        ["size", "producer-p0.events"],
        ["wall", BASE + 20 * MS],
        ["consumer", "c0", c],
        ["processed", f"0,5,{TAG},5,0;1,6,{TAG},6,0;2,7,0,-1,2;0,8,{TAG},{BIG},1", ""],
        ["mono", 2000 * MS],
        ["polled", 3],  # the first poll is written at once
        ["text", "consumer-c0.polled"],
        ["mono", 2050 * MS],
        ["polled", 4],  # within polled_every_ms: counted, not written
        ["text", "consumer-c0.polled"],
        ["mono", 2100 * MS],
        ["polled", 1],
        ["text", "consumer-c0.polled"],
        ["wall", BASE + 21 * MS],
        ["processed", f"0,9,{TAG},9,0;1,10,{TAG},10,0;0,11,{TAG},11,0", "0,2"],
        ["close_consumer"],
        ["consumer", "c0", c],  # restarted: a new epoch, the poll count goes on
        ["processed", f"3,0,{TAG},12,0", ""],
        ["polled", 2],
        ["close_consumer"],
        ["text", "consumer-c0.polled"],
    ]
    return [[str(field) for field in line] for line in lines]


class _Named(Exception):
    """An error whose class name the script gives (the ledger writes a class's name)."""


def named(name: str, message: str | None) -> BaseException:
    cls: type[_Named] = type(name, (_Named,), {})
    return cls() if message is None else cls(message)


def run_python(spec_path: Path, lines: list[list[str]], run_dir: Path) -> list[str]:
    """The script through the Python writers; returns what it prints, as LedgerScript.java does."""
    spec = load_spec(spec_path)
    now = {"wall": 0, "mono": 0}
    clocks = Clocks(wall_ns=lambda: now["wall"], monotonic_ns=lambda: now["mono"])
    out: list[str] = []
    producer: ProducerLedger | None = None
    consumer: ConsumerLedger | None = None
    for f in lines:
        cmd, args = f[0], f[1:]
        if cmd in now:
            now[cmd] = int(args[0])
        elif cmd == "producer":
            producer = ProducerLedger(run_dir, args[0], json.loads(args[1]), spec.protocol, clocks)
        elif cmd == "consumer":
            consumer = ConsumerLedger(run_dir, args[0], json.loads(args[1]), spec.protocol, clocks)
        elif cmd in ("size", "text", "next_seq", "tear"):
            out += _look(cmd, args, run_dir)
        elif cmd in ("processed", "polled", "close_consumer"):
            assert consumer is not None
            _consume(consumer, cmd, args)
        else:
            assert producer is not None
            _produce(producer, cmd, args)
    return out


def _look(cmd: str, args: list[str], run_dir: Path) -> list[str]:
    path = run_dir / LEDGERS / args[0]
    if cmd == "tear":
        with path.open("ab") as f:
            f.write(bytes(int(args[1])))
        return []
    if cmd == "size":
        return [f"size {args[0]} {path.stat().st_size}"]
    if cmd == "text":
        return [f"text {args[0]} {path.read_text()}"]
    return [f"next_seq {args[0]} {next_seq(run_dir, args[0])}"]


def _consume(ledger: ConsumerLedger, cmd: str, args: list[str]) -> None:
    if cmd == "processed":
        rows = [tuple(int(v) for v in row.split(",")) for row in args[0].split(";")]
        marks = [int(i) for i in args[1].split(",")] if args[1] else []
        ledger.processed_many(rows, marks)  # type: ignore[arg-type]
    elif cmd == "polled":
        ledger.polled(int(args[0]))
    else:
        ledger.close()


def _produce(ledger: ProducerLedger, cmd: str, args: list[str]) -> None:
    n = [int(a) for a in args if a.lstrip("-").isdigit()]
    actions: dict[str, Callable[[], object]] = {
        "intent": lambda: ledger.intent(n[0], n[1]),
        "returned": lambda: ledger.returned(n[0], n[1]),
        "begin": lambda: ledger.returned_mark.begin(n[0]),
        "upto": lambda: ledger.returned_mark.upto(n[0]),
        "ack": lambda: ledger.ack(n[0], n[1], n[2]),
        "ack_in_thread": lambda: ledger.ack_in_thread(n[0], n[1], n[2]),
        "committing": lambda: ledger.transaction(Kind.COMMITTING, n[0], n[1]),
        "committed": lambda: ledger.transaction(Kind.COMMITTED, n[0], n[1]),
        "aborted": lambda: ledger.transaction(Kind.ABORTED, n[0], n[1]),
        "flush_acks": ledger.flush_acks,
        "tick": lambda: ledger.flush_acks(only_if_stale=True),
        "close_producer": ledger.close,
        "note_error": lambda: ledger.note_error(named(args[0], args[1] if len(args) > 1 else None)),
    }
    if cmd == "error":
        message = args[4].replace("\\n", "\n") if len(args) > 4 else None
        ledger.error(int(args[0]), named(args[3], message), seen=args[1] == "1", from_callback=args[2] == "1")
    else:
        actions[cmd]()
