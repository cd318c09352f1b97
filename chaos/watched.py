"""What the progress watch records: one partition as one broker saw it, a line of
``watch/progress.jsonl`` (docs/run-directory.md). The cluster asks, the experiments write and the
oracle reads it, so the record sits below all three."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BrokerView:
    """One partition as one broker sees it at ``t_ms`` (wall clock, epoch ms, when its answer came)."""

    t_ms: int
    broker: int
    partition: int
    #: the leader's id in this broker's metadata (-1: none)
    leader: int
    leader_epoch: int
    #: this broker's high watermark, when it says it leads and still did at ``leader_epoch`` when asked
    high_watermark: int | None
