"""``client_kill``'s ``when``: the member is frozen for every look, left frozen only at the moment
(its group has committed records no member has processed; it holds undecided share deliveries),
and never left frozen otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chaos.faults import moments
from chaos.faults.moments import committed_ahead, freeze_when, holding, member_meta, processed_ends
from chaos.workloads.ledger import PROCESSED
from chaos.workloads.share_ledger import SHARE_DELIVERY, Ack


def member(ledgers: Path, name: str, group: str, rows: list[tuple[int, int]], topic: str = "t") -> Path:
    ledgers.mkdir(exist_ok=True)
    (ledgers / f"{name}.json").write_text(json.dumps({"group": group, "topic": topic}))
    processed = np.zeros(len(rows), PROCESSED)
    processed["partition"] = [p for p, _ in rows]
    processed["offset"] = [o for _, o in rows]
    path = ledgers / f"{name}.processed"
    processed.tofile(path)
    return path


class Member:
    """A member that processes a record each time it runs again, and whose group commits ahead of it
    after ``commits_after`` looks."""

    def __init__(self, ledgers: Path, commits_after: int) -> None:
        self.ledgers, self.looks, self.commits_after = ledgers, 0, commits_after
        self.frozen = False
        self.processed = [(0, 0)]

    def pause(self) -> None:
        assert not self.frozen
        self.frozen = True

    def resume(self) -> None:
        assert self.frozen
        self.frozen = False
        self.processed.append((0, len(self.processed)))
        member(self.ledgers, "consumer-c0", "g", self.processed)

    def committed(self, group: str, topic: str) -> dict[int, int]:
        assert self.frozen, "looked while the member runs"
        assert (group, topic) == ("g", "t")
        self.looks += 1
        # committed up to what was processed, and past it from the commits_after-th look on
        return {0: len(self.processed) + (5 if self.looks >= self.commits_after else 0)}


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moments, "LOOK_EVERY", 0.0)


def test_the_member_is_left_frozen_at_the_first_look_its_group_committed_past_what_it_processed(tmp_path: Path) -> None:
    m = Member(tmp_path, commits_after=3)
    member(tmp_path, "consumer-c0", "g", m.processed)
    look = committed_ahead(tmp_path, "g", "t", m.committed)
    assert freeze_when("ahead", look, m.pause, m.resume) == 5
    assert m.frozen and m.looks == 3


def test_a_group_that_never_commits_ahead_gives_up_with_the_member_running(tmp_path: Path) -> None:
    m = Member(tmp_path, commits_after=10**9)
    member(tmp_path, "consumer-c0", "g", m.processed)
    with pytest.raises(TimeoutError, match="no moment when committed_ahead came in 0 s"):
        freeze_when("committed_ahead", committed_ahead(tmp_path, "g", "t", m.committed), m.pause, m.resume, 0.3)
    assert not m.frozen and m.looks > 1


def test_a_look_that_fails_leaves_the_member_running(tmp_path: Path) -> None:
    m = Member(tmp_path, commits_after=1)
    member(tmp_path, "consumer-c0", "g", m.processed)

    def broken(group: str, topic: str) -> dict[int, int]:
        raise ConnectionError("no broker answered")

    with pytest.raises(ConnectionError):
        freeze_when("committed_ahead", committed_ahead(tmp_path, "g", "t", broken), m.pause, m.resume)
    assert not m.frozen


def test_what_another_member_of_the_group_processed_is_not_counted_as_ahead(tmp_path: Path) -> None:
    # c0 processed partition 0 up to 9; c1 (same group) took it over and processed up to 29; the
    # group's commit at 30 is nobody's loss. A member of another group or topic does not count.
    member(tmp_path, "consumer-c0", "g", [(0, o) for o in range(10)])
    member(tmp_path, "consumer-c1", "g", [(0, o) for o in range(10, 30)] + [(1, 4)])
    member(tmp_path, "consumer-c2", "other", [(0, 99)])
    member(tmp_path, "consumer-c3", "g", [(0, 99)], topic="elsewhere")
    assert processed_ends(tmp_path, "g", "t") == {0: 30, 1: 5}
    assert moments.unprocessed_commits({0: 30, 1: 5}, processed_ends(tmp_path, "g", "t")) == 0
    # a partition nobody processed counts from its start
    assert moments.unprocessed_commits({0: 30, 2: 8}, processed_ends(tmp_path, "g", "t")) == 8


def test_a_member_that_never_started_is_refused_in_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="consumer-c9 has no ledger meta"):
        member_meta(tmp_path, "consumer-c9", timeout=0.1)


def deliveries(path: Path, acks: list[Ack]) -> None:
    rows = np.zeros(len(acks), SHARE_DELIVERY)
    rows["offset"], rows["ack"] = range(len(acks)), acks
    with path.open("ab") as f:
        rows.tofile(f)


def test_a_share_member_holds_the_deliveries_its_ledger_ends_with_until_it_decides(tmp_path: Path) -> None:
    path = tmp_path / "consumer-c0.deliveries"
    look = holding(tmp_path, "consumer-c0", limit=5)
    assert look() == 0  # nothing polled yet
    deliveries(path, [Ack.DELIVERED] * 3)
    assert look() == 3
    deliveries(path, [Ack.ACCEPT, Ack.RELEASE, Ack.REJECT])
    assert look() == 0
    deliveries(path, [Ack.DELIVERED] * 2)
    assert look() == 2
    with path.open("ab") as f:  # a torn row (a kill mid-write) is not a row
        f.write(b"\0" * 5)
    assert look() == 2
