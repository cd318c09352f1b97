"""The names of the files and folders in a run directory and a suite directory, in one place.

docs/run-directory.md says who writes each, when, and who reads it; every module that opens one of
them spells its name through this module, so a rename is one line and a test can list them all.
"""

from __future__ import annotations

# A run directory.
EXPERIMENT = "experiment.yaml"
RUN = "run.json"
#: The configuration in force: every broker's and the topic's settings, the cluster's id.
CLUSTER_CONFIG = "cluster-config.json"
EXPECTATIONS = "expectations.json"
PHASES = "phases.json"
TIMELINE = "timeline.jsonl"
WORKLOADS = "workloads"
OUTBOX = "outbox"
LEDGERS = "ledgers"
DRAIN = "drain"
VERDICT = "verdict.json"
ERROR = "error.txt"
LOGS = "logs"
APPLICATION = "application"
APPLICATION_META = "application.json"
WATCH = "watch"
#: A soak's windows and summary (docs/soak.md).
SOAK = "soak"

# Inside ``watch/``.
PROGRESS = "progress.jsonl"

# Inside ``soak/``.
SOAK_WINDOWS = "windows.jsonl"
SOAK_SUMMARY = "soak.json"
SOAK_MARKDOWN = "soak.md"
#: ``soak/judged.jsonl``: each window's fates, judged while the soak ran (docs/soak.md).
SOAK_JUDGED = "judged.jsonl"
#: In ``ledgers/``: the rows of each ledger a soak released once judged (docs/ledgers.md).
RELEASED = "released.json"
#: ``drain/tail/``: a soak's tail reader's segments, removed once judged.
TAIL = "tail"

# Inside ``drain/``.
DRAIN_LOG = "log.bin"
DRAIN_META = "drain.json"
DRAIN_COMMITTED = "committed.bin"
DRAIN_OUTPUT = "output.bin"
DRAIN_OUTPUT_META = "output.json"
DRAIN_OUTPUT_TIMES = "output-times.bin"
WITNESS = "witness.json"
KAFKA_OFFSETS = "kafka-offsets.json"

# The reports written next to the data, in a run, suite or validate directory.
JUNIT = "junit.xml"
SUMMARY = "summary.md"
REPORT = "report.html"

# A suite directory and a validate directory.
SUITE = "suite.json"
CLUSTERS = "clusters"
VALIDATE = "validate.json"
VALIDATE_MD = "validate.md"
VALIDATE_SARIF = "validate.sarif"
