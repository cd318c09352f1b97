"""A run's application, between its start and its stop: has it begun to consume, has it caught up.

Each helper takes what it looks at as a callable (the output topic's record count, the group's lag),
never the executor; the executor passes its own (:mod:`chaos.experiments.executor`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from chaos import rundir
from chaos.experiments.plan import TopicPlan
from chaos.waiting import wait_until
from chaos.workloads.application import ApplicationError, AppSpec, HostApplication
from chaos.workloads.ledger import write_meta
from docker import DockerClient

#: Seconds between two looks at the output topic or the group.
LOOK_EVERY = 0.5
#: Settings of the input topic its output topic does not take (prefixes).
DROPPED_OUTPUT_CONFIG = ("cleanup.policy", "retention.", "delete.retention", "segment.", "message.timestamp")


def output_records(bootstrap: str, topic: str) -> Callable[[], int]:
    """How many records the output ``topic`` holds now (the sum of its end offsets; -1: no answer)."""

    def count() -> int:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), client_id="kafka-chaos-app-watch")
        try:
            parts = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts]) if parts else {}
            return sum(int(o) for o in ends.values())
        except KafkaError:
            return -1
        finally:
            consumer.close()

    return count


def group_lag(bootstrap: str, topic: str, group: str) -> Callable[[], int]:
    """How many records of ``topic`` lie above ``group``'s committed offsets (-1: no answer)."""

    def lag() -> int:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), client_id="kafka-chaos-app-watch")
        admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="kafka-chaos-app-watch")
        try:
            parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in parts]
            ends = consumer.end_offsets(tps)
            offsets = admin.list_group_offsets({group: None}).get(group, {})
            committed = {tp.partition: int(om.offset) for tp, om in offsets.items() if tp.topic == topic}
            return sum(max(0, int(ends[tp]) - max(0, committed.get(tp.partition, 0))) for tp in tps)
        except KafkaError:
            return -1
        finally:
            consumer.close()
            admin.close()

    return lag


def group_members(bootstrap: str, group: str) -> Callable[[], int]:
    """How many members ``group`` has while it is stable (0: it is not, or no answer)."""

    def members() -> int:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="kafka-chaos-app-watch")
        try:
            found: dict[str, object] = dict(admin.describe_groups([group]).get(group) or {})
            state = str(found.get("group_state") or found.get("state") or "")
            listed = found.get("members")
            return len(listed) if isinstance(listed, list) and state.lower() == "stable" else 0
        except KafkaError:
            return 0
        finally:
            admin.close()

    return members


def _exited(apps: Sequence[HostApplication]) -> HostApplication | None:
    return next((a for a in apps if a.starts and not a.alive), None)


def _log_hint(app: HostApplication) -> str:
    lines = [line for line in app.log_tail(12).splitlines() if line.strip() and not line.startswith("--- start ")]
    tail = " | ".join(lines[-6:])
    return f"see {app.log_path}" + (f"; it ended with: {tail[-400:]}" if tail else " (it printed nothing)")


def wait_joined(spec: AppSpec, apps: Sequence[HostApplication], members: Callable[[], int]) -> int:
    """Wait until the application's group is stable with a member, so no input is written before it
    reads (an application that starts from the end would skip it); returns the members.

    Raises:
        ApplicationError: an instance exited, or the group was not stable within the start timeout.
    """

    def joined() -> int | None:
        gone = _exited(apps)
        if gone is not None:
            raise ApplicationError(
                f"{gone.name} exited with code {gone.exit_code} before it joined its group: {_log_hint(gone)}"
            )
        return members() or None

    def never(_: str) -> ApplicationError:
        return ApplicationError(
            f"the application did not join its consumer group {spec.group} within {spec.start_timeout:g} s "
            f"(start_timeout): does it consume {spec.input_topic} with that group.id (give its own as "
            f"group: in the application section)? {_log_hint(apps[0])}"
        )

    return wait_until(joined, spec.start_timeout, "the application's group", interval=LOOK_EVERY, error=never)


def wait_consuming(spec: AppSpec, apps: Sequence[HostApplication], outputs: Callable[[], int]) -> int:
    """Wait until the application has written its first output; returns the outputs then.

    Raises:
        ApplicationError: an instance exited, or no output came within the spec's start timeout,
            naming its log.
    """

    def first() -> int | None:
        gone = _exited(apps)
        if gone is not None:
            raise ApplicationError(
                f"{gone.name} exited with code {gone.exit_code} before it wrote an output: {_log_hint(gone)}"
            )
        n = outputs()
        return n if n > 0 else None

    def never(_: str) -> ApplicationError:
        return ApplicationError(
            f"the application wrote nothing to {spec.output_topic} within {spec.start_timeout:g} s of its start "
            f"(start_timeout): does it consume {spec.input_topic} and write {spec.output_topic}? {_log_hint(apps[0])}"
        )

    return wait_until(first, spec.start_timeout, "the application's first output", interval=LOOK_EVERY, error=never)


def wait_caught_up(
    outputs: Callable[[], int], lag: Callable[[], int], timeout: float, quiet: float, note: Callable[[str], None]
) -> None:
    """Wait until the application's group has committed everything in its input and its output
    count has not moved for ``quiet`` seconds (a worker may still write after the commit), at most
    ``timeout``; a note says when it did not."""
    deadline = time.monotonic() + timeout
    last, still_since = outputs(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(LOOK_EVERY)
        now = outputs()
        if now != last:
            last, still_since = now, time.monotonic()
            continue
        if time.monotonic() - still_since >= quiet and lag() == 0:
            return
    note(f"the application had not caught up after {timeout:g} s (lag {lag()}, outputs {last}): it is judged as it is")


class Applications:
    """A run's application instances (``application-<n>``): started before the producers, killed
    with the rest, stopped once caught up. Its output topic is created shaped like ``topic`` with
    the brokers' append times (each output's time is when it was written); ``ledgers/application.json``
    says what it is (never its environment's values). ``docker`` gives the engine's client where the
    spec names an image.

    Raises (on construction):
        ClusterUnhealthy: the output topic did not reach its full ISR.
    """

    def __init__(
        self,
        spec: AppSpec,
        topic: TopicPlan,
        run_dir: Path,
        create_topic: Callable[[str, int, int, dict[str, str]], None],
        docker: Callable[[], DockerClient],
    ) -> None:
        self.spec = spec
        # the input's durability settings, never its retention or compaction: an output removed
        # before the drain would be an input without output
        kept = {k: v for k, v in topic.config.items() if not k.startswith(DROPPED_OUTPUT_CONFIG)}
        config = {**kept, "message.timestamp.type": "LogAppendTime"}
        create_topic(spec.output_topic, topic.partitions, topic.replication_factor, config)
        write_meta(run_dir / rundir.LEDGERS / rundir.APPLICATION_META, spec.describe())
        made: list[HostApplication] = []
        for i in range(spec.instances):
            if spec.image is None:
                made.append(HostApplication(spec, i))
            else:
                from chaos.workloads.app_container import ContainerApplication

                made.append(ContainerApplication(spec, i, docker()))
        self.instances = {app.name: app for app in made}
        self.outputs = output_records(spec.bootstrap_servers, spec.output_topic)
        self.lag = group_lag(spec.bootstrap_servers, spec.input_topic, spec.group)

    def start(self) -> None:
        """Start every instance not running and wait until the group is stable with them, so no
        input is written before it reads. Raises ApplicationError: one cannot be run, or never joined."""
        for app in self.instances.values():
            if not app.alive:
                app.start()
        self.wait_joined()

    def wait_joined(self) -> int:
        """:func:`wait_joined` on every instance. Raises ApplicationError."""
        members = group_members(self.spec.bootstrap_servers, self.spec.group)
        return wait_joined(self.spec, list(self.instances.values()), members)

    def wait_consuming(self) -> int:
        """:func:`wait_consuming` on every instance. Raises ApplicationError."""
        return wait_consuming(self.spec, list(self.instances.values()), self.outputs)

    def stop(self, timeout: float, quiet: float, note: Callable[[str], None]) -> None:
        """Let the application catch up (at most ``timeout``), then stop every instance cleanly."""
        if any(app.alive for app in self.instances.values()):
            wait_caught_up(self.outputs, self.lag, timeout, quiet, note)
        for app in self.instances.values():
            app.stop()
            if app.escalated:
                note(f"{app.name} did not stop within {self.spec.stop_timeout:g} s of SIGTERM and was killed")

    def kill_all(self) -> None:
        """SIGKILL every instance (and remove a container)."""
        for app in self.instances.values():
            app.kill()
            app.remove()
