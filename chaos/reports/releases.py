"""What a run says about its releases, as every report shows it.

``run.json`` names the cluster's Kafka release (``kafka_version``) and each client's
(``client_versions``); ``release`` adds what that release had in force: its finalized feature
levels, its group protocols and its defaults for the loss-relevant keys the run did not set;
``known_bug`` is the Kafka bug a regression row reproduces, judged here for the release that decides
it (the Java client's for a client bug, the cluster's for a broker bug). A run directory from before
these fields has none of them, and each function then says nothing. Everything reads ``run.json``
as a mapping, so a run's own report and the suite's grid say the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chaos.images.known_bug import KnownBugModel
from chaos.images.recipes import version_key
from chaos.reports.words import ICON


class _Recorded(BaseModel):
    # keys this version does not show are ignored: a newer harness may record more of a release
    model_config = ConfigDict(extra="ignore", frozen=True)


class DefaultInForce(_Recorded):
    """A release's default for a loss-relevant key the run did not set (``release.defaults``)."""

    kind: str
    key: str
    value: str | int | float | bool | None
    release: str

    @property
    def text(self) -> str:
        """The value as a properties file writes it (``true``, not ``True``; ``null`` for none)."""
        if self.value is None:
            return "null"
        return str(self.value).lower() if isinstance(self.value, bool) else str(self.value)


class ReleaseFacts(_Recorded):
    """``run.json``'s ``release``: what the cluster's release had in force during the run."""

    features: dict[str, int | str] = Field(default_factory=dict)
    group_protocols: list[str] = Field(default_factory=list)
    defaults: list[DefaultInForce] = Field(default_factory=list)


def release_facts(meta: Mapping[str, Any]) -> ReleaseFacts | None:
    """``run.json``'s ``release``, typed (None when the run directory has none).

    Raises:
        pydantic.ValidationError: it does not fit :class:`ReleaseFacts`.
    """
    data = meta.get("release")
    return None if data is None else ReleaseFacts.model_validate(data)


def known_bug(meta: Mapping[str, Any]) -> KnownBugModel | None:
    """``run.json``'s ``known_bug``, typed (None: the row reproduces no known bug).

    Raises:
        pydantic.ValidationError: it does not fit :class:`~chaos.images.known_bug.KnownBugModel`.
    """
    data = meta.get("known_bug")
    return None if data is None else KnownBugModel.model_validate(data)


class _Fields(_Recorded):
    release: ReleaseFacts | None = None
    known_bug: KnownBugModel | None = None


def check(meta: Mapping[str, Any]) -> None:
    """Read ``release`` and ``known_bug`` once, so a report never half-renders a broken one.

    Raises:
        pydantic.ValidationError: one of them does not fit its model (located from ``run.json``'s
            top, e.g. ``known_bug.side``).
    """
    _Fields.model_validate({"release": meta.get("release"), "known_bug": meta.get("known_bug")})


def kafka_release(meta: Mapping[str, Any]) -> str:
    """The cluster's Kafka release ("" in a run directory from before it was recorded)."""
    return str(meta.get("kafka_version") or "")


def client_versions(meta: Mapping[str, Any]) -> dict[str, str]:
    """Each client's release by package name (empty in a run directory from before it was recorded)."""
    found = meta.get("client_versions")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def versions_line(meta: Mapping[str, Any]) -> str:
    """The cluster's release and each client's, in one line ("" when none is recorded).

    >>> versions_line({"kafka_version": "4.4.0", "client_versions": {"kafka-clients": "3.9.1"}})
    'Kafka 4.4.0 · kafka-clients 3.9.1'
    >>> versions_line({"client_versions": {"confluent-kafka": "2.16.1", "librdkafka": "2.16.0"}})
    'confluent-kafka 2.16.1 · librdkafka 2.16.0'
    """
    release = kafka_release(meta)
    parts = [f"Kafka {release}"] if release else []
    return " · ".join([*parts, *(f"{name} {v}" for name, v in client_versions(meta).items())])


def features_line(facts: ReleaseFacts) -> str:
    """The finalized feature levels, as recorded ("" when none).

    >>> features_line(ReleaseFacts(features={"metadata.version": 27, "transaction.version": 2}))
    'metadata.version 27, transaction.version 2'
    """
    return ", ".join(f"{name} {level}" for name, level in facts.features.items())


def defaults_line(facts: ReleaseFacts) -> str:
    """The defaults in force for keys the run did not set, each with the release it comes from.

    >>> defaults_line(ReleaseFacts(defaults=[DefaultInForce(kind="producer", key="linger.ms", value="5",
    ...                                                     release="4.4.0")]))
    'producer linger.ms=5 (4.4.0)'
    """
    return ", ".join(f"{d.kind} {d.key}={d.text} ({d.release})" for d in facts.defaults)


def release_items(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What a run's own report says of its releases, ``(what, text)`` each: the releases, then (when
    ``run.json`` has ``release``) the feature levels, the group protocols and the defaults in force.

    >>> release_items({"kafka_version": "4.4.0", "release": {"group_protocols": ["classic", "consumer"]}})
    [('releases', 'Kafka 4.4.0'), ('group protocols', 'classic, consumer')]
    """
    items = [("releases", versions_line(meta))]
    facts = release_facts(meta)
    if facts is not None:
        items += [
            ("feature levels", features_line(facts)),
            ("group protocols", ", ".join(facts.group_protocols)),
            ("defaults in force (keys the run did not set)", defaults_line(facts)),
        ]
    return [(what, text) for what, text in items if text]


@dataclass(frozen=True, slots=True)
class BugOnRelease:
    """A known bug and the release of the run that decides whether it is there."""

    bug: KnownBugModel
    #: Whose release decides: ``Kafka`` (a broker bug) or ``kafka-clients`` (a Java client bug).
    who: str
    #: That release; "" when the run has none (a client bug on a run without the Java client).
    release: str

    @property
    def affected(self) -> bool | None:
        """Whether the run's release has the bug (None: the run has no release that decides)."""
        return self.bug.affects(self.release) if self.release else None

    @property
    def predicted(self) -> str | None:
        """The status the bug predicts: ``failed`` where it is, ``passed`` where it is not."""
        return None if self.affected is None else ("failed" if self.affected else "passed")

    def _before(self) -> bool:
        introduced = self.bug.introduced
        return bool(introduced and version_key(self.release) < version_key(introduced))

    def standing(self) -> str:
        """Whether the release is affected, in words.

        >>> bug = KnownBugModel(id="KAFKA-1", title="t", side="broker", fixed_in=["4.0.1"])
        >>> BugOnRelease(bug, "Kafka", "4.0.0").standing(), BugOnRelease(bug, "Kafka", "4.1.0").standing()
        ('Kafka 4.0.0: this release is affected', 'Kafka 4.1.0: not affected (fixed in 4.0.1 and every newer line)')
        """
        if not self.release:
            return f"the run names no {self.who} release to judge it by"
        if self.affected:
            return f"{self.who} {self.release}: this release is affected"
        if self._before():
            return f"{self.who} {self.release}: not affected (introduced in {self.bug.introduced})"
        return f"{self.who} {self.release}: not affected ({self.bug.fixed_line()})"

    def cell(self) -> str:
        """The bug in a grid cell: whether this release has it.

        >>> bug = KnownBugModel(id="KAFKA-19012", title="t", side="client", fixed_in=["4.0.1"])
        >>> BugOnRelease(bug, "kafka-clients", "4.0.0").cell(), BugOnRelease(bug, "kafka-clients", "4.4.0").cell()
        ('KAFKA-19012 affects 4.0.0', 'KAFKA-19012 fixed in 4.4.0')
        """
        if not self.release:
            return f"{self.bug.id}: no {self.who} in this run"
        if self.affected:
            return f"{self.bug.id} affects {self.release}"
        return f"{self.bug.id} {'not yet in' if self._before() else 'fixed in'} {self.release}"

    def measured(self, status: str) -> str:
        """The run's outcome against the bug's prediction, in one sentence.

        >>> bug = KnownBugModel(id="KAFKA-1", title="t", side="broker", fixed_in=["4.0.1"])
        >>> affected, fixed = BugOnRelease(bug, "Kafka", "4.0.0"), BugOnRelease(bug, "Kafka", "4.0.1")
        >>> affected.measured("failed"), fixed.measured("failed")
        ('Measured: FAIL, as the bug predicts.', 'Measured: FAIL, not what the bug predicts.')
        """
        if status == "not_applicable":
            return "Measured: N/A (the row did not run on this release)."
        if status not in ("passed", "failed") or self.predicted is None:
            return f"Measured: {ICON.get(status, status)}."
        agrees = "as the bug predicts" if status == self.predicted else "not what the bug predicts"
        return f"Measured: {ICON[status]}, {agrees}."

    def sentence(self, status: str) -> str:
        """The bug's title, whether this release has it and what the run measured (after its id)."""
        return f"{self.bug.title.rstrip('.')}. {self.standing()}. {self.measured(status)}"


def bug_on_release(meta: Mapping[str, Any]) -> BugOnRelease | None:
    """The run's known bug with the release that decides it (None: the row reproduces no known bug).

    >>> found = bug_on_release({"kafka_version": "4.4.0", "client_versions": {"kafka-clients": "3.9.1"},
    ...     "known_bug": {"id": "KAFKA-19012", "title": "t", "side": "client", "fixed_in": ["3.9.1"]}})
    >>> found.who, found.release, found.affected
    ('kafka-clients', '3.9.1', False)

    Raises:
        pydantic.ValidationError: ``known_bug`` does not fit its model.
    """
    bug = known_bug(meta)
    if bug is None:
        return None
    if bug.side == "client":
        return BugOnRelease(bug, "kafka-clients", client_versions(meta).get("kafka-clients", ""))
    return BugOnRelease(bug, "Kafka", kafka_release(meta))
