"""validate judges by the cluster release's own definitions: Kafka's ConfigDefs for keys and values,
Kafka's clients for the settings together, the harness's rules for loss and duplication.

Each case here is a false alarm or a miss of a hand-kept key list: a valid file must not fail, a file
Kafka refuses must be reported as refused, with Kafka's own message. These run the real release in a
JVM (no cluster, no network): the definitions come from the jars the Kafka image is built from. The
rough edges of the input, through the command line, are ``test_validate_kafka_input.py``'s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.images.kafka_configs import kafka_configs
from chaos.images.recipes import DEFAULT_KAFKA_VERSION
from chaos.validate import TeamConfig, parse_properties, read_properties, review
from chaos.validate.findings import BROKER_WIRING, Finding, Processing
from chaos.workloads.settings import HARNESS_OWNED, SECURITY_PREFIXES

pytestmark = pytest.mark.usefixtures("jdk")  # Kafka's own definitions and readers, run in a JVM

KAFKA_CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "kafka-config"
SAFE_CONSUMER = "enable.auto.commit=false\nauto.offset.reset=earliest\n"


def judge(
    producer: str = "",
    consumer: str = SAFE_CONSUMER,
    topic: str | None = None,
    broker: str | None = None,
    *,
    processing: Processing | None = None,
    process_ms: int | None = None,
    client: str = "java",
) -> TeamConfig:
    return review(
        parse_properties(producer, "producer.properties"),
        parse_properties(consumer, "consumer.properties"),
        parse_properties(topic, "topic.properties") if topic is not None else None,
        parse_properties(broker, "broker.properties") if broker is not None else None,
        client,
        processing=processing,
        process_ms=process_ms,
    )


def of(cfg: TeamConfig, setting: str) -> list[Finding]:
    return [f for f in cfg.findings if f.setting == setting]


def refused(cfg: TeamConfig) -> list[Finding]:
    return [f for f in cfg.findings if f.severity == "config"]


def test_the_definitions_are_the_release_s_own() -> None:
    kafka = kafka_configs(DEFAULT_KAFKA_VERSION)
    assert kafka.version == DEFAULT_KAFKA_VERSION
    reset = kafka.keys("consumer")["auto.offset.reset"]
    assert reset.default == "latest" and "by_duration" in str(reset.valid)
    assert kafka.keys("producer")["acks"].default == "all"
    assert kafka.keys("broker")["log.flush.interval.messages"].default == str(2**63 - 1)
    assert kafka.keys("topic")["min.insync.replicas"].type == "INT"
    assert "group.protocol" in kafka.keys("consumer") and "share.coordinator.state.topic.replication.factor" in (
        kafka.keys("broker")
    )
    assert kafka_configs(DEFAULT_KAFKA_VERSION) is kafka  # read once per process, cached on disk


# --- false alarms: a valid file must not fail ---------------------------------------------------


@pytest.mark.parametrize("value", ["none", "by_duration:PT1H", "earliest"])
def test_every_offset_reset_kafka_accepts_is_accepted(value: str) -> None:
    cfg = judge(consumer=f"enable.auto.commit=false\nauto.offset.reset={value}\n")
    assert refused(cfg) == [] and not [f for f in of(cfg, "auto.offset.reset") if f.severity == "loss"]


def test_current_client_keys_are_known() -> None:
    producer = (
        "metadata.max.idle.ms=300000\nclient.rack=eu-1a\ncompression.gzip.level=6\npartitioner.ignore.keys=false\n"
        "retry.backoff.max.ms=1000\nmetadata.recovery.strategy=rebootstrap\n"
        "socket.connection.setup.timeout.ms=10000\n"
    )
    consumer = SAFE_CONSUMER + (
        "group.protocol=consumer\ngroup.remote.assignor=uniform\nreceive.buffer.bytes=65536\nsend.buffer.bytes=131072\n"
    )
    cfg = judge(producer, consumer)
    assert refused(cfg) == []


@pytest.mark.parametrize("kind", ["producer", "consumer", "topic", "broker"])
def test_every_key_of_the_release_at_its_default_is_accepted(kind: str) -> None:
    # The strongest form of "no key is missing": a file that sets every key the release defines to
    # the release's own default is judged without a single refusal.
    kafka = kafka_configs(DEFAULT_KAFKA_VERSION)
    lines = []
    for name, key in kafka.keys(kind).items():
        if key.internal or not key.has_default or key.default is None or key.type == "PASSWORD":
            continue
        if name in HARNESS_OWNED or name.startswith(SECURITY_PREFIXES) or name in BROKER_WIRING:
            continue
        if kind == "consumer" and (name.startswith("share.") or name in ("enable.auto.commit", "auto.offset.reset")):
            continue  # share-group keys: Kafka refuses them beside the classic protocol, rightly
        lines.append(f"{name}={key.default}")
    text = "\n".join(lines) + "\n"
    assert len(lines) > {"topic": 20, "broker": 200}.get(kind, 35)
    files = {"producer": "", "consumer": SAFE_CONSUMER, "topic": None, "broker": None}
    files[kind] = text if kind != "consumer" else SAFE_CONSUMER + text
    cfg = judge(files["producer"] or "", files["consumer"] or "", files["topic"], files["broker"])
    assert refused(cfg) == [], [(f.setting, f.why) for f in refused(cfg)]


def test_a_short_request_timeout_is_harmless_with_idempotence() -> None:
    assert of(judge("request.timeout.ms=1000\n"), "request.timeout.ms") == []
    dup = of(judge("request.timeout.ms=1000\nenable.idempotence=false\n"), "request.timeout.ms")
    assert [f.severity for f in dup] == ["duplicates"]


def test_flush_at_its_default_forces_nothing() -> None:
    cfg = judge(broker="log.flush.interval.messages=9223372036854775807\n")
    assert of(cfg, "log.flush.interval.messages") == []
    assert "never forces" in of(cfg, "flush.messages")[0].why
    forced = of(judge(broker="log.flush.interval.messages=1\n"), "log.flush.interval.messages")
    assert "forces fsync" in forced[0].why


@pytest.mark.parametrize(
    ("processing", "severity"), [("in-poll", "duplicates"), ("batched", "loss"), ("async", "loss"), (None, "loss")]
)
def test_auto_commit_is_judged_by_how_the_application_processes(processing: Processing | None, severity: str) -> None:
    cfg = judge(consumer="auto.offset.reset=earliest\n", processing=processing)
    (finding,) = of(cfg, "enable.auto.commit")
    assert finding.severity == severity
    assert ("assumed" in finding.why) == (processing is None)


@pytest.mark.parametrize("name", ["server", "broker", "controller"])
def test_kafka_s_own_broker_files_raise_no_false_alarm(name: str) -> None:
    cfg = review(
        read_properties(KAFKA_CONFIG / "producer.properties"),
        read_properties(KAFKA_CONFIG / "consumer.properties"),
        None,
        read_properties(KAFKA_CONFIG / f"{name}.properties"),
        processing="in-poll",
    )
    assert refused(cfg) == [], [(f.setting, f.why) for f in refused(cfg)]
    # What remains is true of these single-node development files on a real cluster: internal topics
    # with one replica, auto-created topics with one, min.insync.replicas 1, and new groups at latest.
    loss = {f.setting for f in cfg.findings if f.severity == "loss"}
    assert loss == {
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "default.replication.factor",
        "min.insync.replicas",
        "auto.offset.reset",
    }, loss


# --- misses: what Kafka refuses is reported as refused, in Kafka's words --------------------------


@pytest.mark.parametrize(
    ("producer", "consumer", "setting", "message"),
    [
        ("acks=ALL\n", "", "acks", "Invalid value ALL for configuration acks"),
        ("compression.type=GZIP\n", "", "compression.type", "Invalid value GZIP for configuration compression.type"),
        ("", "isolation.level=READ_COMMITTED\n", "isolation.level", "Invalid value READ_COMMITTED"),
        ("", "auto.offset.reset=EARLIEST\n", "auto.offset.reset", "Invalid value EARLIEST"),
        ("linger.ms=five\n", "", "linger.ms", "Not a number of type LONG"),
        (
            "transactional.id=app-1\nenable.idempotence=false\n",
            "",
            "transactional.id",
            "Cannot set a transactional.id without also enabling idempotence",
        ),
        ("retries=0\nenable.idempotence=true\n", "", "retries", "Must set retries to non-zero"),
        (
            "max.in.flight.requests.per.connection=6\nenable.idempotence=true\n",
            "",
            "max.in.flight.requests.per.connection",
            "must be set to at most 5",
        ),
        (
            "delivery.timeout.ms=1000\nrequest.timeout.ms=30000\n",
            "",
            "delivery.timeout.ms",
            "delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms",
        ),
        ("", "group.protocol=consumer\nsession.timeout.ms=10000\n", "session.timeout.ms", "cannot be set when"),
    ],
)
def test_what_the_java_client_refuses_is_refused_in_its_words(
    producer: str, consumer: str, setting: str, message: str
) -> None:
    cfg = judge(producer, SAFE_CONSUMER + consumer if consumer else SAFE_CONSUMER)
    found = [f for f in refused(cfg) if message in f.why]
    assert found, [(f.setting, f.why) for f in cfg.findings]
    assert found[0].setting == setting and f"Kafka {DEFAULT_KAFKA_VERSION} refuses" in found[0].why


@pytest.mark.parametrize(
    ("topic", "setting", "message"),
    [
        ("replication.factor=three\n", "replication.factor", "whole number of replicas"),
        ("unclean.leader.election.enable=yes\n", "unclean.leader.election.enable", "either true or false"),
        ("min.insync.replicas=0\n", "min.insync.replicas", "Value must be at least 1"),
        ("min.insync.replicas=two\n", "min.insync.replicas", "Not a number of type INT"),
        ("retention.msec=1\n", "retention.msec", "did you mean retention.ms?"),
    ],
)
def test_topic_values_kafka_refuses(topic: str, setting: str, message: str) -> None:
    cfg = judge(topic=topic)
    found = [f for f in refused(cfg) if f.setting == setting]
    assert found and message in found[0].why, [(f.setting, f.why) for f in cfg.findings]
    # A refused value is not in force: the rules judge the default that is.
    assert all("two" not in str(f.value) for f in cfg.findings if f.severity == "loss")


def test_an_unknown_broker_key_without_a_close_match_fails() -> None:
    cfg = judge(
        broker="log.retention.minutes=10\ntotally.made.up=1\nlistener.name.internal.sasl.enabled.mechanisms=PLAIN\n"
    )
    assert [f.setting for f in refused(cfg)] == ["totally.made.up"]
    assert "totally.made.up" not in cfg.broker_run and cfg.broker_run["log.retention.minutes"] == "10"
    assert of(cfg, "listener.name.internal.sasl.enabled.mechanisms")[0].severity == "info"


def test_plugin_settings_are_not_called_unknown() -> None:
    # A serializer of the application's reads its own settings from the same file.
    producer = (
        "value.serializer=io.confluent.kafka.serializers.KafkaAvroSerializer\nschema.registry.url=http://sr:8081\n"
    )
    cfg = judge(producer)
    assert refused(cfg) == [] and of(cfg, "schema.registry.url")[0].severity == "info"


# --- real risks the rules now see -----------------------------------------------------------------


def test_processing_longer_than_the_poll_interval_reprocesses() -> None:
    cfg = judge(consumer=SAFE_CONSUMER + "max.poll.interval.ms=30000\n", process_ms=45000)
    (finding,) = of(cfg, "max.poll.interval.ms")
    assert finding.severity == "duplicates" and "removed from the group" in finding.why
    assert (
        of(judge(consumer=SAFE_CONSUMER + "max.poll.interval.ms=30000\n", process_ms=1000), "max.poll.interval.ms")
        == []
    )
    unknown = of(judge(consumer=SAFE_CONSUMER + "max.poll.interval.ms=30000\n"), "max.poll.interval.ms")
    assert unknown[0].severity == "info" and "--process-ms" in unknown[0].why


@pytest.mark.parametrize(
    ("session", "broker", "bad"),
    [("3000", "", True), ("60000", "group.max.session.timeout.ms=30000\n", True), ("10000", "", False)],
)
def test_a_session_timeout_outside_the_broker_s_bounds_cannot_join(session: str, broker: str, bad: bool) -> None:
    cfg = judge(consumer=SAFE_CONSUMER + f"session.timeout.ms={session}\n", broker=broker)
    found = of(cfg, "session.timeout.ms")
    assert bool(found) == bad and (
        not found or (found[0].severity == "config" and "INVALID_SESSION_TIMEOUT" in found[0].why)
    )


def test_a_producer_that_may_not_block_fails_sends() -> None:
    (finding,) = of(judge("buffer.memory=65536\nmax.block.ms=0\n"), "max.block.ms")
    assert finding.severity == "loss" and "small buffer" in finding.why


@pytest.mark.parametrize(
    ("broker", "setting", "stage"),
    [
        ("offsets.topic.replication.factor=1\n", "offsets.topic.replication.factor", "consumer"),
        ("transaction.state.log.replication.factor=1\n", "transaction.state.log.replication.factor", "broker"),
        ("default.replication.factor=1\n", "default.replication.factor", "broker"),
    ],
)
def test_single_replica_internal_and_auto_created_topics(broker: str, setting: str, stage: str) -> None:
    (finding,) = of(judge(broker=broker), setting)
    assert finding.severity == "loss" and finding.stage == stage
    assert of(judge(broker=broker.replace("=1", "=3")), setting) == []


def test_auto_created_topics_are_safe_when_auto_creation_is_off() -> None:
    assert (
        of(
            judge(broker="auto.create.topics.enable=false\ndefault.replication.factor=1\n"),
            "default.replication.factor",
        )
        == []
    )


def test_eligible_leader_replicas_are_named_for_4_1_and_later() -> None:
    (finding,) = of(judge(topic="replication.factor=3\nmin.insync.replicas=2\n"), "eligible.leader.replicas")
    assert "KIP-966" in finding.why and "without an unclean election" in finding.why


@pytest.mark.parametrize(
    ("topic", "severity", "fragment"),
    [
        (
            "replication.factor=2\nmin.insync.replicas=2\n",
            "availability",
            "one broker down refuses every acks=all write",
        ),
        ("replication.factor=1\nmin.insync.replicas=2\n", "config", "even with every broker up"),
        ("replication.factor=2\nmin.insync.replicas=1\n", "loss", "leader alone"),
        ("replication.factor=3\nmin.insync.replicas=3\n", "availability", "one broker down"),
    ],
)
def test_replication_and_min_isr_texts(topic: str, severity: str, fragment: str) -> None:
    found = [f for f in of(judge(topic=topic), "min.insync.replicas") if f.severity == severity]
    assert found and fragment in found[0].why, [(f.severity, f.why) for f in judge(topic=topic).findings]


def test_kafka_python_is_told_what_it_does_not_exercise_not_that_the_file_is_wrong() -> None:
    cfg = judge("partitioner.adaptive.partitioning.enable=true\nmetadata.max.idle.ms=300000\n", client="librdkafka")
    assert refused(cfg) == []
    assert "not exercised" in of(cfg, "partitioner.adaptive.partitioning.enable")[0].why


def test_every_rule_names_the_kafka_documentation_it_rests_on() -> None:
    from chaos.validate.rules import RULES, substituted_rule

    sources = ("ProducerConfig", "ConsumerConfig", "KafkaConsumer", "Broker", "Topic config", "Kafka documentation")
    for rule in RULES:
        if rule is substituted_rule:
            continue
        doc = rule.__doc__ or ""
        assert any(s in doc for s in sources) and '"' in doc, f"{rule.__name__} cites no Kafka documentation"


def test_the_java_client_s_key_list_is_the_release_s_own() -> None:
    # Experiments are loaded without a JVM, from java_client_configs.json; it must be exactly the
    # key set of the release it names, as Kafka's ConfigDefs give it.
    from chaos.workloads.java_settings import JAVA_CONSUMER_KEYS, JAVA_NAMES_VERSION, JAVA_PRODUCER_KEYS

    kafka = kafka_configs(JAVA_NAMES_VERSION)
    assert set(kafka.keys("producer")) == JAVA_PRODUCER_KEYS
    assert set(kafka.keys("consumer")) == JAVA_CONSUMER_KEYS


def test_another_release_is_judged_by_its_own_definitions_and_defaults() -> None:
    # scripts/setup builds 3.9.1 for the portability tests; its definitions differ from 4.4's.
    old = kafka_configs("3.9.1")
    assert (
        old.default("producer", "linger.ms") == "0"
        and kafka_configs(DEFAULT_KAFKA_VERSION).default("producer", "linger.ms") == "5"
    )
    assert "share.coordinator.state.topic.replication.factor" not in old.keys("broker")
    cfg = review(
        parse_properties("acks=all\n", "p"),
        parse_properties(SAFE_CONSUMER, "c"),
        parse_properties("replication.factor=3\nmin.insync.replicas=2\ncleanup.policy=delete\n", "t"),
        kafka=old,
    )
    assert refused(cfg) == [] and cfg.version == "3.9.1"
    assert of(cfg, "eligible.leader.replicas") == []  # ELR is a 4.1+ feature
    assert cfg.effective("producer", "linger.ms") == ("0", "default")


def test_a_broker_plugin_of_the_team_s_own_is_not_exercised_nor_refused() -> None:
    cfg = judge(broker="authorizer.class.name=com.acme.Authorizer\nsuper.users=User:admin\n")
    assert refused(cfg) == []
    assert "not exercised" in of(cfg, "authorizer.class.name")[0].why
    assert "authorizer.class.name" not in cfg.broker_run  # the brokers would not start with it


def test_a_misspelling_quotes_kafka_s_documentation_of_the_key_meant_once() -> None:
    cfg = judge(topic="retention.msec=1\n")
    (finding,) = refused(cfg)  # LogConfig's own refusal of the name is the same finding
    assert "did you mean retention.ms?" in finding.why and "Kafka's documentation of retention.ms" in finding.why
