"""What a soak releases once its windows are judged (docs/soak.md, "Judged rows released"): whether
it does, how long its records are in flight, and the retention it sets on its topic.

A soak that releases frees each judged window's producer ledger rows (the judge does it,
:mod:`chaos.workloads.releasing`) and sets its topic's ``retention.ms`` to :func:`retention_s`, so the
brokers delete the log segments of windows long judged. Both need the windows' verdict: no whole
reconcile can read what was released.
"""

from __future__ import annotations

from collections.abc import Mapping

from chaos.experiments.model import Experiment
from chaos.oracle.windows_verdict import WINDOW_METRICS

#: The tail reader's copy is removed as windows are judged; at its largest it holds the records of
#: the windows waiting to settle: a delivery timeout (300 s unless the producer's settings say),
#: two periods beside the one settling, and the replicas' lag (docs/soak.md, "Judged in windows").
TAIL_DELIVERY_S = 300.0
TAIL_LAG_S = 35.0
#: The least retention a releasing soak sets, in s: the brokers' log keeps at least this much.
MIN_RETENTION_S = 300.0
#: A releasing soak's topic rolls a segment this often, so a judged window's segment can be deleted.
SEGMENT_S = 60.0
#: Kafka's defaults: how often a broker looks for segments past retention, and how long a deleted
#: segment's file stays before it is removed.
RETENTION_CHECK_S = 300.0
FILE_DELETE_DELAY_S = 60.0
#: The clients whose delivery timeout has a floor, and their defaults in s; the Java client's
#: default ``request.timeout.ms``.
_FLOORED = {"kafka-python": 120.0, "java": 120.0}
_REQUEST_TIMEOUT_MS = 30_000


def releases(exp: Experiment) -> bool:
    """Whether soak ``exp`` releases what its windows judged: judged in windows, ``ledgers: release``,
    and a sum of windows can be its verdict (no consumer or application, no transaction or outbox,
    no compacted topic, a producer that gives up on a record, an expectation of nothing but counts,
    loss and ``duplicates_in_log``)."""
    soak = exp.soak
    if soak is None or soak.verdict != "windows" or soak.ledgers != "release":
        return False
    if exp.consumer is not None or exp.application is not None or exp.producer.mode in ("transactional", "outbox"):
        return False
    compacted = "compact" in str(exp.topic.config.get("cleanup.policy", ""))
    return not compacted and not _never_gives_up(exp) and {e.metric for e in exp.expectations()} <= WINDOW_METRICS


def _never_gives_up(exp: Experiment) -> bool:
    """A timeout of 0 on a client that does not raise it (librdkafka's ``message.timeout.ms``): its
    windows never settle (:func:`chaos.experiments.soak_judging.settle_s` says None), nothing is released."""
    settings = exp.producer.settings
    given = _ms(settings, "delivery.timeout.ms")
    given = given if given is not None else _ms(settings, "message.timeout.ms")
    return given == 0 and exp.producer.client not in _FLOORED


def _ms(settings: Mapping[str, object], key: str) -> int | None:
    try:
        return int(str(settings[key]))
    except (KeyError, ValueError):
        return None


def _delivery_s(exp: Experiment) -> float:
    """How long the producer's client may take to decide a record, as the judge counts it
    (:func:`chaos.experiments.soak_judging.delivery_s`): the Java client and kafka-python raise a
    delivery timeout below ``linger.ms`` + ``request.timeout.ms`` to that sum."""
    settings = exp.producer.settings
    given = _ms(settings, "delivery.timeout.ms")
    given = given if given is not None else _ms(settings, "message.timeout.ms")
    if exp.producer.client in _FLOORED:
        floor = (_ms(settings, "linger.ms") or 0) + (_ms(settings, "request.timeout.ms") or _REQUEST_TIMEOUT_MS)
        return max(given if given is not None else _FLOORED[str(exp.producer.client)] * 1000, floor) / 1000
    return given / 1000 if given else TAIL_DELIVERY_S


def tail_span(exp: Experiment) -> float:
    """Seconds of records in flight at most, sent and not yet judged: the client's delivery timeout
    (:data:`TAIL_DELIVERY_S` unless it says), three periods (or windows, where longer) and :data:`TAIL_LAG_S`."""
    # the judge settles by the window, the faults come every period: the longer of the two
    period = max(exp.soak.every, exp.soak.window or 0.0) if exp.soak is not None else 0.0
    return _delivery_s(exp) + 3 * period + TAIL_LAG_S


def retention_s(exp: Experiment) -> float | None:
    """The ``retention.ms`` (in s) a releasing soak sets on its topic: twice the records in flight,
    :data:`MIN_RETENTION_S` at least, so the latest windows' records are still on the brokers' disks
    when Kafka's segment dump searches them for the verdict's examples. None: the soak releases
    nothing, or its file sets ``retention.ms`` or ``retention.bytes`` itself."""
    config = exp.topic.config
    if not releases(exp) or "retention.ms" in config or "retention.bytes" in config:
        return None
    return max(MIN_RETENTION_S, 2 * tail_span(exp))


def released_span(exp: Experiment) -> float | None:
    """Seconds of records the brokers hold at most under :func:`retention_s` (retention, a segment's
    roll, a retention check, a deleted file's delay); None: no retention is set."""
    retention = retention_s(exp)
    return None if retention is None else retention + SEGMENT_S + RETENTION_CHECK_S + FILE_DELETE_DELAY_S
