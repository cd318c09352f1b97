"""Faults that always heal: broker processes, clients, broker network (iptables, tc) and client
network (toxiproxy), run by a nemesis on fixed or seeded-random schedules."""

from chaos.faults import client, network, process, toxics  # noqa: F401 - registers the fault kinds
from chaos.faults.base import REGISTRY, Fault, FaultContext, FaultError, Timeline, UnsupportedFault, make_fault
from chaos.faults.schedule import Nemesis, Step, random_schedule, steps_from

__all__ = [
    "REGISTRY",
    "Fault",
    "FaultContext",
    "FaultError",
    "Nemesis",
    "Step",
    "Timeline",
    "UnsupportedFault",
    "make_fault",
    "random_schedule",
    "steps_from",
]
