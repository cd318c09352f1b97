"""The SASL_SSL listener without Docker: what each node is given (server.properties with no secret in
it, the secrets file, the format's SCRAM argument), the certificates' names and chain, the client
files (their text, modes and removal), the spec's validation and ``attach`` finding the ports again.
A real cluster's listener is tests/integration/test_secure_listener.py."""

from __future__ import annotations

import io
import ipaddress
import stat
import tarfile
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store

import docker
from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.cluster.config import SECURE_PORT, SECURITY, server_properties
from chaos.cluster.containers import create_node
from chaos.cluster.registry import spec_from_json, spec_to_json
from chaos.cluster.secure import (
    SecureMaterial,
    client_config_path,
    new_material,
    remove_client_files,
    write_client_files,
)
from chaos.cluster.sweeper import sweep
from chaos.errors import InfrastructureError, UsageError
from chaos.labels import NODE_LABEL, ROLE_LABEL, SPEC_LABEL

SPEC = ClusterSpec(brokers=2, security="sasl_ssl")


@pytest.fixture(scope="module")
def material() -> SecureMaterial:
    return new_material(["broker-1", "broker-2"], "127.0.0.1")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KAFKA_CHAOS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "secure"


class Container:
    def __init__(self, attrs: dict[str, Any] | None = None, labels: dict[str, str] | None = None) -> None:
        self.attrs = attrs or {}
        self.labels = labels or {}
        self.status = "running"
        self.files: dict[str, bytes] = {}

    def put_archive(self, path: str, data: bytes) -> None:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                extracted = tar.extractfile(member)
                if extracted is not None:
                    self.files[member.name.removeprefix("kafka-chaos/")] = extracted.read()


class Engine:
    """Records what ``containers.create`` is asked; lists ``listed`` and ``networks``."""

    def __init__(self, listed: list[Container] | None = None, networks: list[Any] | None = None) -> None:
        self.created: list[dict[str, Any]] = []
        self.containers = self
        self.listed = listed or []
        self.networks = type("Networks", (), {"list": lambda _self, **kw: networks or []})()
        self.api = type("Api", (), {"create_endpoint_config": lambda _self, **kw: kw})()

    def create(self, image: str, command: list[str], **kwargs: Any) -> Container:
        self.created.append(kwargs)
        return Container()

    def list(self, **kwargs: Any) -> list[Container]:
        return self.listed


def create(spec: ClusterSpec, node_id: int, material: SecureMaterial) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The options the container of ``node_id`` was created with, and the files copied into it."""
    engine = Engine()
    (node,) = (n for n in spec.nodes() if n.node_id == node_id)
    made = create_node(
        cast("docker.DockerClient", engine),
        "kafka:x",
        "r-net",
        spec=spec,
        node=node,
        run_id="r-secure",
        cluster_id="cluster-id",
        host="127.0.0.1",
        proxy_port=30000 + node_id if node.broker else None,
        direct_port=40000 + node_id if node.broker else None,
        secure_port=41000 + node_id if node.broker else None,
        secure=material,
    )
    return engine.created[0], cast("Container", made.container).files


def test_a_broker_serves_the_secure_listener_and_its_properties_hold_no_secret(material: SecureMaterial) -> None:
    options, files = create(SPEC, 2, material)
    assert options["ports"] == {"9094/tcp": ("127.0.0.1", 40002), f"{SECURE_PORT}/tcp": ("127.0.0.1", 41002)}
    lines = files["server.properties"].decode().splitlines()
    assert (
        "listeners=INTERNAL://0.0.0.0:9091,CLIENT://0.0.0.0:9092,DIRECT://0.0.0.0:9094,SECURE://0.0.0.0:9095,"
        "CONTROLLER://0.0.0.0:9093"
    ) in lines
    assert (
        "advertised.listeners=INTERNAL://broker-2:9091,CLIENT://127.0.0.1:30002,DIRECT://127.0.0.1:40002,"
        "SECURE://127.0.0.1:41002,CONTROLLER://broker-2:9093"
    ) in lines
    assert (
        "listener.security.protocol.map=INTERNAL:PLAINTEXT,CLIENT:PLAINTEXT,DIRECT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
        "SECURE:SASL_SSL"
    ) in lines
    secure_lines = [line for line in lines if line.startswith(("listener.name.", "config.providers"))]
    assert secure_lines == [
        "config.providers=file",
        "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider",
        "listener.name.secure.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
        "listener.name.secure.plain.sasl.jaas.config=${file:/kafka-chaos/secrets.properties:plain_jaas}",
        "listener.name.secure.scram-sha-512.sasl.jaas.config=${file:/kafka-chaos/secrets.properties:scram_jaas}",
        "listener.name.secure.ssl.keystore.type=PEM",
        "listener.name.secure.ssl.keystore.key=${file:/kafka-chaos/secrets.properties:keystore_key}",
        "listener.name.secure.ssl.keystore.certificate.chain=${file:/kafka-chaos/secrets.properties:keystore_chain}",
    ]
    properties = files["server.properties"].decode()
    assert material.password not in properties and "PRIVATE KEY" not in properties
    # nor in what the engine is told (its environment and command show in `docker inspect`)
    assert material.password not in repr(options)
    assert sorted(files) == [
        "log4j.properties",
        "log4j2.properties",
        "scram.arg",
        "secrets.properties",
        "server.properties",
        "start.sh",
    ]
    assert files["scram.arg"].decode() == f"SCRAM-SHA-512=[name=kafka-chaos,password={material.password}]"


def test_the_secrets_file_holds_both_jaas_configurations_and_the_brokers_own_key(material: SecureMaterial) -> None:
    _, files = create(SPEC, 1, material)
    # java.util.Properties' reading of these lines: key=value, a backslash and n a line break
    secrets = dict(line.split("=", 1) for line in files["secrets.properties"].decode().splitlines())
    assert sorted(secrets) == ["keystore_chain", "keystore_key", "plain_jaas", "scram_jaas"]
    assert secrets["plain_jaas"] == (
        f'org.apache.kafka.common.security.plain.PlainLoginModule required user_kafka-chaos="{material.password}";'
    )
    assert secrets["scram_jaas"] == "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    key_pem = secrets["keystore_key"].replace("\\n", "\n")
    assert key_pem.startswith("-----BEGIN PRIVATE KEY-----\n")  # unencrypted PKCS#8: no key password
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    chain = x509.load_pem_x509_certificates(secrets["keystore_chain"].replace("\\n", "\n").encode())
    assert [c.subject.rfc4514_string() for c in chain] == ["CN=broker-1", "CN=kafka-chaos cluster CA"]
    assert chain[0].public_key() == key.public_key()
    assert chain[1] == x509.load_pem_x509_certificate(material.ca_pem)


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "broker-2"])
def test_a_brokers_certificate_is_valid_at_loopback_localhost_and_its_host_name(
    material: SecureMaterial, name: str
) -> None:
    leaf = x509.load_pem_x509_certificates(material.keystores["broker-2"].chain_pem.encode())[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in sans] == ["127.0.0.1", "localhost", "broker-2"]
    ca = x509.load_pem_x509_certificate(material.ca_pem)
    subject = x509.IPAddress(ipaddress.ip_address(name)) if name[0].isdigit() else x509.DNSName(name)
    verifier = PolicyBuilder().store(Store([ca])).build_server_verifier(subject)
    assert verifier.verify(leaf, []) == [leaf, ca]  # raises if the chain or the name does not hold


def test_a_remote_engines_host_is_named_too_and_each_broker_has_its_own_key() -> None:
    material = new_material(["broker-1", "broker-2"], "docker")
    leaves = [x509.load_pem_x509_certificates(k.chain_pem.encode())[0] for k in material.keystores.values()]
    names = [
        [str(n.value) for n in c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value] for c in leaves
    ]
    assert names == [["127.0.0.1", "localhost", "broker-1", "docker"], ["127.0.0.1", "localhost", "broker-2", "docker"]]
    assert len({k.key_pem for k in material.keystores.values()}) == 2
    assert "password" not in repr(material) and material.password not in repr(material)


def test_a_dedicated_controller_formats_the_credential_but_serves_no_secure_listener(material: SecureMaterial) -> None:
    spec = ClusterSpec(brokers=1, controllers=1, security="sasl_ssl")
    options, files = create(spec, 1001, material)
    assert "ports" not in options
    assert sorted(set(files) - {"log4j.properties", "log4j2.properties", "start.sh"}) == [
        "scram.arg",
        "server.properties",
    ]
    properties = files["server.properties"].decode()
    assert "SECURE" not in properties and "config.providers" not in properties


def test_the_storage_format_reads_the_scram_argument_from_its_file() -> None:
    from chaos.cluster.node_files import packaged

    script = packaged("start.sh").decode()
    assert 'set -- --add-scram "$(cat /kafka-chaos/scram.arg)"' in script
    assert '${KAFKA_CHAOS_FORMAT_ARGS:-} "$@"' in script
    assert "set -x" not in script  # the format's command line is never echoed into the log


def test_a_plain_cluster_is_unchanged(material: SecureMaterial) -> None:
    spec = ClusterSpec(brokers=1)
    properties = server_properties(spec, spec.nodes()[0], "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3")
    assert "SECURE" not in properties and "config.providers" not in properties
    _, files = create(spec, 1, material)
    assert "scram.arg" not in files and "secrets.properties" not in files


def test_a_secure_broker_needs_its_address_and_the_material() -> None:
    node = SPEC.nodes()[0]
    with pytest.raises(ValueError, match="broker 1 needs an advertised address for its secure listener"):
        server_properties(SPEC, node, "127.0.0.1:1", "127.0.0.1:2")
    engine = cast("docker.DockerClient", Engine())
    with pytest.raises(ValueError, match="node 1 of a sasl_ssl cluster needs the cluster's secure material"):
        create_node(
            engine,
            "k",
            "n",
            spec=SPEC,
            node=node,
            run_id="r",
            cluster_id="c",
            host="127.0.0.1",
            proxy_port=1,
            direct_port=2,
            secure_port=3,
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"security": "tls"}, "security 'tls' is not one of none, sasl_ssl"),
        (
            {"security": "sasl_ssl", "broker_config": {"config.providers": "env"}},
            "broker config sets config.providers, the secure listener's own: remove it",
        ),
        (
            {"security": "sasl_ssl", "node_config": {1: {"listener.name.secure.ssl.keystore.type": "JKS"}}},
            "broker config sets listener.name.secure.ssl.keystore.type, the secure listener's own: remove it",
        ),
    ],
)
def test_a_bad_security_setting_is_one_sentence(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as info:
        ClusterSpec(brokers=1, **kwargs)
    assert str(info.value) == message
    assert SECURITY == ("none", "sasl_ssl")


def test_the_spec_label_keeps_security_and_an_older_label_reads_as_none() -> None:
    assert spec_from_json(spec_to_json(SPEC)).security == "sasl_ssl"
    older = spec_to_json(ClusterSpec(brokers=2)).replace(', "security": "none"', "")
    assert "security" not in older and spec_from_json(older).security == "none"


def test_the_client_files_are_private_and_say_how_to_connect(cache: Path, material: SecureMaterial) -> None:
    directory = write_client_files("r-secure", material)
    assert directory == cache / "r-secure" and stat.S_IMODE(directory.stat().st_mode) == 0o700
    ca = directory / "ca.pem"
    assert ca.read_bytes() == material.ca_pem
    assert sorted(p.name for p in directory.iterdir()) == ["ca.pem", "client-plain.properties", "client.properties"]
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert client_config_path("r-secure") == directory / "client.properties"
    assert (directory / "client.properties").read_text().splitlines() == [
        "security.protocol=SASL_SSL",
        "sasl.mechanism=SCRAM-SHA-512",
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="kafka-chaos" password="{material.password}";',
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={ca}",
    ]
    plain = client_config_path("r-secure", "PLAIN").read_text().splitlines()
    assert plain[1:3] == [
        "sasl.mechanism=PLAIN",
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="kafka-chaos" password="{material.password}";',
    ]
    with pytest.raises(UsageError, match="SASL mechanism 'GSSAPI' is not one of SCRAM-SHA-512, PLAIN"):
        client_config_path("r-secure", "GSSAPI")


def test_an_older_file_of_the_name_is_made_private_too(cache: Path, material: SecureMaterial) -> None:
    (cache / "r-secure").mkdir(parents=True)
    (cache / "r-secure" / "client.properties").write_text("old")
    (cache / "r-secure" / "client.properties").chmod(0o644)
    write_client_files("r-secure", material)
    assert stat.S_IMODE((cache / "r-secure" / "client.properties").stat().st_mode) == 0o600


def test_the_client_files_go_with_their_cluster_and_with_clean(cache: Path, material: SecureMaterial) -> None:
    for run_id in ("r-one", "r-two", "r-three"):
        write_client_files(run_id, material)
    outside = cache.parent / "kept.txt"
    outside.write_text("not ours")
    engine = cast("docker.DockerClient", Engine())
    assert sweep(engine, "r-one").client_files == [str(cache / "r-one")]  # a cluster's destroy, `clean --run-id`
    assert remove_client_files("../kept.txt") == [] and outside.is_file()  # never a path outside
    assert remove_client_files("r-one") == []  # already gone
    assert sweep(engine).as_dict()["client_files"] == [str(cache / "r-three"), str(cache / "r-two")]  # `clean`
    assert list(cache.iterdir()) == [] and outside.is_file()


def _broker(i: int, secure: bool) -> Container:
    bindings = {"9094/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(40000 + i)}]}
    if secure:
        bindings[f"{SECURE_PORT}/tcp"] = [{"HostIp": "127.0.0.1", "HostPort": str(41000 + i)}]
    container = Container({"HostConfig": {"PortBindings": bindings}}, {ROLE_LABEL: "broker", NODE_LABEL: str(i)})
    container.status = "exited"  # a stopped broker still says where it listens
    return container


def attach(spec: ClusterSpec, tmp_path: Path) -> KafkaCluster:
    network = type("Network", (), {"attrs": {"Labels": {SPEC_LABEL: spec_to_json(spec)}}})()
    engine = Engine([_broker(2, spec.security == "sasl_ssl"), _broker(1, spec.security == "sasl_ssl")], [network])
    return KafkaCluster.attach("r-secure", client=cast("docker.DockerClient", engine), run_dir=tmp_path)


def test_attach_finds_the_secure_ports_and_the_client_files_again(
    tmp_path: Path, cache: Path, material: SecureMaterial
) -> None:
    cluster = attach(SPEC, tmp_path)
    assert cluster.secure_bootstrap_servers == "127.0.0.1:41001,127.0.0.1:41002"
    assert cluster.direct_bootstrap_servers == "127.0.0.1:40001,127.0.0.1:40002"
    with pytest.raises(InfrastructureError, match="client properties of cluster r-secure are not at"):
        cluster.client_config_path()  # written on another machine, or removed
    write_client_files("r-secure", material)
    assert cluster.client_config_path("PLAIN") == cache / "r-secure" / "client-plain.properties"


def test_a_cluster_without_the_listener_says_how_to_get_one(tmp_path: Path, cache: Path) -> None:
    cluster = attach(ClusterSpec(brokers=2), tmp_path)
    assert cluster.secure_bootstrap_servers == ""
    with pytest.raises(
        InfrastructureError, match=r"no SASL_SSL listener: .*`kafka-chaos cluster up --security sasl_ssl`"
    ):
        cluster.client_config_path()
