"""The loss oracle: reconcile a run directory's ledgers and drain into a verdict."""

from chaos.oracle.expectations import Expectation, parse_expectation, parse_expectations
from chaos.oracle.reconcile import reconcile, reconcile_and_write
from chaos.oracle.verdict import Verdict

__all__ = ["Expectation", "Verdict", "parse_expectation", "parse_expectations", "reconcile", "reconcile_and_write"]
