"""The names a workload spec chooses from: producer modes, commit strategies, key strategies and the
built-in clients. They sit below the specs and the client descriptions so that both can check them."""

from __future__ import annotations

from typing import Literal, get_args

ProducerMode = Literal["fire_and_forget", "sync", "async", "outbox", "transactional"]
#: ``share``: a member of a share group (KIP-932), which acknowledges records rather than committing offsets.
CommitStrategy = Literal["auto", "after_process", "per_partition", "before_process", "transactional", "share"]
PoisonAck = Literal["release", "reject"]
KeyStrategy = Literal["spread", "none", "pinned"]
#: The clients the harness runs itself (``chaos.workloads.clients``); any other is an external driver.
ClientName = Literal["kafka-python", "librdkafka", "java"]

PRODUCER_MODES: tuple[str, ...] = get_args(ProducerMode)
COMMIT_STRATEGIES: tuple[str, ...] = get_args(CommitStrategy)
KEY_STRATEGIES: tuple[str, ...] = get_args(KeyStrategy)
BUILT_IN_CLIENTS: tuple[str, ...] = get_args(ClientName)
