"""The fault schedule and phase timings of an experiment file (part of :mod:`.model`)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["FaultStepModel", "PhasesModel", "RandomFaultsModel", "SoakModel"]


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

    count: int = Field(ge=1, le=400_000)  # a week's soak with a fault every 2 s
    min_duration: float = Field(2.0, gt=0)
    max_duration: float = Field(10.0, gt=0)
    gap: float = Field(1.0, ge=0)
    kinds: list[dict[str, object]] | None = None


class SoakModel(_Strict):
    """A soak (``docs/soak.md``): the workloads run ``duration`` s while, every ``every`` s, either a
    fault drawn from the seed (from ``kinds``) acts for ``hold`` s (``schedule: draw``), or the
    fault ``steps`` play again, timed within the period (``schedule: repeat``); each is healed
    before the next period. The run is watched and reported per ``window`` s (default: ``every``)."""

    duration: float = Field(gt=0, le=7 * 86_400)
    every: float = Field(30.0, ge=2)
    schedule: Literal["draw", "repeat"] = "draw"
    hold: float | None = Field(None, gt=0, description="default: 10 s, or a third of every when shorter")
    window: float | None = Field(None, ge=1)
    verdict: Literal["windows", "whole"] = Field(
        "windows",
        description="windows: the verdict is the judged windows' sum, no final drain or whole reconcile "
        "(bounded memory; where a window was not judged, the whole run's if the ledgers were kept, else "
        "inconclusive); whole: the whole run reconciled too",
    )
    ledgers: Literal["release", "keep"] = Field(
        "release",
        description="release: with the windows' verdict, each judged window's producer ledger rows are released "
        "and their disk freed, and the topic has a retention (a window then judged unsure makes the verdict "
        "inconclusive: no whole reconcile can replace it); keep: every row and record is kept",
    )
    kinds: list[dict[str, object]] | None = None
    steps: list[FaultStepModel] | None = None

    @model_validator(mode="before")
    @classmethod
    def _schedule(cls, data: object) -> object:
        """Steps given and no schedule named: they repeat."""
        if isinstance(data, dict) and "schedule" not in data and data.get("steps"):
            return {**data, "schedule": "repeat"}
        return data

    @model_validator(mode="after")
    def _fits(self) -> Self:
        # a schedule that cannot be drawn or repeated is refused here, naming soak
        if self.schedule == "repeat":
            if self.hold is not None or self.kinds is not None:
                raise ValueError("hold and kinds are for schedule: draw; a repeated soak's steps have their own")
            self.repeated()
        else:
            if self.steps is not None:
                raise ValueError("steps are for schedule: repeat; a drawing soak draws from kinds")
            self.random_faults()
        return self

    @property
    def periods(self) -> int:
        """How many periods the soak holds."""
        return int(self.duration // self.every)

    def repeated(self) -> list[FaultStepModel]:
        """``steps`` once per period, each named after its period (``<name>-<period>``).

        Raises:
            ValueError: no steps, a step without a duration, or steps that do not heal at least
                1 s before the next period starts.
        """
        if not self.steps:
            raise ValueError("a repeated soak needs steps: the fault steps to play every period")
        if self.duration < self.every:
            raise ValueError(f"duration ({self.duration:g} s) is shorter than one period (every: {self.every:g} s)")
        if any(s.duration is None for s in self.steps):
            raise ValueError("every step of a repeated soak needs a duration: it heals before the next period")
        span = max(s.at + (s.duration or 0.0) for s in self.steps)
        if span > self.every - 1:
            raise ValueError(f"the steps heal {span:g} s into a period: every must be at least {span + 1:g} s")
        names = [step.name or f"{step.kind}-{j}" for j, step in enumerate(self.steps)]
        if len(set(names)) < len(names):
            raise ValueError(f"two steps are named {max(names, key=names.count)!r}: give each step its own name")
        # distinct names stay distinct numbered by period: a name, a dash and an integer parse one way
        return [
            step.model_copy(update={"at": i * self.every + step.at, "name": f"{name}-{i}"})
            for i in range(self.periods)
            for name, step in zip(names, self.steps, strict=True)
        ]

    @property
    def hold_s(self) -> float:
        """How long each fault acts."""
        return self.hold if self.hold is not None else min(10.0, round(self.every / 3, 1))

    @property
    def window_s(self) -> float:
        """The watch's window in seconds."""
        return self.window or self.every

    def random_faults(self) -> RandomFaultsModel:
        """The schedule as random faults: one per ``every`` s, each starting its slot, ``hold`` s long.

        Raises:
            ValueError: ``hold`` leaves less than a second to heal before the next, or ``duration``
                is shorter than one period.
        """
        hold = self.hold_s
        if hold > self.every - 1:
            raise ValueError(f"hold ({hold:g} s) must end at least 1 s before the next fault ({self.every:g} s)")
        if self.duration < self.every:
            raise ValueError(f"duration ({self.duration:g} s) is shorter than one period (every: {self.every:g} s)")
        count = int(self.duration // self.every)
        return RandomFaultsModel(
            count=count, min_duration=hold, max_duration=hold, gap=self.every - hold, kinds=self.kinds
        )


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
