"""Release the judged rows of a soak's producer ledgers (what a reader then sees:
:mod:`chaos.workloads.released`).

:func:`release` adds up the rows it releases and writes ``ledgers/released.json`` whole (by a
rename); then, holding ``released.lock`` exclusive (a reader of the live totals holds it shared
from reading ``released.json`` to its last row), it frees their blocks, punched out with Linux's
``fallocate(FALLOC_FL_PUNCH_HOLE)`` (through ``ctypes``: Python's ``os`` has no call for it, and the
one package that wraps it is unmaintained since 2018); the file keeps its length. On a filesystem
that cannot punch holes the rows are still released (read past) and the disk is not freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from chaos.rundir import RELEASED
from chaos.workloads.ledger import PRODUCER_EVENT, Kind, read_records, write_meta
from chaos.workloads.released import RELEASED_LOCK, Released, released_all

_KEEP_SIZE, _PUNCH_HOLE = 0x01, 0x02
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
_libc.fallocate.restype = ctypes.c_int


def punch(path: Path, length: int) -> bool:
    """Free the whole filesystem blocks of ``path``'s first ``length`` bytes (they read as zeros
    after); False where the filesystem cannot. A block the length ends inside is kept."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        block = os.fstat(fd).st_blksize or 4096
        whole = length // block * block
        if whole <= 0:
            return True
        done: int = _libc.fallocate(fd, _KEEP_SIZE | _PUNCH_HOLE, 0, whole)
        return done == 0
    finally:
        os.close(fd)


def _added(path: Path, before: Released, stop: int) -> Released:
    """``before`` with the rows ``[before.rows, stop)`` of ``path`` added."""
    sent = acked = errors = 0
    next_seq = before.next_seq
    at = before.rows
    for chunk in read_records(path, PRODUCER_EVENT, start=before.rows):
        rows = chunk[: max(0, stop - at)]
        at += len(chunk)
        width = (rows["seq_end"] - rows["seq"]).astype(np.int64)
        intents = rows["kind"] == Kind.INTENT
        sent += int(width[intents].sum())
        acked += int(width[rows["kind"] == Kind.ACK].sum())
        errors += int(width[(rows["kind"] == Kind.ERROR_SEEN) | (rows["kind"] == Kind.ERROR_SWALLOWED)].sum())
        if intents.any():
            next_seq = max(next_seq, int(rows["seq_end"][intents].max()))
        if at >= stop:
            break
    rows_now = min(stop, at)
    return Released(rows_now, next_seq, before.sent + sent, before.acked + acked, before.errors + errors)


def begin(ledgers: Path) -> None:
    """Say, before any row is released, that this run releases them (an empty ``released.json``):
    its topic's retention may delete records as well, so no whole reconcile may ever read it.

    Raises:
        OSError: the file cannot be written.
    """
    (ledgers / RELEASED_LOCK).touch()
    if not (ledgers / RELEASED).exists():
        write_meta(ledgers / RELEASED, {})


def release(ledgers: Path, stops: Mapping[str, int]) -> dict[str, Released]:
    """Release the rows below ``stops[name]`` of each producer ledger file ``name`` in ``ledgers``
    (a stop at or below what is released already changes nothing), then free the blocks of every
    released row once no reader is on them. Returns what is released now, per file.

    Raises:
        OSError: a ledger or ``released.json`` cannot be read or written.
        ValueError: ``released.json`` is not what the harness writes.
    """
    before = released_all(ledgers)
    now = dict(before)
    for name, stop in stops.items():
        old = before.get(name, Released())
        if stop > old.rows:
            now[name] = _added(ledgers / name, old, stop)
    if now != before:
        write_meta(ledgers / RELEASED, {name: r.as_dict() for name, r in sorted(now.items())})
    lock = os.open(ledgers / RELEASED_LOCK, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a reader that read released.json before the write above is done
        for name, done in now.items():
            punch(ledgers / name, done.rows * PRODUCER_EVENT.itemsize)
    finally:
        os.close(lock)
    return now
