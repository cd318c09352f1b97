"""A known Kafka bug and the releases it affects: an experiment's ``known_bug:`` (the file is a
regression row of that bug), as ``run.json`` records it too. It lives below the experiments so the
reporters, which never import them, judge a recorded bug with the same ``affects``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chaos.images.recipes import check_kafka_version, version_key

_JIRA = r"^KAFKA-\d{1,6}$"


def _release(value: str) -> str:
    return check_kafka_version(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class KnownBugModel(_Strict):
    """A Kafka bug the experiment reproduces: it fails on an affected release, holds on a fixed one.

    ``side``: whose release decides — the Java client's (``client``) or the cluster's (``broker``).
    ``fixed_in``: the first release with the fix on each line it was fixed on (a release of a line
    newer than all of them is fixed too). ``introduced``: the first affected release, when known.
    """

    id: str = Field(pattern=_JIRA)
    title: str = Field(min_length=1)
    side: Literal["client", "broker"]
    fixed_in: list[str] = Field(min_length=1)
    introduced: str | None = None

    _check_fixed = field_validator("fixed_in")(lambda vs: [_release(v) for v in vs])
    _check_introduced = field_validator("introduced")(lambda v: v if v is None else _release(v))

    @property
    def url(self) -> str:
        """The bug's page in Kafka's JIRA."""
        return f"https://issues.apache.org/jira/browse/{self.id}"

    def affects(self, version: str) -> bool:
        """Whether ``version`` has the bug: from ``introduced`` on, unless a fix of its own line is
        at or below it, or its line is newer than every fixed line.

        >>> bug = KnownBugModel(id="KAFKA-1", title="t", side="client", fixed_in=["3.9.1", "4.0.0"])
        >>> [bug.affects(v) for v in ("3.8.1", "3.9.0", "3.9.1", "4.0.0", "4.2.0")]
        [True, True, False, False, False]
        """
        v = version_key(version)
        if self.introduced is not None and v < version_key(self.introduced):
            return False
        fixes = [version_key(f) for f in self.fixed_in]
        if v[:2] > max(f[:2] for f in fixes):
            return False
        return not any(f[:2] == v[:2] and v >= f for f in fixes)

    def fixed_line(self) -> str:
        """The releases that carry the fix, in words.

        >>> KnownBugModel(id="KAFKA-1", title="t", side="broker", fixed_in=["4.0.1", "3.9.1"]).fixed_line()
        'fixed in 3.9.1, 4.0.1 and every newer line'
        """
        ordered = sorted(self.fixed_in, key=version_key)
        return f"fixed in {', '.join(ordered)} and every newer line"
