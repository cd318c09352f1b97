"""What a cluster's start makes of its images: the images checked on the engine, and each node's
container, with its files, environment, capabilities, (a broker's) direct and secure listeners' ports,
and with ``sshd`` its SSH server's keys and the init that reaps a Kafka killed inside it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from docker.errors import ImageNotFound

import docker
from chaos.cluster.config import DIRECT_PORT, SECURE_PORT, ClusterSpec, NodeSpec, jvm_options, server_properties
from chaos.cluster.node import Node
from chaos.cluster.node_files import packaged, tar_dir
from chaos.cluster.secure import SecureMaterial
from chaos.cluster.sshd import SshMaterial
from chaos.engine import bind_address
from chaos.errors import ImageMissing
from chaos.images.kcfs import kcfs_binary, kcfs_container_options
from chaos.images.recipes import ImageRefs, image_refs, kafka_tag, sshd_tag, toxiproxy_tag
from chaos.labels import resource_name, run_labels
from chaos.progress import Progress, silent


class _HostOptions(TypedDict, total=False):
    """The container options that differ by node and disk; an option a node does not need is not passed."""

    cap_add: list[str]
    init: bool
    devices: list[str]
    security_opt: list[str]
    ports: dict[str, tuple[str, int]]
    extra_hosts: dict[str, str]


def required_images(client: docker.DockerClient, spec: ClusterSpec) -> ImageRefs:
    """The Kafka and toxiproxy images of ``spec``, each checked to be on the engine (never pulled).
    With ``sshd`` the Kafka image is always the harness's kafka-sshd one (``KAFKA_CHAOS_KAFKA_IMAGE``
    names none for it).

    Raises:
        ImageMissing: an image is not on the engine; the message names the command that puts it there.
    """
    refs = image_refs(spec.kafka_version, spec.kafka_image, spec.toxiproxy_image)
    version = spec.kafka_version
    if spec.sshd:
        refs = ImageRefs(kafka=sshd_tag(version), toxiproxy=refs.toxiproxy)
    built = (kafka_tag(version), toxiproxy_tag())
    for ref in (refs.kafka, refs.toxiproxy):
        try:
            client.images.get(ref)
        except ImageNotFound:
            if spec.sshd and ref == refs.kafka:
                fix = f"run `kafka-chaos images build --sshd --kafka-version {version}` first"
            elif ref in built:
                fix = f"run `kafka-chaos images build --kafka-version {version}` first"
            else:
                fix = f"`docker pull {ref}` or `docker load` it first (the harness never pulls)"
            raise ImageMissing(f"image {ref} is not on this Docker engine: {fix}") from None
    return refs


def create_node(
    client: docker.DockerClient,
    image: str,
    network: str,
    *,
    spec: ClusterSpec,
    node: NodeSpec,
    run_id: str,
    cluster_id: str,
    host: str,
    proxy_port: int | None,
    direct_port: int | None,
    secure_port: int | None = None,
    secure: SecureMaterial | None = None,
    ssh: SshMaterial | None = None,
    progress: Progress = silent,
    address: str | None = None,
    peers: Mapping[str, str] | None = None,
) -> Node:
    """Create (not start) ``node``'s container on ``network`` with its files copied in. A broker
    advertises ``host``:``proxy_port`` (its toxiproxy listener) and ``host``:``direct_port`` (its own
    direct listener, published on that fixed port), and with ``security="sasl_ssl"`` ``host``:``secure_port``
    (its secure listener, published likewise); a controller takes none. ``secure`` (the cluster's
    certificates and password) is required with ``security="sasl_ssl"``: every node gets its SCRAM
    credential to format with, a broker its keystore and secrets file too. ``ssh`` (the cluster's
    keys) is required with ``sshd``: the node runs ``host.sh`` under the engine's init, an SSH server
    with its host key that lets in the client's key, and Kafka in the background (``kafka-ctl``).
    ``address`` fixes its address on ``network``, and ``peers`` (name: address) go into its
    ``/etc/hosts``: a node of a cluster spread over engines (:mod:`chaos.cluster.spread`).

    Raises:
        docker.errors.APIError: the engine refused to create the container.
        ImageBuildError: kcfs had to be built and could not be.
        ValueError: a broker without the ports its listeners advertise, a ``sasl_ssl`` node without
            ``secure``, or an ``sshd`` node without ``ssh``.
    """
    advertised = f"{host}:{proxy_port}" if node.broker else None
    direct = f"{host}:{direct_port}" if node.broker else None
    secured = f"{host}:{secure_port}" if node.broker and secure_port is not None else None
    files = {
        "server.properties": server_properties(spec, node, advertised, direct, secured).encode(),
        "start.sh": packaged("start.sh"),
        "log4j2.properties": packaged("log4j2.properties"),
        "log4j.properties": packaged("log4j.properties"),
    }
    if spec.security == "sasl_ssl":
        if secure is None:
            raise ValueError(f"node {node.node_id} of a sasl_ssl cluster needs the cluster's secure material")
        files.update(secure.node_files(node.host))
    environment = {
        "KAFKA_CHAOS_CLUSTER_ID": cluster_id,
        "KAFKA_CHAOS_JVM_OPTS": jvm_options(spec),
        "KAFKA_CHAOS_DISK": spec.disk,
        "KAFKA_CHAOS_FORMAT_ARGS": spec.format_arguments(node.node_id, cluster_id),
    }
    # Network faults run iptables and tc inside the node's own namespace.
    extra: _HostOptions = {"cap_add": ["NET_ADMIN"]}
    command = ["sh", "/kafka-chaos/start.sh"]
    if spec.sshd:
        if ssh is None:
            raise ValueError(f"node {node.node_id} of an sshd cluster needs the cluster's SSH keys")
        files.update(ssh.node_files(node.host))
        files.update({name: packaged(name) for name in ("host.sh", "kafka-ctl")})
        command = ["sh", "/kafka-chaos/host.sh"]
        # The engine's init is PID 1: it reaps a Kafka killed inside, so none lingers as a zombie.
        extra["init"] = True
    if spec.disk == "kcfs":
        files["kcfs"] = kcfs_binary(progress=progress).read_bytes()
        kcfs = kcfs_container_options()
        extra = {
            "cap_add": ["NET_ADMIN", *kcfs["cap_add"]],
            "devices": kcfs["devices"],
            "security_opt": kcfs["security_opt"],
        }
    if node.broker and direct_port is not None:
        # The port fixed for this broker, not one the engine picks: a restart must bind the
        # address the broker advertises again.
        extra["ports"] = {f"{DIRECT_PORT}/tcp": (bind_address(host), direct_port)}
        if secure_port is not None:
            extra["ports"][f"{SECURE_PORT}/tcp"] = (bind_address(host), secure_port)
    if peers:
        extra["extra_hosts"] = dict(peers)
    endpoint = client.api.create_endpoint_config(aliases=[node.host], ipv4_address=address)
    container = client.containers.create(
        image,
        command,
        name=resource_name(run_id, node.host),
        hostname=node.host,
        labels=run_labels(run_id, node.role, node.node_id),
        environment=environment,
        network=network,
        networking_config={network: endpoint},
        **extra,
    )
    container.put_archive("/", tar_dir("kafka-chaos", files))
    return Node(node, container)
