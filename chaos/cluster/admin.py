"""kafka-python's admin client as this package uses it: a typed :class:`Admin` protocol for the public
calls, the answers read back as typed dicts, and the only code that touches kafka-python's internals
(a request pinned to one broker, FindCoordinator, the fallback broker addresses).

kafka-python ships no types, so the protocol names only the calls the harness makes (and its tests,
through :meth:`~chaos.cluster.cluster.KafkaCluster.admin_call`), with the shapes its answers have.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import NotRequired, Protocol, TypedDict

from kafka import KafkaAdminClient, OffsetAndMetadata, TopicPartition
from kafka.admin import ConfigResource, MemberToRemove, NewTopic
from kafka.protocol.consumer import ListOffsetsRequest
from kafka.protocol.metadata import MetadataRequest, MetadataResponse

from chaos.errors import UsageError

#: The internals of kafka-python's admin client reached here, by name: it has no public way to pin a
#: request to one broker, to ask FindCoordinator, or to add a broker it should know.
_manager = operator.attrgetter("_manager")
_bootstrap_brokers = operator.attrgetter("_manager.cluster._bootstrap_brokers")
_find_coordinator_id = operator.attrgetter("_find_coordinator_id")


class BrokerDescription(TypedDict):
    """A broker in ``describe_cluster``'s answer."""

    broker_id: int
    host: str
    port: int
    is_fenced: NotRequired[bool]


class ClusterDescription(TypedDict):
    """``describe_cluster``'s answer, as far as it is read."""

    brokers: list[BrokerDescription]
    cluster_id: NotRequired[str | None]


class QuorumVoter(TypedDict):
    replica_id: int


class QuorumPartition(TypedDict):
    """The metadata log's partition in ``describe_metadata_quorum``'s answer."""

    leader_id: int
    current_voters: NotRequired[list[QuorumVoter]]


class QuorumTopic(TypedDict):
    partitions: list[QuorumPartition]


class QuorumDescription(TypedDict):
    """``describe_metadata_quorum``'s answer, as far as it is read."""

    topics: list[QuorumTopic]


class LogDir(TypedDict):
    error_code: int
    log_dir: str


class BrokerLogDirs(TypedDict):
    """One broker's entry in ``describe_log_dirs``'s answer."""

    broker: int
    log_dirs: list[LogDir]


class GroupListing(TypedDict):
    """A group in ``list_groups``'s answer."""

    group_id: str


class GroupMember(TypedDict):
    member_id: str


class GroupDescription(TypedDict):
    """A group in ``describe_groups``'s answer, as far as it is read."""

    members: NotRequired[list[GroupMember]]


class PartitionMetadata(TypedDict):
    """A partition in a broker's own Metadata answer."""

    partition_index: int
    leader_id: int
    leader_epoch: NotRequired[int]
    replica_nodes: list[int]
    isr_nodes: list[int]


class TopicMetadata(TypedDict):
    error_code: int
    partitions: list[PartitionMetadata]


class MetadataAnswer(TypedDict, total=False):
    """One broker's Metadata answer for a topic, as far as it is read."""

    topics: list[TopicMetadata]


class Admin(Protocol):
    """The calls of kafka-python's ``KafkaAdminClient`` the harness makes (results it ignores are ``object``)."""

    def close(self) -> None: ...
    def list_topics(self) -> list[str]: ...
    def create_topics(self, new_topics: Sequence[NewTopic]) -> object: ...
    def delete_topics(
        self, topics: Sequence[str], timeout_ms: int | None = ..., raise_errors: bool = ...
    ) -> object: ...
    def describe_cluster(self) -> ClusterDescription: ...
    def describe_metadata_quorum(self) -> QuorumDescription: ...
    def describe_features(self) -> dict[str, dict[str, object]]: ...
    def describe_log_dirs(self, brokers: Sequence[int] | None = ...) -> list[BrokerLogDirs]: ...
    def list_groups(self, broker_ids: Sequence[int] | None = ...) -> list[GroupListing]: ...
    def describe_groups(
        self, group_ids: Sequence[str], group_coordinator_id: int | None = ...
    ) -> dict[str, GroupDescription]: ...
    def remove_group_members(
        self, group_id: str, members: Sequence[MemberToRemove], group_coordinator_id: int | None = ...
    ) -> object: ...
    def delete_groups(self, group_ids: Sequence[str], group_coordinator_id: int | None = ...) -> object: ...
    def alter_group_offsets(self, group_id: str, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> object: ...
    def list_group_offsets(
        self, group_specs: Mapping[str, Sequence[TopicPartition] | None]
    ) -> dict[str, dict[TopicPartition, OffsetAndMetadata]]: ...
    def alter_partition_reassignments(self, reassignments: Mapping[TopicPartition, list[int]]) -> object: ...
    def list_partition_reassignments(self) -> dict[TopicPartition, object]: ...
    def elect_leaders(
        self, election_type: int, topic_partitions: Mapping[str, list[int]], raise_errors: bool = ...
    ) -> object: ...
    def alter_configs(self, config_resources: Sequence[ConfigResource], incremental: bool | None = ...) -> object: ...
    def describe_configs(
        self, config_resources: Sequence[ConfigResource], include_synonyms: bool = ..., config_filter: str = ...
    ) -> dict[str, dict[str, dict[str, dict[str, object]]]]: ...
    def delete_records(
        self, records_to_delete: Mapping[TopicPartition, int], timeout_ms: int | None = ...
    ) -> object: ...
    def list_transactions(self) -> Mapping[int, Sequence[TransactionListing]]: ...


class TransactionListing(Protocol):
    """One transaction a broker coordinates, as ListTransactions names it."""

    @property
    def transactional_id(self) -> str: ...


def connect(
    bootstrap_servers: str, brokers: Mapping[int, tuple[str, int]], security: Mapping[str, object] | None = None
) -> Admin:
    """A new admin client bootstrapping from ``bootstrap_servers``, with every broker's address
    (``brokers``: node id → host, port) registered as a fallback, so a broker missing from the
    metadata the client last got (a cut-off broker answers with a stale, partial view) can still be
    asked directly by :func:`metadata_from`. ``security``: kafka-python's security keyword
    arguments (:meth:`chaos.workloads.security.ClientSecurity.kafka_python`).

    Raises:
        KafkaError: no bootstrap server answered.
    """
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="kafka-chaos-admin",
        request_timeout_ms=5_000,
        retry_backoff_ms=100,
        reconnect_backoff_max_ms=500,
        **(security or {}),
    )
    fallback = _bootstrap_brokers(admin)
    for node_id, (host, port) in brokers.items():
        fallback[node_id] = MetadataResponse.MetadataResponseBroker(node_id, host, port, None)
    client: Admin = admin
    return client


def metadata_from(admin: Admin, node_id: int, topic: str) -> MetadataAnswer:
    """Broker ``node_id``'s own metadata answer for ``topic`` (kafka-python's connection manager,
    pinned: its public calls ask whichever broker it picks).

    Raises:
        KafkaError, OSError: that broker did not answer.
    """
    manager = _manager(admin)
    request = MetadataRequest(
        topics=[MetadataRequest.MetadataRequestTopic(name=topic)], allow_auto_topic_creation=False
    )

    async def fetch() -> MetadataAnswer:
        response = await manager.send(request, node_id=node_id, request_timeout_ms=3000)
        answer: MetadataAnswer = response.to_dict()
        return answer

    result: MetadataAnswer = manager.run(fetch)
    return result


def high_watermarks_from(admin: Admin, node_id: int, topic: str, epochs: Mapping[int, int]) -> dict[int, int]:
    """Broker ``node_id``'s high watermark of each partition of ``topic`` in ``epochs`` (partition →
    the leader epoch that broker just said it leads at), as ListOffsets LATEST with read_uncommitted
    answers it. Each partition is asked with its epoch as the current leader epoch, so a broker that
    no longer leads it at that epoch answers an error, and the partition is left out.

    Raises:
        KafkaError, OSError: that broker did not answer.
    """
    manager = _manager(admin)
    parts = ListOffsetsRequest.ListOffsetsTopic.ListOffsetsPartition
    asked = [parts(partition_index=p, current_leader_epoch=e, timestamp=-1) for p, e in sorted(epochs.items())]
    request = ListOffsetsRequest(
        isolation_level=0, topics=[ListOffsetsRequest.ListOffsetsTopic(name=topic, partitions=asked)], min_version=4
    )

    async def fetch() -> dict[int, int]:
        response = await manager.send(request, node_id=node_id, request_timeout_ms=2000)
        return {
            int(p.partition_index): int(p.offset)
            for t in response.topics
            for p in t.partitions
            if not p.error_code and p.offset >= 0
        }

    result: dict[int, int] = manager.run(fetch)
    return result


def coordinator_finder(kind: str, key: str) -> Callable[[Admin], int]:
    """A call for :meth:`~chaos.cluster.metadata.Metadata.admin_call` answering the broker id that
    coordinates group ``key`` (``kind`` ``group``) or transactional id ``key`` (``transaction``), as
    FindCoordinator answers now (kafka-python keeps that request internal).

    Raises:
        UsageError: ``kind`` is neither (at once, before anything is asked).
    """
    from kafka.admin.client import CoordinatorType

    types = {"group": CoordinatorType.GROUP, "transaction": CoordinatorType.TRANSACTION}
    if kind not in types:
        raise UsageError(f"a coordinator is of a group or a transaction, not {kind!r}")
    key_type = types[kind]

    def find(admin: Admin) -> int:
        async def ask() -> int:
            return int(await _find_coordinator_id(admin)(key, key_type))

        found: int = _manager(admin).run(ask)
        return found

    return find


def transactions_coordinator(prefix: str) -> Callable[[Admin], int | None]:
    """A call for :meth:`~chaos.cluster.metadata.Metadata.admin_call` answering the broker id that
    coordinates the first (by name) open or recent transactional id starting with ``prefix``, as
    ListTransactions answers now: each broker lists the transactions it coordinates (None: none yet).
    An application's transactional ids are its own (Kafka Streams: ``<application.id>-…``)."""

    def find(admin: Admin) -> int | None:
        listed = admin.list_transactions()
        found = sorted(
            (str(t.transactional_id), int(node))
            for node, listings in listed.items()
            for t in listings
            if str(t.transactional_id).startswith(prefix)
        )
        return found[0][1] if found else None

    return find


def finalized_levels(described: Mapping[str, Mapping[str, object]]) -> dict[str, int]:
    """The finalized level of each feature, from kafka-python's ``describe_features()`` answer.

    >>> finalized_levels({"transaction.version": {"finalized": (2, 2)}, "x": {"supported": (0, 1)}})
    {'transaction.version': 2, 'x': 0}
    """
    levels = {}
    for name, info in sorted(described.items()):
        finalized = info.get("finalized")
        levels[name] = int(finalized[1]) if isinstance(finalized, tuple | list) else 0
    return levels
