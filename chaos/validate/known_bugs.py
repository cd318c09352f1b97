"""Known Kafka bugs that lose or duplicate records, each reproduced by a regression row in
``experiments/`` (``known_bug:`` in the file, the same as here: ``tests/unit/test_known_bugs.py``
holds the two together), judged against a team's releases.
"""

from __future__ import annotations

from chaos.images.known_bug import KnownBugModel
from chaos.validate.output import KnownBug

#: (regression row, the bug it reproduces), in the order of the rows.
KNOWN_BUGS: tuple[tuple[str, KnownBugModel], ...] = (
    (
        "k1-kafka-18641-new-consumer-commits-before-processing",
        KnownBugModel(
            id="KAFKA-18641",
            title="the new consumer auto-commits from its background thread records the application is "
            "still processing",
            side="client",
            introduced="3.7.0",
            fixed_in=["4.0.0"],
        ),
    ),
    (
        "k2-kafka-8350-oversized-batch-split-forever",
        KnownBugModel(
            id="KAFKA-8350",
            title="a batch refused as too large is split at batch.size, not below the topic's max.message.bytes, "
            "and never sent",
            side="client",
            fixed_in=["4.2.0"],
        ),
    ),
)


def judged(kafka_version: str, client_version: str | None = None, client: str = "java") -> list[KnownBug]:
    """Every known bug that can touch a team on ``client``, judged against a cluster of
    ``kafka_version`` and a Java client of ``client_version`` (None: the cluster's release); a bug
    of the Java client is left out for a team on another client."""
    found = []
    for row, bug in KNOWN_BUGS:
        if bug.side == "client" and client != "java":
            continue
        release = (client_version or kafka_version) if bug.side == "client" else kafka_version
        found.append(
            KnownBug(
                id=bug.id,
                title=bug.title,
                url=bug.url,
                side=bug.side,
                release=release,
                affected=bug.affects(release),
                fixed_in=sorted(bug.fixed_in),
                row=row,
            )
        )
    return found
