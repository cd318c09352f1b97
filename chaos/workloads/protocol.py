"""The tunables of the driver protocol (``docs/clients.md``), carried in every workload spec as its
``"protocol"`` object so that a driver in another language reads them instead of copying them.

Python writes them (:func:`chaos.workloads.spec.save_spec`) and its own workloads read them back from
the spec like any other field; the Java driver reads them from the same JSON and has no defaults of
its own. What is *not* here is the ledger format itself (record layouts and sizes, the numpy dtypes
of :mod:`chaos.workloads.ledger`): that is not tuned.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields

from chaos.errors import UsageError
from chaos.workloads.jsonvalue import JsonObject
from chaos.workloads.settings import HARNESS_OWNED, SECURITY_PREFIXES

#: The placeholders a transactional id pattern may use: the run's id and the workload's id.
_PLACEHOLDER = re.compile(r"\{(run_id|id)\}")


@dataclass(frozen=True, slots=True)
class DriverProtocol:
    """How often and in what groups a driver writes its ledgers, and how it names what it owns.

    * ``intent_batch``: records declared per ``INTENT`` range in the streaming modes (one write
      covers this many sends). In Python each ledger write releases the GIL to the client's I/O
      thread, so fewer, larger ranges keep the send loop near a bare client's speed; a kill inside a
      range can only make more records ``unknown``, never a false loss. Rate-limited producers send
      smaller ranges anyway.
    * ``pace_ms``: how long a send loop waits when it is ahead of its rate, so records go out in
      bursts of ``rate * pace`` (40 at 2000 records/s). Each burst wakes the client's sender thread
      once: a kafka-python producer at 2000 records/s took 10.4 CPU-s over 20 s on a 2 ms tick and
      5.3 on 20 ms, and an outbox commits its table once per burst. 20 ms is far below any fault's
      timing.
    * ``ack_batch``, ``ack_flush_ms``, ``ack_timer_ms``: acks are written in groups of at most
      ``ack_batch``, or once the oldest has waited ``ack_flush_ms`` when the next ack arrives; a
      timer thread looks every ``ack_timer_ms`` and writes a group older than ``ack_flush_ms``.
      One write per ack hands the GIL back and forth with the client's I/O thread and costs a fifth
      of the throughput; a kill loses at most that window of ack records (judged never acknowledged,
      which can move a real loss from the broker to the producer stage but never invents one).
    * ``polled_every_ms``: how often at most a consumer rewrites its ``.polled`` count (the harness
      checks it 4 times a second).
    * ``transactional_id``: the ``transactional.id`` of a transactional producer or an exactly-once
      transformer whose settings name none; ``{run_id}`` and ``{id}`` are replaced by the run's and
      the workload's id.

    The keys the harness replaces in a client's settings (:data:`chaos.workloads.settings.HARNESS_OWNED`
    and the security prefixes) travel in the same JSON object (:meth:`to_json`); they are the
    harness's own, applied by the Python settings resolvers at load time, so they are not fields a
    spec could change.

    Raises:
        UsageError: a count or period below its minimum, or a pattern without ``{id}``.
    """

    intent_batch: int = 256
    pace_ms: int = 20
    ack_batch: int = 64
    ack_flush_ms: int = 5
    ack_timer_ms: int = 25
    polled_every_ms: int = 100
    transactional_id: str = "kc-{run_id}-{id}"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "transactional_id":
                if not isinstance(value, str) or "{id}" not in value:
                    # Without the workload's id two producers of a run would fence each other.
                    raise UsageError(f"protocol transactional_id {value!r} must contain {{id}}")
                continue
            least = 0 if f.name == "ack_flush_ms" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise UsageError(f"protocol {f.name} must be a whole number of at least {least}, not {value!r}")

    def transactional_id_of(self, run_id: str, workload: str) -> str:
        """The pattern with its placeholders replaced in one pass (an id containing ``{id}`` stays).

        >>> DriverProtocol().transactional_id_of("r1", "p0")
        'kc-r1-p0'
        """
        values = {"run_id": run_id, "id": workload}
        return _PLACEHOLDER.sub(lambda m: values[m[1]], self.transactional_id)

    def to_json(self) -> JsonObject:
        """The spec's ``"protocol"`` object: the fields, and the keys the harness owns."""
        return {
            **asdict(self),
            "harness_owned": sorted(HARNESS_OWNED),
            "harness_owned_prefixes": list(SECURITY_PREFIXES),
        }

    @classmethod
    def from_json(cls, raw: JsonObject) -> DriverProtocol:
        """The protocol of a spec's ``"protocol"`` object (written by :meth:`to_json`).

        Raises:
            UsageError: the harness-owned keys are not this harness's (a spec of another version),
                a field is unknown, or a value is out of range.
        """
        values = dict(raw)
        owned = values.pop("harness_owned", sorted(HARNESS_OWNED))
        prefixes = values.pop("harness_owned_prefixes", list(SECURITY_PREFIXES))
        if sorted(owned) != sorted(HARNESS_OWNED) or list(prefixes) != list(SECURITY_PREFIXES):
            raise UsageError(
                f"the spec's harness-owned settings ({owned}, {prefixes}) are not this harness's "
                f"({sorted(HARNESS_OWNED)}, {list(SECURITY_PREFIXES)}): write the spec again"
            )
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise UsageError(f"unknown protocol field {unknown[0]}")
        return cls(**values)
