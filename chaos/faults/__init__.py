"""Faults that always heal: broker processes, clients, broker network (iptables, tc) and client
network (toxiproxy), run by a nemesis on fixed or seeded-random schedules."""

from chaos.faults.base import (
    REGISTRY,
    Fault,
    FaultContext,
    FaultError,
    Timeline,
    UnsupportedFault,
    load_kinds,
    make_fault,
    proxy_kinds,
)
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
    "load_kinds",
    "make_fault",
    "proxy_kinds",
    "random_schedule",
    "steps_from",
]

load_kinds()  # every module of this package registers its kinds
