"""The line protocol (docs/clients.md): a driver's JSON events become the ledgers the Python writers
write for the same events, byte for byte; a SIGKILLed driver loses nothing it had printed, its torn
last line is counted and dropped, never glued to the next start's first line; a line that breaks the
protocol is one error naming the file and the line."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from chaos.errors import InfrastructureError
from chaos.rundir import LEDGERS
from chaos.waiting import wait_until
from chaos.workloads.clocks import Clocks
from chaos.workloads.envelope import encode, producer_tag
from chaos.workloads.external import ExternalClient
from chaos.workloads.ledger import EPOCH, PROCESSED, PRODUCER_EVENT, ConsumerLedger, Kind, ProducerLedger, read_records
from chaos.workloads.lines import LineConverter, LineProtocolError
from chaos.workloads.process import WorkloadProcess
from chaos.workloads.protocol import DriverProtocol
from chaos.workloads.spec import ConsumerSpec, ProducerSpec
from chaos.workloads.totals import totals

BASE = 1_700_000_000_000  # ms
MS = 1_000_000
PROTOCOL = DriverProtocol(ack_batch=2, ack_timer_ms=3_600_000)  # the thread never flushes; the passes do
GOX = ExternalClient("gox", ("unused",), modes=("async", "sync", "transactional"), strategies=("after_process",))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Now:
    """A wall clock the Python writers read, moved by hand to each event's ``ts``."""

    def __init__(self) -> None:
        self.ms = BASE

    def clocks(self) -> Clocks:
        return Clocks(wall_ns=lambda: self.ms * MS, monotonic_ns=lambda: 0)


def _producer(run_dir: Path, **changes: object) -> ProducerSpec:
    fields: dict[str, object] = {"settings": {"acks": "all", "client.id": "mine"}, "protocol": PROTOCOL} | changes
    return ProducerSpec("p0", "t", "b:1", "r1", str(run_dir), client="gox", external=GOX, **fields)  # type: ignore[arg-type]


def _consumer(run_dir: Path) -> ConsumerSpec:
    return ConsumerSpec("c0", "t", "b:1", "r1", str(run_dir), group="g", client="gox", external=GOX, protocol=PROTOCOL)


def convert(spec: ProducerSpec | ConsumerSpec, events: list[dict[str, object]], now: Now) -> LineConverter:
    """The events as a driver prints them, through the converter on fixed clocks."""
    converter = LineConverter(spec, now.clocks())
    converter.begin()
    with converter.path.open("a") as out:
        out.write("".join(json.dumps(e) + "\n" for e in events))
    converter.finish()
    return converter


def ledger_files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run_dir / LEDGERS).iterdir()) if p.suffix != ".lines"}


def at(now: Now, ms: int) -> None:
    """Move ``now`` to ``ms`` past BASE."""
    now.ms = BASE + ms


def test_producer_lines_become_the_python_writers_bytes(tmp_path: Path) -> None:
    ts = [BASE + i for i in range(20)]
    events: list[dict[str, object]] = [
        {"ev": "intent", "seq": 0, "end": 3, "ts": ts[1]},
        {"ev": "returned", "seq": 0, "end": 3, "ts": ts[2]},
        {"ev": "ack", "seq": 0, "partition": 1, "offset": 10, "ts": ts[3]},
        {"ev": "ack", "seq": 1, "partition": 2, "offset": None, "ts": ts[3]},  # no offset reported: -1
        {"ev": "error", "seq": 2, "name": "TimeoutException", "message": "a\nb", "seen": True, "ts": ts[4]},
        {"ev": "intent", "seq": 3, "ts": ts[5]},
        {"ev": "ack", "seq": 3, "partition": 0, "offset": 7, "from": "app", "ts": ts[6]},
        {"ev": "returned", "seq": 3, "ts": ts[6]},
        {"ev": "intent", "seq": 4, "end": 6, "ts": ts[7]},
        {"ev": "error", "seq": 4, "name": "NotLeader", "seen": False, "from": "app", "ts": ts[8]},
        {"ev": "error", "seq": 5, "name": "TimeoutException", "message": "again", "seen": False, "ts": ts[8]},
        {"ev": "error", "name": "CommitFailed", "message": "no seq: the class is noted", "ts": ts[9]},
        {"ev": "committing", "seq": 3, "end": 6, "ts": ts[10]},
        {"ev": "committed", "seq": 3, "end": 6, "ts": ts[11]},
        {"ev": "aborted", "seq": 0, "end": 3, "ts": ts[12]},
    ]
    convert(_producer(tmp_path / "lines"), events, Now())

    now = Now()
    meta = {"mode": "async", "client": "gox", "topic": "t", "settings": {"acks": "all", "client.id": "mine"},
            "run_id": "r1", "substituted": ["client.id"], "emulated": []}  # fmt: skip
    ledger = ProducerLedger(tmp_path / "python", "p0", meta, PROTOCOL, now.clocks())
    at(now, 1)
    ledger.intent(0, 3)
    at(now, 2)
    ledger.returned(0, 3)
    at(now, 3)
    ledger.ack(0, 1, 10)
    ledger.ack(1, 2, -1)
    at(now, 4)
    ledger.named_error(2, "TimeoutException", "a\nb", seen=True, from_callback=True)
    at(now, 5)
    ledger.intent(3)
    at(now, 6)
    ledger.ack_in_thread(3, 0, 7)
    ledger.returned(3)
    at(now, 7)
    ledger.intent(4, 6)
    at(now, 8)
    ledger.named_error(4, "NotLeader", "", seen=False, from_callback=False)
    ledger.named_error(5, "TimeoutException", "again", seen=False, from_callback=True)
    at(now, 9)
    ledger.note_named_error("CommitFailed", "no seq: the class is noted")
    at(now, 10)
    ledger.transaction(Kind.COMMITTING, 3, 6)
    at(now, 11)
    ledger.transaction(Kind.COMMITTED, 3, 6)
    at(now, 12)
    ledger.transaction(Kind.ABORTED, 0, 3)
    ledger.close()

    ours = ledger_files(tmp_path / "lines")
    assert ours == ledger_files(tmp_path / "python")
    assert sorted(ours) == [f"producer-p0.{s}" for s in ("acks", "errors", "events", "json", "returned")]
    acks = np.concatenate(list(read_records(tmp_path / "lines" / LEDGERS / "producer-p0.acks", PRODUCER_EVENT)))
    assert [(int(r["kind"]), int(r["seq"]), int(r["offset"]), int(r["t_ms"])) for r in acks] == [
        (Kind.ACK, 0, 10, 3),
        (Kind.ACK, 1, -1, 3),
        (Kind.ERROR_SEEN, 2, -1, 4),
        (Kind.ERROR_SWALLOWED, 5, -1, 8),
    ]


def test_with_acks_0_every_ack_is_unconfirmed(tmp_path: Path) -> None:
    spec = _producer(tmp_path, settings={"acks": "0"})
    events: list[dict[str, object]] = [
        {"ev": "intent", "seq": 0, "end": 2},
        {"ev": "returned", "seq": 0, "end": 2},
        {"ev": "ack", "seq": 0, "partition": 1, "offset": 0},
        {"ev": "ack", "seq": 1, "partition": 1, "offset": 41},
    ]
    convert(spec, events, Now())
    acks = np.concatenate(list(read_records(tmp_path / LEDGERS / "producer-p0.acks", PRODUCER_EVENT)))
    assert acks["offset"].tolist() == [-1, -1]


def test_consumer_lines_become_the_python_writers_bytes(tmp_path: Path) -> None:
    valid = encode("r1", "p0", 5, b"xy", b"5")
    events: list[dict[str, object]] = [
        {"ev": "polled", "count": 4, "ts": BASE + 1},
        {"ev": "processed", "partition": 0, "offset": 5, "key": b64(b"5"), "value": b64(valid), "ts": BASE + 2},
        {"ev": "processed", "partition": 0, "offset": 6, "key": b64(b"6"), "value": b64(valid), "ts": BASE + 2},
        {"ev": "epoch", "ts": BASE + 3},
        {"ev": "processed", "partition": 1, "offset": 0, "key": None, "value": b64(b"hello"), "ts": BASE + 3},
        {"ev": "processed", "partition": 1, "offset": 1, "value": None, "ts": BASE + 3},
        {
            "ev": "processed",
            "partition": 2,
            "offset": 9,
            "status": "valid",
            "producer": "p0",
            "seq": 12,
            "ts": BASE + 4,
        },
        {"ev": "processed", "partition": 2, "offset": 10, "status": "corrupted", "ts": BASE + 4},
        {"ev": "polled", "count": 3, "ts": BASE + 5},
    ]
    convert(_consumer(tmp_path / "lines"), events, Now())

    now = Now()
    meta = {"group": "g", "strategy": "after_process", "client": "gox", "topic": "t", "settings": {},
            "isolation_level": "read_uncommitted", "batch_size": 200, "output_topic": None, "substituted": [],
            "run_id": "r1"}  # fmt: skip
    ledger = ConsumerLedger(tmp_path / "python", "c0", meta, PROTOCOL, now.clocks())
    ledger.polled(4)
    tag = producer_tag("p0")
    at(now, 2)
    ledger.processed_many([(0, 5, tag, 5, 0), (0, 6, 0, -1, 1)], [])  # key 6 breaks the checksum
    at(now, 3)
    ledger.processed_many([(1, 0, 0, -1, 2), (1, 1, 0, -1, 2)], [0])
    at(now, 4)
    ledger.processed_many([(2, 9, tag, 12, 0), (2, 10, 0, -1, 1)], [])
    ledger.polled(3)
    ledger.close()

    assert ledger_files(tmp_path / "lines") == ledger_files(tmp_path / "python")
    rows = np.concatenate(list(read_records(tmp_path / "lines" / LEDGERS / "consumer-c0.processed", PROCESSED)))
    assert rows["status"].tolist() == [0, 1, 2, 2, 0, 1] and rows["t_ms"].tolist() == [2, 2, 3, 3, 4, 4]
    assert np.fromfile(tmp_path / "lines" / LEDGERS / "consumer-c0.epochs", dtype=EPOCH).tolist() == [0, 2]
    assert (tmp_path / "lines" / LEDGERS / "consumer-c0.polled").read_text() == "7"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not a JSON line (Expecting value: line 1 column 1 (char 0))"),
        ("[1, 2]", "a line must be one JSON object"),
        (
            '{"ev": "ack2"}',
            "'ack2' is not an event of a producer (intent, returned, ack, error, committing, committed, aborted)",
        ),
        ('{"ev": "intent", "seq": -1}', "seq must be a whole number of at least 0, not -1"),
        ('{"ev": "intent", "seq": 4, "end": 4}', "end 4 must be above seq 4"),
        ('{"ev": "returned", "seq": 0, "end": 9}', "returned [0, 9) was never intended: print its intent before"),
        ('{"ev": "intent", "seq": 0}', "intent [0, 1) starts below 3: sequence numbers go on from KAFKA_CHAOS_NEXT"),
        ('{"ev": "error", "seq": 1, "name": "X", "seen": "yes"}', "seen must be true or false, not 'yes'"),
        ('{"ev": "ack", "seq": 1, "partition": 0, "offset": 3, "from": "thread"}', "from must be callback or app"),
    ],
)
def test_a_line_that_breaks_the_protocol_names_the_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    converter = LineConverter(_producer(tmp_path))
    converter.begin()
    converter.path.write_text('{"ev": "intent", "seq": 0, "end": 3}\n\n' + line + "\n")
    with pytest.raises(LineProtocolError) as caught:
        converter.pump()
    assert str(caught.value).startswith(f"{converter.path}:3: {problem}"), caught.value
    assert str(caught.value).endswith(": fix the gox driver (docs/clients.md, the line protocol)")
    assert caught.value.exit_code == 3
    converter.close()


#: A driver that prints whole events, then half of one, then waits to be killed.
FAKE_DRIVER = """
import json, os, sys, time
first = int(os.environ["KAFKA_CHAOS_NEXT_SEQ"])
out = sys.stdout.fileno()
print("fake driver from", first, file=sys.stderr, flush=True)
for seq in range(first, first + 50):
    for event in ({"ev": "intent", "seq": seq}, {"ev": "returned", "seq": seq},
                  {"ev": "ack", "seq": seq, "partition": 0, "offset": seq}):
        os.write(out, json.dumps(event).encode() + b"\\n")
os.write(out, b'{"ev": "intent", "se')
time.sleep(120)
"""


@pytest.fixture
def fake_driver(tmp_path: Path) -> Iterator[WorkloadProcess]:
    script = tmp_path / "fake_driver.py"
    script.write_text(FAKE_DRIVER)
    fake = ExternalClient("fake", (sys.executable, str(script), "{spec}"), modes=("async",))
    process = WorkloadProcess(ProducerSpec("p0", "t", "b:1", "r1", str(tmp_path), client="fake", external=fake))
    yield process
    process.kill()


def test_a_sigkilled_driver_loses_nothing_it_had_printed(tmp_path: Path, fake_driver: WorkloadProcess) -> None:
    lines = tmp_path / LEDGERS / "producer-p0.lines"
    fake_driver.start()
    # converted while it runs: the totals see every whole line before the kill
    wait_until(lambda: totals(tmp_path).acked == 50, 30, "the driver's acks in the ledgers")
    assert lines.read_bytes().endswith(b'{"ev": "intent", "se')
    fake_driver.kill()
    assert fake_driver.lines is not None and fake_driver.lines.torn == 1
    got = totals(tmp_path)
    assert (got.sent, got.acked) == (50, 50)

    fake_driver.start()  # goes on after the last sequence number it intended, on a line of its own
    wait_until(lambda: totals(tmp_path).acked == 100, 30, "the second start's acks")
    fake_driver.kill()
    assert fake_driver.lines.torn == 2
    events = np.concatenate(list(read_records(tmp_path / LEDGERS / "producer-p0.events", PRODUCER_EVENT)))
    intents = events[events["kind"] == Kind.INTENT]
    assert intents["seq"].tolist() == list(range(100))
    text = lines.read_text().splitlines()
    assert text[150] == '{"ev": "intent", "se' and text[151] == '{"ev": "intent", "seq": 50}'
    assert "fake driver from 50" in fake_driver.log_tail()


def test_a_driver_breaking_the_protocol_is_stopped_with_one_error(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("import time\nprint('starting up', flush=True)\ntime.sleep(120)\n")
    bad = ExternalClient("bad", (sys.executable, str(script)), modes=("async",))
    process = WorkloadProcess(ProducerSpec("p0", "t", "b:1", "r1", str(tmp_path), client="bad", external=bad))
    process.start()
    started = time.monotonic()
    with pytest.raises(LineProtocolError) as caught:
        process.wait(60)
    assert time.monotonic() - started < 30  # killed at once, not left to run
    assert str(caught.value) == (
        f"{tmp_path / LEDGERS / 'producer-p0.lines'}:1: not a JSON line (Expecting value: line 1 column 1 (char 0)): "
        "fix the bad driver (docs/clients.md, the line protocol)"
    )
    with pytest.raises(InfrastructureError, match="not a JSON line"):
        process.start()  # a broken driver is not started again
