"""Experiments: YAML files loaded into typed models (:mod:`.model`) and run phase by phase
(:mod:`.runner`)."""

from chaos.experiments.loading import LoadedExperiment, load_experiment, load_suite
from chaos.experiments.model import Experiment, ExperimentFileError
from chaos.experiments.runner import ExperimentRun, RunOptions, RunResult, SuiteResult, run_suite

__all__ = [
    "Experiment",
    "ExperimentFileError",
    "ExperimentRun",
    "LoadedExperiment",
    "RunOptions",
    "RunResult",
    "SuiteResult",
    "load_experiment",
    "load_suite",
    "run_suite",
]
