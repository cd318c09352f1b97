"""The fault schedule and phase timings of an experiment file (part of :mod:`.model`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FaultStepModel", "PhasesModel", "RandomFaultsModel"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class FaultStepModel(BaseModel):
    """One scheduled fault: ``kind`` with its parameters, injected at ``at`` s into the fault window,
    healed ``duration`` s later (no duration: at the end of the window)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str
    at: float = Field(0.0, ge=0)
    duration: float | None = Field(None, gt=0)
    name: str | None = None

    @property
    def params(self) -> dict[str, object]:
        """The fault's own parameters (everything but kind, at, duration and name)."""
        return dict(self.model_extra or {})


class RandomFaultsModel(_Strict):
    """A random schedule drawn from ``--seed``: ``count`` faults staggered over the fault window."""

    count: int = Field(ge=1, le=100)
    min_duration: float = Field(2.0, gt=0)
    max_duration: float = Field(10.0, gt=0)
    gap: float = Field(1.0, ge=0)
    kinds: list[dict[str, object]] | None = None


class PhasesModel(_Strict):
    """How long each phase lasts or may take, in seconds."""

    warmup: float = Field(5.0, ge=0, description="steady state before the first fault")
    steady_timeout: float = Field(90.0, gt=0, description="first acks (and processing) must come within this")
    fault_window: float | None = Field(None, gt=0, description="default: until the last fault heals")
    heal_timeout: float = Field(120.0, gt=0, description="full ISR again after healing")
    settle: float = Field(5.0, ge=0, description="workloads keep running after healing")
    stop_timeout: float = Field(90.0, gt=0, description="a bounded producer finishes, a stopped one exits")
    consume_timeout: float = Field(90.0, gt=0, description="consumers catch up after the producer stopped")
    consume_quiet: float = Field(
        3.0, gt=0, description="a consumer that processed nothing new for this long has caught up (or never will)"
    )
    drain_timeout: float = Field(180.0, gt=0, description="the drain reads every partition to its end")
