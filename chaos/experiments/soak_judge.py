"""A soak judged in windows while it runs (docs/soak.md, "Judged in windows").

At each window's end the watch calls :meth:`SoakJudge.mark`: the producers' ledger marks are taken
and the tail reader starts a new segment. A window is judged once it has **settled**: ``settle_s``
after its end (the producers' delivery timeout, a period for the fault acting then to heal, and the
replicas' lag time) the tail reader has read every partition to where it ended at that moment, so
every record of the window that the log will ever hold is in the reader's segments, and no
producer will write a row about it again. Its fates (:func:`chaos.oracle.window.judge_window`) go
to ``soak/judged.jsonl`` and the segments no window still needs are removed: a soak keeps a few
windows of the log's copy, whatever its length. :meth:`SoakJudge.finish` judges the rest once the
workloads have stopped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from chaos.oracle.window import Bound, WindowFates
from chaos.workloads.ledger import AppendFile
from chaos.workloads.marks import Mark, ledger_marks
from chaos.workloads.tail import segment_path

log = logging.getLogger(__name__)


class Tail(Protocol):
    """What the judge needs of a tail reader (:class:`chaos.workloads.tail.TailReader`)."""

    directory: Path
    #: The segment being written now.
    segment: int
    caught_up_at: float
    problem: str | None

    def rotate(self) -> int: ...


#: Judges one window: its bounds, the segments that may hold its records.
Judge = Callable[[Mapping[str, Bound], Iterable[Path]], WindowFates]
#: Releases the ledger rows of a window taken off the queue (its bounds; none: only free the disk
#: of what was released before, once nothing reads the rows any more).
Release = Callable[[Mapping[str, Bound]], None]


@dataclass(slots=True)
class _Window:
    number: int
    end: float
    bounds: dict[str, Bound]
    #: The first tail segment that can hold one of its records.
    first_segment: int
    #: When every send of its records had returned (None: not yet): a streaming producer intends a
    #: range at once and may send its last record long after the window ended.
    returned_at: float | None = None


class SoakJudge:
    """Judges the windows of a soak as they settle, on a thread of its own (see the module)."""

    def __init__(
        self,
        ledgers: Path,
        tail: Tail,
        judge: Judge,
        settle_s: float,
        out: Path,
        clock: Callable[[], float] = time.time,
        every: float = 1.0,
        release: Release | None = None,
    ) -> None:
        self.ledgers = ledgers
        self.release = release
        self.tail = tail
        self.judge = judge
        self.settle_s = settle_s
        self.out = out
        self.clock = clock
        self.every = every
        self.judged_numbers: list[int] = []
        self._removed = 1
        self._marks: dict[str, Mark] = {}
        self._progress: dict[str, Mark] = {}
        self._pending: list[_Window] = []
        self._lock = threading.Lock()
        self._finishing = False
        #: Held while a window is judged: the thread and :meth:`finish` never judge one together.
        self._judging = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def judged(self) -> int:
        """Windows judged so far."""
        return len(self.judged_numbers)

    def start(self) -> None:
        """Take the first marks (what was sent before the first window counts as the first window's)
        and start judging."""
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._marks = {pid: Mark() for pid in ledger_marks(self.ledgers, {})}
        self._thread = threading.Thread(target=self._loop, name="kafka-chaos-judge", daemon=True)
        self._thread.start()

    def mark(self, number: int, end: float) -> None:
        """Window ``number`` ended at ``end``: its records are those intended since the last mark.
        Its settling counts from when the marks were taken, if that is later than ``end`` (a slow
        look of the watch)."""
        with self._lock:
            if self._finishing:  # a late look of the watch: finish() took what is left as the last window
                log.warning("soak judge: window %s ended after the judge finished; its records are the last's", number)
                return
            now = ledger_marks(self.ledgers, self._marks)
            taken = max(end, self.clock())
            read_in = self.tail.rotate() - 1  # the segment read during the window
            bounds = {
                pid: Bound(self._marks.get(pid, Mark()).seq, m.seq, *self._row(pid), m.events_row, m.acks_row)
                for pid, m in now.items()
            }
            # A record intended just before the last rotation may have been read into the segment before.
            self._pending.append(_Window(number, taken, bounds, max(1, read_in - 1)))
            self._marks = now

    def _row(self, pid: str) -> tuple[int, int]:
        last = self._marks.get(pid, Mark())
        return last.events_row, last.acks_row

    def finish(self, timeout: float = 120.0) -> None:
        """The workloads have stopped: what was sent after the last window's end (the settle phase)
        is judged as part of the last window (all of the run, if no window ended), and every window
        left is judged once the reader has read the whole log. A window the reader never reached,
        or whose judging failed, is written as unjudged, with the reason."""
        with self._lock:
            self._finishing = True  # no window is marked after the rest is taken below
        self._stop.set()
        if self._thread is not None:
            self._thread.join()  # it stops between windows
            self._thread = None
        last = self._pending[-1].number if self._pending else max(self.judged_numbers, default=1)
        rest = {pid: Bound(m.seq, None, m.events_row, m.acks_row) for pid, m in self._marks.items()}
        for pid in ledger_marks(self.ledgers, self._marks):
            rest.setdefault(pid, Bound(0, None))  # a producer that began after the last window
        self._pending.append(_Window(last, self.clock(), rest, max(1, self.tail.segment - 1)))
        asked = self.clock()
        deadline = time.monotonic() + timeout
        while self.tail.caught_up_at < asked and time.monotonic() < deadline and self.tail.problem is None:
            time.sleep(0.2)
        if self.tail.caught_up_at < asked:
            why = self.tail.problem or f"the tail reader did not reach the log's end in {timeout:g} s"
            self._write_unjudged(why)
            return
        while self._pending:
            self._judge_next(running=False)
        self._release({})

    def _release(self, bounds: Mapping[str, Bound]) -> None:
        """Release a window's ledger rows, if the soak releases them; a failure is the disk's, not the
        verdict's: it is logged and the rows stay."""
        if self.release is None:
            return
        try:
            self.release(bounds)
        except (OSError, ValueError) as e:
            log.warning("soak judge: releasing window rows failed: %s", e)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self._note_returned()
                while not self._stop.is_set() and self._settled():
                    self._judge_next()
            except Exception as e:  # a window's judgement is evidence; the soak goes on
                log.warning("soak judge: %s", e)

    def _note_returned(self) -> None:
        """Note the windows all of whose sends have returned by now."""
        self._progress = ledger_marks(self.ledgers, self._progress)
        now = self.clock()
        with self._lock:
            for w in self._pending:
                if w.returned_at is None and all(
                    b.hi is None or b.hi <= b.lo or self._progress.get(pid, Mark()).returned >= b.hi
                    for pid, b in w.bounds.items()
                ):
                    w.returned_at = now

    def _settled(self) -> bool:
        with self._lock:
            head = self._pending[0] if self._pending else None
        if head is None or head.returned_at is None:
            return False
        return self.tail.caught_up_at >= max(head.end, head.returned_at) + self.settle_s

    def _judge_next(self, running: bool = True) -> None:
        """Judge the oldest window left (or, if that fails, write it as unjudged with the reason)
        and remove the segments no window left needs."""
        with self._judging:
            with self._lock:
                window = self._pending[0]
            segments = [
                segment_path(self.tail.directory, n) for n in range(window.first_segment, self.tail.segment + 1)
            ]
            line: dict[str, object]
            try:
                fates = self.judge(window.bounds, segments)
                line = {"window": window.number, "judged_ms": int(self.clock() * 1000), "while_running": running}
                line |= {**fates.as_dict(), "unsure": self.tail.problem, "bounds": _bounds(window.bounds)}
                line["rows"] = _rows(window.bounds)
            except Exception as e:  # one window's failure (a full disk) is not the soak's
                line = {"window": window.number, "unjudged": f"judging it failed: {type(e).__name__}: {e}"}
            self._write(line)  # raises on a full disk: the window stays pending, judged again next time
            if "unjudged" not in line:
                self.judged_numbers.append(window.number)
            with self._lock:
                self._pending.pop(0)
            # no window left reads below where this one's rows end (each reads from its own start on)
            self._release(window.bounds)
            with self._lock:
                needed = self._pending[0].first_segment if self._pending else self.tail.segment
            # never the segment being written, nor the one before it (a record read just before a rotation)
            needed = min(needed, self.tail.segment - 1)
            for n in range(self._removed, needed):
                segment_path(self.tail.directory, n).unlink(missing_ok=True)
            self._removed = max(self._removed, needed)

    def _write(self, line: Mapping[str, object]) -> None:
        """Append ``line`` with one write: a failed write leaves no part of it for the next one to
        join (the verdict from the windows refuses a line it cannot read)."""
        out = AppendFile(self.out)
        try:
            out.write((json.dumps(line) + "\n").encode())
        finally:
            out.close()

    def _write_unjudged(self, why: str) -> None:
        for window in self._pending:
            self._write({"window": window.number, "unjudged": why})
        self._pending.clear()


def _bounds(bounds: Mapping[str, Bound]) -> dict[str, list[int | None]]:
    """A window's ranges of sequence numbers, ``producer: [lo, hi]``, as its line says them."""
    return {pid: [b.lo, b.hi] for pid, b in sorted(bounds.items())}


def _rows(bounds: Mapping[str, Bound]) -> dict[str, list[int | None]]:
    """Where a window's rows end in each producer's ledgers, ``producer: [events, acks]`` (null for
    the last window): the rows below are released once it is judged (docs/soak.md, "Judged rows released")."""
    return {pid: [b.events_stop, b.acks_stop] for pid, b in sorted(bounds.items())}
