"""What a suite spread over several engines (:mod:`.engines`) sends an engine's worker
(:mod:`.engine_worker`) and gets back: one line each, a pickled object in base64.

Both ends are this package, the worker a child process of the harness, so nothing else ever writes
or reads these lines (pickle is safe here, and carries a :class:`~chaos.results.RunResult` with its
typed verdict whole).
"""

from __future__ import annotations

import base64
import pickle
from dataclasses import dataclass
from pathlib import Path

from chaos.experiments.loading import LoadedExperiment
from chaos.experiments.options import RunOptions


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """The first line a worker reads: where the suite's runs go and how they run."""

    #: The suite's directory: each run's directory is ``<suite_dir>/<job name>``, its clusters' logs
    #: ``<suite_dir>/clusters/<cluster id>/``.
    suite_dir: Path
    #: The suite's options, without progress and listeners (the worker has its own).
    options: RunOptions
    #: The engine, as ``--engines`` named it, for the worker's progress lines.
    engine: str
    #: No progress lines (``-q``).
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    """One run of a suite: an experiment, its repetition and seed, and its directory's name."""

    #: Its place in the suite (the reports list the runs in this order, whichever engine ran them).
    index: int
    item: LoadedExperiment
    #: The run directory's name: the row's label, with ``-N`` for repetition N of several.
    name: str
    repetition: int = 1
    seed: int = 0
    #: Its cluster's shape (:func:`chaos.experiments.pool.shape`): runs of one shape share a cluster.
    shape: str = ""


def encode(value: object) -> bytes:
    """One line carrying ``value``.

    >>> decode(encode({"a": 1}))
    {'a': 1}
    """
    return base64.b64encode(pickle.dumps(value)) + b"\n"


def decode(line: bytes) -> object:
    """The value :func:`encode` put in ``line``.

    Raises:
        ValueError: ``line`` is not one :func:`encode` wrote (e.g. cut short by a worker's death).
    """
    try:
        return pickle.loads(base64.b64decode(line.strip(), validate=True))
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"not a line of the engine protocol: {e}") from e
