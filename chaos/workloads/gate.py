"""``buffer.memory`` for a client without a bounded accumulator (kafka-python 3)."""

from __future__ import annotations

import threading
import time

from kafka.errors import KafkaTimeoutError


class BufferGate:
    """``buffer.memory`` for a client without a bounded accumulator: send() blocks while the bytes
    not yet acknowledged would exceed the limit, and fails after ``max.block.ms`` like Java's."""

    def __init__(self, limit: int | None, max_block_ms: int) -> None:
        self.limit = limit
        self.max_block_s = max_block_ms / 1000
        self.outstanding = 0
        self._cond = threading.Condition()

    def acquire(self, size: int) -> None:
        """Reserve ``size`` bytes. Raises KafkaTimeoutError after ``max.block.ms``."""
        if self.limit is None:
            return
        deadline = time.monotonic() + self.max_block_s
        with self._cond:
            while self.outstanding + size > self.limit and self.outstanding > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise KafkaTimeoutError(f"Failed to allocate memory within {self.max_block_s * 1000:.0f} ms")
                self._cond.wait(left)
            self.outstanding += size

    def release(self, size: int) -> None:
        """Give back ``size`` bytes once the record is acknowledged or failed."""
        if self.limit is None:
            return
        with self._cond:
            self.outstanding -= size
            self._cond.notify_all()
