"""The Java driver's ledger writers hold the same bytes as the Python writers, without a cluster.

The Java driver is a second implementation of the ledger protocol (``docs/ledgers.md``); before this
test only the Docker tier noticed when its record sizes, field order or rules drifted from
``chaos.workloads.ledger``. Here its JDK-only part (``JDK_ONLY_SOURCES``: the spec reader and the
ledger writers) is compiled alone with ``javac``, a script of ledger events runs through it
(``golden/LedgerScript.java``) and through the Python writers on the same fixed clocks (the script
and its Python run: ``tests/helpers/ledger_script.py``), and the two run directories must be equal
byte for byte, and read back through the numpy dtypes as the script says. The Java side also prints
the protocol tunables it read from a spec that ``chaos.workloads.spec.save_spec`` wrote: it must read
them, not know them.

A machine without a JDK fails this test (the Java client is part of the harness); it does not skip.
"""

from __future__ import annotations

import json
import subprocess
import zlib
from pathlib import Path

import numpy as np

from chaos.images.java_driver import JDK_ONLY_SOURCES, driver_source
from chaos.rundir import LEDGERS
from chaos.workloads.clients import resolve_settings
from chaos.workloads.ledger import EPOCH, PROCESSED, PRODUCER_EVENT, Kind, read_records
from chaos.workloads.protocol import DriverProtocol
from chaos.workloads.spec import ProducerSpec, load_spec, save_spec
from tests.helpers.ledger_script import BASE, BIG, CONSUMER_META, MS, PRODUCER_META, TAG, run_python, script

SCRIPT_CLASS = Path(__file__).parent / "golden" / "LedgerScript.java"


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


def test_the_java_producer_starts_where_the_harness_says(tmp_path: Path, jdk: tuple[str, str]) -> None:
    """A soak's released rows read as zeros in ``.events``: the Java driver takes its first sequence
    number from ``KAFKA_CHAOS_NEXT_SEQ``, which the harness sets, rather than scanning for it."""
    import os

    java, classes = compile_ledger(tmp_path, jdk)
    spec_path = golden_spec(tmp_path)
    script_path = tmp_path / "script.tsv"
    script_path.write_text("".join("\t".join(line) + "\n" for line in script()), encoding="utf-8")
    argv = [java, "-cp", str(classes), "LedgerScript", str(spec_path), str(script_path), str(tmp_path / "java")]
    env = {**os.environ, "KAFKA_CHAOS_NEXT_SEQ": "987654321"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "next_seq p0 987654321" in proc.stdout.splitlines()
