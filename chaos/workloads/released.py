"""The rows of a producer's ledgers a soak released once its windows judged them (docs/ledgers.md,
"Released rows").

A soak judged in windows (``ledgers: release``, the default) frees the disk the judged windows'
ledger rows took: ``ledgers/released.json`` says, per ledger file, how many rows from its start are
released and what they added up to (the records they intended, acknowledged and saw fail, and the
first sequence number after every intent among them), and their blocks are then punched out of the
file (:mod:`chaos.workloads.releasing`) once no reader holding :func:`reading` is on them. The file
keeps its length, so a writer goes on appending where it was and every row keeps its index. A
reader starts after the released rows (:func:`chaos.workloads.ledger.read_records`); what covers a
whole ledger adds what they added up to.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from chaos.rundir import RELEASED

#: In ``ledgers/``: the lock a reader holds shared while it reads after the released rows, and the
#: soak's judge exclusive while it frees their blocks.
RELEASED_LOCK = "released.lock"


@dataclass(frozen=True, slots=True)
class Released:
    """What the first ``rows`` rows of one ledger file held, once released."""

    rows: int = 0
    #: The first sequence number after every record the released rows intended.
    next_seq: int = 0
    sent: int = 0
    acked: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        """The fields, as ``released.json`` holds them."""
        return asdict(self)


_FIELDS = frozenset(f.name for f in fields(Released))


def released_all(ledgers: Path) -> dict[str, Released]:
    """Per ledger file name, what ``ledgers/released.json`` says was released (empty: nothing).

    Raises:
        ValueError: the file is not what the harness writes (it is written whole, by a rename).
        OSError: it cannot be read.
    """
    path = ledgers / RELEASED
    try:
        data: object = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object")
    out: dict[str, Released] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or set(entry) != _FIELDS:
            raise ValueError(f"{path}: the entry of {name} does not name {', '.join(sorted(_FIELDS))}")
        if not all(type(v) is int and v >= 0 for v in entry.values()):
            raise ValueError(f"{path}: the entry of {name} holds something other than counts")
        out[str(name)] = Released(**entry)
    return out


def released(path: Path) -> Released:
    """What was released of the ledger file ``path`` (nothing, in a run that released none).

    Raises:
        ValueError, OSError: as :func:`released_all`.
    """
    return released_all(path.parent).get(path.name, Released())


@contextmanager
def reading(ledgers: Path) -> Iterator[None]:
    """Hold off the freeing of released rows while the caller reads ``released.json`` and then the
    rows after it (a shared ``flock`` on ``ledgers/released.lock``, which a releasing soak creates
    first; a run without it releases nothing).

    Raises:
        OSError: the lock file cannot be opened.
    """
    try:
        fd = os.open(ledgers / RELEASED_LOCK, os.O_RDONLY)
    except FileNotFoundError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # and the lock with it


def any_released(ledgers: Path) -> bool:
    """Whether a soak released rows of any ledger in ``ledgers``."""
    return (ledgers / RELEASED).exists()
