"""The share group member's ledger (``ledgers/consumer-<id>.deliveries``): what a member of a share
group (KIP-932) was given and what it decided, one fixed-size row per event, appended by the Java
driver's share consumer (``KafkaChaosShare``) and read by the share oracle (:mod:`chaos.oracle.share`).

A member writes a row with ``ack`` :attr:`Ack.DELIVERED` for each record a poll gives it, as soon
as the poll returns, then one row with its decision on that delivery (:attr:`Ack.ACCEPT`,
:attr:`Ack.RELEASE` or :attr:`Ack.REJECT`, the same ``count``) before it acknowledges it to the
broker. A delivery without a decision row is one the member held when it was killed. ``count`` is the
record's delivery count as the broker gave it (1 on the first delivery; 0: the client did not say).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

import numpy as np

#: File suffix of the ledger, beside the member's ``.json`` meta.
DELIVERIES = ".deliveries"


class Ack(IntEnum):
    """What a row of a share member's ledger records."""

    DELIVERED = 0  # a poll gave the member this record (delivery number ``count``)
    ACCEPT = 1  # processed: acknowledged as accepted (the broker archives it as done)
    RELEASE = 2  # given back: the broker may deliver it again, until the delivery count limit
    REJECT = 3  # refused: the broker archives it, never to deliver it again


#: One row: the record (partition, offset; tag, seq and status as the envelope decodes), its
#: delivery count, the event, and ms since the member's ledger clock started.
SHARE_DELIVERY = np.dtype(
    [
        ("partition", "<i4"),
        ("offset", "<i8"),
        ("tag", "<u4"),
        ("seq", "<i8"),
        ("status", "u1"),
        ("count", "<u2"),
        ("ack", "u1"),
        ("t_ms", "<u4"),
    ]
)


#: The group config (``group_config`` in a member's meta) that holds the delivery count limit (Kafka
#: 4.3 on; before, only the brokers' ``group.share.delivery.count.limit`` sets it).
LIMIT_CONFIG = "share.delivery.count.limit"


def as_limit(value: object) -> int | None:
    """A delivery count limit as a config gives it (a decimal number), at least 1; ``None`` for
    anything else.

    >>> [as_limit(v) for v in ("3", 4, "0", "²", "-1", None)]
    [3, 4, 1, None, None, None]
    """
    return max(1, int(value)) if isinstance(value, str | int) and str(value).isdecimal() else None


def delivery_limit(meta: Mapping[str, object]) -> int | None:
    """The delivery count limit a share member's meta says its group had in force (``group_config``),
    at least 1; ``None`` where it does not say it as a decimal number."""
    config = meta.get("group_config")
    return as_limit(config.get(LIMIT_CONFIG)) if isinstance(config, Mapping) else None
