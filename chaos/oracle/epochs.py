"""Leader epochs and high watermarks moving backwards, in what each broker said of itself during the
faults (``watch/progress.jsonl``, docs/run-directory.md).

Each invariant is per broker: a broker cut off from the controller answers with its stale view, so
two brokers disagreeing is no violation, and a new leader's high watermark may start below the old
leader's (an unclean election may even truncate the log). Only one broker's own answers going back
are: its leader epoch of a partition below one it gave earlier, or, while it leads a partition at
one epoch, its high watermark below one it gave earlier at that epoch.

A case is one stretch of samples below the highest value seen before it: a broker stuck on an older
view for ten looks is one case, and one that comes back and falls again is two.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

from chaos import rundir
from chaos.watched import BrokerView

#: One line of ``watch/progress.jsonl``: one partition as one broker saw it at ``t_ms``.
Seen = BrokerView


def _parse(text: str) -> Seen | None:
    try:
        row = json.loads(text)
        hw = row.get("high_watermark")
        return Seen(
            int(row["t_ms"]),
            int(row["broker"]),
            int(row["partition"]),
            int(row["leader"]),
            int(row["leader_epoch"]),
            None if hw is None else int(hw),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def read_progress(run_dir: Path) -> list[Seen]:
    """The samples of ``run_dir/watch/progress.jsonl`` in the order they were written (none: a run
    without the file, from before the watch or that never reached its faults). A line that does not
    parse (the torn last line of a killed harness) is left out.

    Raises:
        OSError: the file exists and cannot be read.
    """
    path = Path(run_dir) / rundir.WATCH / rundir.PROGRESS
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as f:
        return [s for s in (_parse(text) for text in f if text.strip()) if s is not None]


def _backwards(
    series: Iterable[tuple[Hashable, Seen, int]], limit: int
) -> tuple[int, list[tuple[Seen, Seen, int, int]]]:
    """Stretches of a value below the highest earlier one of its key: their count, and up to
    ``limit`` as (earlier sample, later sample, earlier value, later value)."""
    highest: dict[Hashable, tuple[Seen, int]] = {}
    below: set[Hashable] = set()
    count, shown = 0, list[tuple[Seen, Seen, int, int]]()
    for key, seen, value in series:
        top = highest.get(key)
        if top is None or value >= top[1]:
            below.discard(key)
            if top is None or value > top[1]:
                highest[key] = (seen, value)
            continue
        if key in below:
            continue
        below.add(key)
        count += 1
        if len(shown) < limit:
            shown.append((top[0], seen, top[1], value))
    return count, shown


def _example(earlier: Seen, later: Seen, was: int, now: int) -> dict[str, Any]:
    return {
        "broker": later.broker,
        "partition": later.partition,
        "earlier": was,
        "later": now,
        "earlier_t_ms": earlier.t_ms,
        "later_t_ms": later.t_ms,
    }


def epoch_regressions(samples: list[Seen], limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Per (broker, partition), stretches of a leader epoch below one the same broker gave earlier:
    their count and up to ``limit`` examples (``earlier`` and ``later`` are epochs)."""
    count, shown = _backwards((((s.broker, s.partition), s, s.leader_epoch) for s in samples), limit)
    return count, [_example(*case) for case in shown]


def hw_regressions(samples: list[Seen], limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Per (broker, partition, leader epoch) while that broker leads, stretches of a high watermark
    below one the same broker gave earlier at that epoch: their count and up to ``limit`` examples
    (``earlier`` and ``later`` are high watermarks, ``leader_epoch`` the epoch)."""
    led = (
        ((s.broker, s.partition, s.leader_epoch), s, s.high_watermark)
        for s in samples
        if s.high_watermark is not None and s.leader == s.broker
    )
    count, shown = _backwards(led, limit)
    return count, [{**_example(*case), "leader_epoch": case[1].leader_epoch} for case in shown]
