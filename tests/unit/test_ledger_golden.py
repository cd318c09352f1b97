"""The Java driver's ledger writers hold the same bytes as the Python writers, without a cluster.

The Java driver is a second implementation of the ledger protocol (``docs/ledgers.md``); before this
test only the Docker tier noticed when its record sizes, field order or rules drifted from
``chaos.workloads.ledger``. Here its JDK-only part (``JDK_ONLY_SOURCES``: the spec reader and the
ledger writers) is compiled alone with ``javac``, a script of ledger events runs through it
(``golden/LedgerScript.java``) and through the Python writers on the same fixed clocks, and the two
run directories must be equal byte for byte, and read back through the numpy dtypes as the script
says. The Java side also prints the protocol tunables it read from a spec that
``chaos.workloads.spec.save_spec`` wrote: it must read them, not know them.

A machine without a JDK fails this test (the Java client is part of the harness); it does not skip.
"""

from __future__ import annotations

import json
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from chaos.images.java_driver import JDK_ONLY_SOURCES, driver_source
from chaos.rundir import LEDGERS
from chaos.workloads.clients import resolve_settings
from chaos.workloads.clocks import Clocks
from chaos.workloads.envelope import producer_tag
from chaos.workloads.ledger import EPOCH, PROCESSED, PRODUCER_EVENT, ConsumerLedger, Kind, ProducerLedger, read_records
from chaos.workloads.protocol import DriverProtocol
from chaos.workloads.spec import ProducerSpec, load_spec, save_spec
from chaos.workloads.totals import next_seq

SCRIPT_CLASS = Path(__file__).parent / "golden" / "LedgerScript.java"
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


def compile_ledger(tmp_path: Path, jdk: tuple[str, str]) -> tuple[str, Path]:
    """``java`` and the classes of the JDK-only sources and LedgerScript, compiled with ``jdk``'s
    ``javac`` and nothing on the class path: a Kafka import in them fails here.

    Raises:
        AssertionError: the sources did not compile alone.
    """
    java, javac = jdk
    src, classes, nothing = tmp_path / "src", tmp_path / "classes", tmp_path / "nothing"
    src.mkdir()
    nothing.mkdir()  # the class path: not even the working directory
    for name in JDK_ONLY_SOURCES:
        (src / f"{name}.java").write_bytes(driver_source(name))
    (src / SCRIPT_CLASS.name).write_bytes(SCRIPT_CLASS.read_bytes())
    proc = subprocess.run(
        [javac, "-encoding", "UTF-8", "-d", str(classes), "-cp", str(nothing), *sorted(map(str, src.glob("*.java")))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"the JDK-only ledger sources did not compile alone:\n{proc.stdout}{proc.stderr}"
    return java, classes


def golden_spec(tmp_path: Path) -> Path:
    """A spec with tunables none of them defaults, so a driver that knows them instead of reading them fails."""
    protocol = DriverProtocol(
        intent_batch=7,
        pace_ms=3,
        ack_batch=3,
        ack_flush_ms=5,
        ack_timer_ms=3_600_000,  # the script ticks the timer itself ("tick"); the thread never does
        polled_every_ms=100,
        transactional_id="tx-{run_id}.{id}",
    )
    assert protocol != DriverProtocol()
    spec = ProducerSpec(
        id="p0",
        topic="t",
        bootstrap_servers="127.0.0.1:1",
        run_id="r1",
        run_dir=str(tmp_path),
        mode="transactional",
        client="java",
        settings={
            "acks": "all",
            "linger.ms": "5",
            "bootstrap.servers": "elsewhere:9092",
            "ssl.keystore.location": "/k",
        },
        protocol=protocol,
    )
    path = tmp_path / "workloads" / "producer-p0.json"
    save_spec(spec, path)
    return path


def test_the_java_ledger_writers_write_the_python_writers_bytes(tmp_path: Path, jdk: tuple[str, str]) -> None:
    java, classes = compile_ledger(tmp_path, jdk)
    spec_path = golden_spec(tmp_path)
    lines = script()
    script_path = tmp_path / "script.tsv"
    script_path.write_text("".join("\t".join(line) + "\n" for line in lines), encoding="utf-8")
    java_dir, python_dir = tmp_path / "java", tmp_path / "python"
    proc = subprocess.run(
        [
            java,
            "-cp",
            str(classes),
            "LedgerScript",
            str(spec_path),
            str(script_path),
            str(java_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = proc.stdout.splitlines()

    # The tunables, the owned settings and the transactional id come from the spec Python wrote.
    spec = load_spec(spec_path)
    assert isinstance(spec, ProducerSpec)
    p = spec.protocol
    resolved = resolve_settings("java", "producer", spec.settings)
    settings = ", ".join(f"{k}={v}" for k, v in sorted(resolved.kwargs.items()))
    assert printed[:4] == [
        f"protocol intent_batch={p.intent_batch} pace_ms={p.pace_ms} ack_batch={p.ack_batch} "
        f"ack_flush_ms={p.ack_flush_ms} ack_timer_ms={p.ack_timer_ms} polled_every_ms={p.polled_every_ms}",
        f"transactional.id {spec.transactional_id}",
        f"settings {{{settings}}}",
        f"substituted [{', '.join(resolved.substituted)}]",
    ]
    assert spec.transactional_id == "tx-r1.p0"

    # The same script through the Python writers: the same checkpoints and the same files, byte for byte.
    assert printed[4:] == run_python(spec_path, lines, python_dir)
    java_files = sorted(f.name for f in (java_dir / LEDGERS).iterdir())
    assert java_files == sorted(f.name for f in (python_dir / LEDGERS).iterdir())
    for name in java_files:
        ours, theirs = (python_dir / LEDGERS / name).read_bytes(), (java_dir / LEDGERS / name).read_bytes()
        assert theirs == ours, first_difference(name, theirs, ours)

    check_read_back(java_dir / LEDGERS, printed[4:])


#: Record sizes by file suffix, to say which record and field a difference is in.
SIZES = {".events": PRODUCER_EVENT, ".acks": PRODUCER_EVENT, ".processed": PROCESSED}


def first_difference(name: str, java: bytes, python: bytes) -> str:
    """Where the Java writer's ``name`` first differs from the Python writer's, in records and fields."""
    at = next((i for i, (a, b) in enumerate(zip(java, python, strict=False)) if a != b), min(len(java), len(python)))
    where = f"byte {at} (java {len(java)} B, python {len(python)} B)"
    dtype = SIZES.get(Path(name).suffix)
    if dtype is not None and dtype.fields is not None:
        offset = at % dtype.itemsize
        starts = sorted(((int(spec[1]), f) for f, spec in dtype.fields.items()), reverse=True)
        field = next(f for start, f in starts if start <= offset)
        where += f", record {at // dtype.itemsize} field {field}"
    return f"{name} differs at {where}: java {java[at : at + 12].hex()} python {python[at : at + 12].hex()}"


def code(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def check_read_back(ledgers: Path, printed: list[str]) -> None:
    """What the Java writer's files say through the numpy dtypes: what the script wrote."""
    assert (PRODUCER_EVENT.itemsize, PROCESSED.itemsize, EPOCH.itemsize) == (37, 29, 8)
    assert "size producer-p0.acks 0" in printed and "text consumer-c0.polled 3" in printed
    assert printed.count("text consumer-c0.polled 3") == 2  # the second poll waited for polled_every_ms
    assert f"next_seq p0 {BIG + 2}" in printed

    def rows(name: str) -> list[tuple[int, ...]]:
        found = np.concatenate(list(read_records(ledgers / name, PRODUCER_EVENT)))
        return [
            tuple(int(v) for v in r) for r in found[["kind", "seq", "seq_end", "partition", "offset", "code", "t_ms"]]
        ]

    never = 0xFFFFFFFF
    assert rows("producer-p0.events") == [
        (Kind.INTENT, 0, 256, -1, -1, 0, 1),
        (Kind.RETURNED, 0, 256, -1, -1, 0, 2),
        (Kind.ACK, 7, 8, 0, 14, 0, 2),
        (Kind.ERROR_SEEN, 11, 12, -1, -1, code("NotEnoughReplicasException"), 2),
        (Kind.ERROR_SWALLOWED, 12, 13, -1, -1, code("RecordTooLargeException"), 2),
        (Kind.INTENT, 256, 300, -1, -1, 0, 0),
        (Kind.COMMITTING, 256, 300, -1, -1, 0, never),
        (Kind.COMMITTED, 256, 300, -1, -1, 0, never),
        (Kind.ABORTED, 300, 310, -1, -1, 0, 3),
        (Kind.INTENT, BIG, BIG + 2, -1, -1, 0, 3),
        (Kind.RETURNED, 300, 305, -1, -1, 0, 10),  # the mark the first writer left, after its torn tail
    ]
    timeout = code("TimeoutException")
    acks = [(0, 0, 10), (1, 1, -1), (2, 2, 20), (3, 0, 11), (4, 0, 12), (5, 0, 13), (6, 1, 21), (8, 0, 15)]
    assert rows("producer-p0.acks") == [
        *((Kind.ACK, s, s + 1, p, o, 0, 2) for s, p, o in acks),
        (Kind.ERROR_SEEN, 9, 10, -1, -1, timeout, 2),
        (Kind.ERROR_SWALLOWED, 10, 11, -1, -1, timeout, 2),
        (Kind.ACK, 13, 14, 0, 16, 0, 10),
    ]
    assert (ledgers / "producer-p0.errors").read_text(encoding="utf-8") == (
        f"{timeout}\tTimeoutException\tTopic t not present in metadata after 300 ms.\n"
        f"{code('NotEnoughReplicasException')}\tNotEnoughReplicasException\t\n"
        f"{code('RecordTooLargeException')}\tRecordTooLargeException\tdélai dépassé ✓\n"
    )
    assert np.fromfile(ledgers / "producer-p0.returned", dtype="<u8").tolist() == [0, 0]
    meta = json.loads((ledgers / "producer-p0.json").read_text())
    assert meta == {**PRODUCER_META, "producer": "p0", "start_ns": BASE}

    processed = np.concatenate(list(read_records(ledgers / "consumer-c0.processed", PROCESSED)))
    assert [tuple(int(v) for v in r) for r in processed] == [  # t_ms from the member's first start
        (0, 5, TAG, 5, 0, 0),
        (1, 6, TAG, 6, 0, 0),
        (2, 7, 0, -1, 2, 0),
        (0, 8, TAG, BIG, 1, 0),
        (0, 9, TAG, 9, 0, 1),
        (1, 10, TAG, 10, 0, 1),
        (0, 11, TAG, 11, 0, 1),
        (3, 0, TAG, 12, 0, 1),
    ]
    assert np.fromfile(ledgers / "consumer-c0.epochs", dtype=EPOCH).tolist() == [0, 4, 6, 7]
    assert (ledgers / "consumer-c0.polled").read_text() == "10"
    consumer_meta = json.loads((ledgers / "consumer-c0.json").read_text())
    assert consumer_meta == {**CONSUMER_META, "member": "c0", "start_ns": BASE + 20 * MS}
