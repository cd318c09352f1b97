"""One engine's share of a suite spread over several engines (:mod:`.engines`): a child process of
the harness whose ``DOCKER_HOST`` names its engine.

Reads a :class:`~.engine_jobs.WorkerSetup` line, then one :class:`~.engine_jobs.Job` line at a time
from stdin; runs each as ``kafka-chaos run`` runs a suite's (:class:`~.runner.ExperimentRun` on a
pool of one cluster per shape, reset between runs) and answers with its
:class:`~chaos.results.RunResult` on stdout. At the end of stdin it removes its clusters and exits 0.
Ctrl-C (SIGINT, which the harness sends it) stops the current run after healing and tearing down,
removes its clusters, and exits 130.

Everything else the run prints goes to stderr, which is the harness's: stdout carries only the
answers. Run as ``python -m chaos.experiments.engine_worker``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from chaos import rundir
from chaos.errors import Interrupted
from chaos.experiments.engine_jobs import Job, WorkerSetup, decode, encode
from chaos.experiments.pool import ClusterPool
from chaos.experiments.runner import ExperimentRun
from chaos.progress import Progress, StderrProgress, silent
from chaos.signals import sigterm_raises

#: The exit code of a worker stopped by Ctrl-C or SIGTERM (a shell's for SIGINT).
EXIT_INTERRUPTED = 130


def labelled(progress: Progress, engine: str) -> Progress:
    """``progress`` with each line saying which engine it comes from.

    >>> lines: list[str] = []
    >>> labelled(lines.append, "unix:///run/d2.sock")("b1: drain")
    >>> lines
    ['[unix:///run/d2.sock] b1: drain']
    """

    def say(message: str) -> None:
        progress(f"[{engine}] {message}")

    return say


def note_engine(run_json: Path, engine: str) -> None:
    """Add the engine to the run's ``run.json`` (``engine``), where there is one."""
    try:
        meta = json.loads(run_json.read_text())
    except (OSError, ValueError):
        return  # a run that never wrote its inputs
    meta["engine"] = engine
    run_json.write_text(json.dumps(meta, indent=2, sort_keys=True))


def serve(setup: WorkerSetup, jobs: BinaryIO, answers: BinaryIO) -> None:
    """Run each job read from ``jobs`` and write its result to ``answers``, until ``jobs`` ends.

    Every cluster it started is removed at the end, also after Ctrl-C or SIGTERM (which propagate).

    Raises:
        ValueError: a line of ``jobs`` is not a :class:`Job`.
    """
    progress = silent if setup.quiet else labelled(StderrProgress(), setup.engine)
    options = replace(setup.options, progress=progress)
    pool = ClusterPool.under(setup.suite_dir, fresh=options.fresh_cluster, progress=progress)
    bus = options.bus()
    try:
        for line in iter(jobs.readline, b""):
            job = decode(line)
            if not isinstance(job, Job):
                raise ValueError(f"expected a job, got {type(job).__name__}")
            item = job.item
            run = ExperimentRun(
                item.experiment,
                setup.suite_dir / job.name,
                replace(options, seed=job.seed),
                item.path,
                job.repetition,
                bus=bus,
                pool=pool,
                label=item.label,
            )
            result = run.run()
            note_engine(result.run_dir / rundir.RUN, setup.engine)
            answers.write(encode(result))
            answers.flush()
    finally:
        pool.close()


def main() -> int:
    """The worker's process: stdout kept for the answers, everything printed sent to stderr.

    Raises:
        ValueError: the first line is not a :class:`WorkerSetup`.
    """
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not break an answer
    setup = decode(sys.stdin.buffer.readline())
    if not isinstance(setup, WorkerSetup):
        raise ValueError(f"expected a worker setup, got {type(setup).__name__}")
    try:
        with sigterm_raises():
            serve(setup, sys.stdin.buffer, answers)
    except (KeyboardInterrupt, Interrupted):
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
