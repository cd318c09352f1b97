"""Waiting for a steady state instead of sleeping: faults start once the workloads flow, and after
healing the run waits until they flow again (``docs/phases.md``: the ``steady`` and ``settle``
phases). The experiment's ``warmup`` and ``settle`` are upper bounds, not fixed sleeps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.errors import InfrastructureError
from chaos.experiments.phases import PhaseTimeout
from chaos.experiments.plan import Plan
from chaos.waiting import Flowing, wait_at_most, wait_until
from chaos.workloads.totals import Totals

if TYPE_CHECKING:
    from chaos.experiments.executor import Execution


def wait_flowing(ex: Execution, acks: bool, upper: float, for_s: float = 1.0) -> float:
    """Wait until the producers' acks (``acks=False``: sends) and the records the consumers are
    given (or, for a member that writes no poll count, process) have risen at every check for
    ``for_s`` seconds, or a producer has finished; ``upper`` seconds at most. Returns the seconds
    waited.

    A fixed sleep waits as long when the workloads flow at once, and too little when they do not.
    Polls rather than processing: a consumer that buffers a minute of records before it processes
    them flows all the while.
    """
    now: list[Totals] = []
    producing = Flowing(lambda: int(getattr(now[-1], "acked" if acks else "sent")), for_s)
    polling = Flowing(lambda: now[-1].polled, for_s)
    processing = Flowing(lambda: now[-1].processed, for_s)
    producers, consumers = ex.workloads("producer"), ex.workloads("consumer")

    def flowing() -> bool:
        now[:] = [ex.totals()]
        # every counter sampled at every check, so a rise is always against the previous check
        sending, polled, processed = producing(), polling(), processing()
        consuming = polled or processed
        done = any(not p.alive for p in producers)  # a bounded producer that has finished
        return (done or sending) and (not consumers or done or consuming)

    return wait_at_most(flowing, upper)


def steady(ex: Execution, plan: Plan) -> None:
    """First acks (a producer that dies first fails the phase), a consumer polling, then the
    workloads flowing (``warmup`` at most).

    Raises:
        PhaseTimeout: no first ack, or no first poll, within ``steady_timeout``.
        InfrastructureError: a producer exited with an error before its first ack.
    """
    producers = ex.workloads("producer")

    def first_acks() -> bool:
        for p in producers:
            if not p.alive and p.proc is not None and p.proc.returncode not in (0, None):
                raise InfrastructureError(f"{p.name} exited with {p.proc.returncode}:\n{p.log_tail()}")
        return not plan.expects_acks or ex.totals().acked > 0

    budget = plan.budgets.steady_timeout
    wait_until(first_acks, budget, "the producer's first acknowledged records", error=PhaseTimeout)
    if plan.consumers:
        # A member that has been given records is in its group and consuming (it may process and
        # commit much later): faults must not start before that.
        ledgers = ex.run_dir / "ledgers"
        polled = lambda: any(ledgers.glob("consumer-*.polled"))  # noqa: E731
        wait_until(polled, budget, "the consumer group's first polled records", error=PhaseTimeout)
    wait_flowing(ex, plan.expects_acks, plan.budgets.warmup)
