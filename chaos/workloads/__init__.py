"""Workloads: checksum-tagged producer and consumer processes, their ledgers, the drain and the
ledger totals. Record formats are written down in ``docs/ledgers.md``."""
