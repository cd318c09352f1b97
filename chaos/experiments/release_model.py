"""What an experiment says about Kafka releases: the Java client's release (``client_version:``),
the oldest releases its semantics need (``needs:``) and the known Kafka bug it is a regression row
of (``known_bug:``). ``docs/releases.md`` describes them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chaos.images.known_bug import KnownBugModel
from chaos.images.recipes import check_kafka_version


def _release(value: str) -> str:
    return check_kafka_version(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class NeedsModel(_Strict):
    """The oldest releases whose semantics the experiment needs; on an older one its row is "not
    applicable", never a failure. ``why`` says what the newer release brings."""

    kafka: str | None = None
    client: str | None = None
    #: The clients that speak what the row needs (e.g. the consumer group protocol): on any other
    #: client the row is "not applicable". None: every client.
    clients: list[str] | None = Field(None, min_length=1)
    why: str = Field(min_length=1)

    _check = field_validator("kafka", "client")(lambda v: v if v is None else _release(v))


__all__ = ["KnownBugModel", "NeedsModel"]
