"""Nodes reached over SSH without Docker: the keys (loaded by paramiko as an SSH client loads them),
``ssh.yaml`` and ``known_hosts`` (their exact text and modes), the spec's ``sshd`` (validated, kept on
the network's label), the image it needs, each node's container, ``ssh_config_path`` and the sweep
that removes the files. A real cluster's nodes are tests/integration/test_sshd_layout.py."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, cast

import paramiko
import pytest
import yaml
from docker.errors import ImageNotFound

import docker
from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.cluster.containers import create_node, required_images
from chaos.cluster.node_files import packaged
from chaos.cluster.registry import spec_from_json, spec_to_json
from chaos.cluster.sshd import SshMaterial, new_material, remove_ssh_files, write_config, write_identity
from chaos.cluster.sweeper import sweep
from chaos.errors import ImageMissing, InfrastructureError, UsageError
from chaos.images import recipes
from chaos.labels import SPEC_LABEL

SPEC = ClusterSpec(brokers=2, controllers=1, sshd=True)
HOSTS = {1: ("broker-1", "172.18.0.3"), 2: ("broker-2", "172.18.0.4"), 1001: ("controller-1", "172.18.0.6")}


@pytest.fixture(scope="module")
def material() -> SshMaterial:
    return new_material([n.host for n in SPEC.nodes()])


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KAFKA_CHAOS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "ssh"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_keys_are_ed25519_keys_an_ssh_client_loads(cache: Path, material: SshMaterial, tmp_path: Path) -> None:
    identity = write_identity("r-ssh", material)
    assert identity == cache / "r-ssh" / "id_ed25519"
    client = paramiko.Ed25519Key.from_private_key_file(str(identity))
    assert f"{client.get_name()} {client.get_base64()}" == material.client.public
    assert material.client.private.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    keys = {host: key.public for host, key in material.host_keys.items()}
    assert sorted(keys) == ["broker-1", "broker-2", "controller-1"] and len(set(keys.values())) == 3
    for host, public in keys.items():
        files = material.node_files(host)
        (tmp_path / host).write_bytes(files["ssh_host_ed25519_key"])
        loaded = paramiko.Ed25519Key.from_private_key_file(str(tmp_path / host))
        assert f"ssh-ed25519 {loaded.get_base64()}" == public
        assert files["ssh_host_ed25519_key.pub"] == f"{public}\n".encode()
        assert files["authorized_keys"] == f"{material.client.public} kafka-chaos\n".encode()
    assert "PRIVATE" not in repr(material) and "private=" not in repr(material)
    with pytest.raises(KeyError):
        material.node_files("broker-3")


def test_ssh_yaml_and_known_hosts_are_exactly_what_an_ssh_backend_reads(cache: Path, material: SshMaterial) -> None:
    write_identity("r-ssh", material)
    path = write_config("r-ssh", material, {2: HOSTS[2], 1001: HOSTS[1001], 1: HOSTS[1]})
    directory = cache.resolve() / "r-ssh"
    assert path == cache / "r-ssh" / "ssh.yaml"
    assert path.read_text() == (
        "user: root\n"
        "port: 22\n"
        f"identity_file: {directory}/id_ed25519\n"
        f"known_hosts: {directory}/known_hosts\n"
        "kafka:\n"
        "  pid_file: /run/kafka.pid\n"
        "  start: sh /kafka-chaos/kafka-ctl start\n"
        "interface: eth0\n"
        "nodes:\n"
        "  1: {host: 172.18.0.3}\n"
        "  2: {host: 172.18.0.4}\n"
        "  1001: {host: 172.18.0.6}\n"
    )
    parsed = yaml.safe_load(path.read_text())
    assert parsed["nodes"] == {1: {"host": "172.18.0.3"}, 2: {"host": "172.18.0.4"}, 1001: {"host": "172.18.0.6"}}
    assert parsed["kafka"] == {"pid_file": "/run/kafka.pid", "start": "sh /kafka-chaos/kafka-ctl start"}
    known = Path(parsed["known_hosts"])
    assert known.read_text().splitlines() == [
        f"{ip} {material.host_keys[host].public}" for _, (host, ip) in sorted(HOSTS.items())
    ]
    host_keys = paramiko.HostKeys(str(known))
    for host, ip in HOSTS.values():
        found = host_keys.lookup(ip)
        assert found is not None, ip
        assert f"ssh-ed25519 {found['ssh-ed25519'].get_base64()}" == material.host_keys[host].public
    assert mode(directory) == 0o700
    assert sorted(p.name for p in directory.iterdir()) == ["id_ed25519", "known_hosts", "ssh.yaml"]
    assert all(mode(p) == 0o600 for p in directory.iterdir())


def test_a_cache_path_yaml_would_misread_is_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, material: SshMaterial
) -> None:
    monkeypatch.setenv("KAFKA_CHAOS_CACHE", str(tmp_path / "my cache: #1"))
    parsed = yaml.safe_load(write_config("r-ssh", material, {1: HOSTS[1]}).read_text())
    assert parsed["identity_file"] == str(tmp_path.resolve() / "my cache: #1" / "ssh" / "r-ssh" / "id_ed25519")


def test_the_files_go_with_their_cluster_and_with_clean(cache: Path, material: SshMaterial) -> None:
    for run_id in ("r-one", "r-two", "r-three"):
        write_identity(run_id, material)
    outside = cache.parent / "kept.txt"
    outside.write_text("not ours")
    engine = cast("docker.DockerClient", Engine())
    assert sweep(engine, "r-one").ssh_files == [str(cache / "r-one")]  # a cluster's destroy, `clean --run-id`
    assert remove_ssh_files("../kept.txt") == [] and outside.is_file()  # never a path outside
    assert remove_ssh_files("r-one") == []  # already gone
    assert sweep(engine).as_dict()["ssh_files"] == [str(cache / "r-three"), str(cache / "r-two")]  # `clean`
    assert list(cache.iterdir()) == [] and outside.is_file()


def test_the_spec_label_keeps_sshd_and_an_older_label_reads_as_none() -> None:
    assert spec_from_json(spec_to_json(SPEC)) == SPEC
    older = spec_to_json(ClusterSpec(brokers=2)).replace(', "sshd": false', "")
    assert "sshd" not in older and spec_from_json(older).sshd is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"disk": "kcfs"}, "a node with sshd cannot mount kcfs again when Kafka is restarted in it: use disk plain"),
        ({"kafka_image": "apache/kafka:4.1.0"}, "a node with sshd runs the harness's kafka-sshd image: drop the"),
        ({"sshd": "yes"}, "sshd is true or false, not 'yes'"),
    ],
)
def test_what_sshd_cannot_be_combined_with_is_one_sentence(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=f"^{message}"):
        ClusterSpec(brokers=1, **{"sshd": True, **kwargs})


def test_the_sshd_image_stands_on_the_kafka_image(monkeypatch: pytest.MonkeyPatch) -> None:
    tag = recipes.sshd_tag("4.4.0")
    assert tag.startswith("kafka-chaos/kafka-sshd:4.4.0-") and tag == recipes.sshd_tag("4.4.0")
    assert tag != recipes.sshd_tag("3.9.1").replace("3.9.1", "4.4.0")
    dockerfile = recipes.recipe_file("kafka-sshd.Dockerfile").decode()
    assert "FROM ${KAFKA}" in dockerfile and "openssh-server" in dockerfile and "mkdir -p /run/sshd" in dockerfile
    real = recipes.recipe_file
    monkeypatch.setattr(recipes, "recipe_file", lambda name: real(name) + (b"#" if name == "kafka.Dockerfile" else b""))
    assert recipes.sshd_tag("4.4.0") != tag  # a new Kafka image, a new image on top of it


class Images:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, ref: str) -> None:
        if ref not in self.present:
            raise ImageNotFound(ref)


def test_a_cluster_with_sshd_needs_its_image_and_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_CHAOS_KAFKA_IMAGE", "someone/else:1")  # names no image for sshd nodes
    engine = type("Engine", (), {"images": Images({recipes.kafka_tag("4.4.0"), recipes.toxiproxy_tag()})})()
    with pytest.raises(ImageMissing) as info:
        required_images(cast("docker.DockerClient", engine), SPEC)
    assert str(info.value) == (
        f"image {recipes.sshd_tag('4.4.0')} is not on this Docker engine: "
        "run `kafka-chaos images build --sshd --kafka-version 4.4.0` first"
    )
    engine.images.present.add(recipes.sshd_tag("4.4.0"))
    assert required_images(cast("docker.DockerClient", engine), SPEC).kafka == recipes.sshd_tag("4.4.0")


class Container:
    def __init__(self, labels: dict[str, str] | None = None) -> None:
        self.labels = labels or {}
        self.attrs: dict[str, Any] = {}
        self.status = "running"
        self.files: dict[str, tuple[int, bytes]] = {}

    def put_archive(self, path: str, data: bytes) -> None:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                extracted = tar.extractfile(member)
                if extracted is not None:
                    self.files[member.name.removeprefix("kafka-chaos/")] = (member.mode, extracted.read())


class Engine:
    """Records what ``containers.create`` is asked; lists ``listed`` and ``networks``."""

    def __init__(self, listed: list[Container] | None = None, networks: list[Any] | None = None) -> None:
        self.created: list[tuple[list[str], dict[str, Any]]] = []
        self.made: list[Container] = []
        self.containers = self
        self.listed = listed or []
        self.networks = type("Networks", (), {"list": lambda _self, **kw: networks or []})()
        self.api = type("Api", (), {"create_endpoint_config": lambda _self, **kw: kw})()

    def create(self, image: str, command: list[str], **kwargs: Any) -> Container:
        self.created.append((command, kwargs))
        self.made.append(Container())
        return self.made[-1]

    def list(self, **kwargs: Any) -> list[Container]:
        return self.listed


def create(engine: Engine, spec: ClusterSpec, ssh: SshMaterial | None = None) -> tuple[list[str], dict[str, Any]]:
    """Broker 1 of ``spec`` created on ``engine``; the command and options the engine was asked for."""
    engine_ = cast("docker.DockerClient", engine)
    node = spec.nodes()[0]
    create_node(
        engine_, "img", "net", spec=spec, node=node, run_id="r-ssh", cluster_id="c", host="127.0.0.1",
        proxy_port=1, direct_port=2, ssh=ssh,
    )  # fmt: skip
    return engine.created[-1]


def test_a_node_with_sshd_runs_host_sh_under_init_with_its_keys(material: SshMaterial) -> None:
    engine = Engine()
    command, options = create(engine, SPEC, material)
    assert command == ["sh", "/kafka-chaos/host.sh"]
    assert options["init"] is True and options["cap_add"] == ["NET_ADMIN"]
    assert set(options["environment"]) >= {"KAFKA_CHAOS_CLUSTER_ID", "KAFKA_CHAOS_JVM_OPTS"}
    files = engine.made[0].files
    assert files["host.sh"] == (0o755, packaged("host.sh")) and files["kafka-ctl"] == (0o755, packaged("kafka-ctl"))
    for name, data in material.node_files("broker-1").items():
        assert files[name][1] == data
    with pytest.raises(ValueError, match="needs the cluster's SSH keys"):
        create(engine, SPEC)
    command, options = create(engine, ClusterSpec())
    assert command == ["sh", "/kafka-chaos/start.sh"] and "init" not in options
    assert "host.sh" not in engine.made[-1].files


@pytest.mark.parametrize("script", ["host.sh", "kafka-ctl", "start.sh"])
def test_the_node_scripts_are_posix_sh(script: str, tmp_path: Path) -> None:
    (tmp_path / script).write_bytes(packaged(script))
    proc = subprocess.run(["dash", "-n", str(tmp_path / script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_kafka_ctl_says_how_it_is_used(tmp_path: Path) -> None:
    (tmp_path / "kafka-ctl").write_bytes(packaged("kafka-ctl"))
    proc = subprocess.run(["dash", str(tmp_path / "kafka-ctl"), "restart"], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stderr) == (2, "usage: kafka-ctl start|stop|pid\n")


def attach(spec: ClusterSpec, tmp_path: Path) -> KafkaCluster:
    network = type("Network", (), {"attrs": {"Labels": {SPEC_LABEL: spec_to_json(spec)}}})()
    engine = Engine([], [network])
    return KafkaCluster.attach("r-ssh", client=cast("docker.DockerClient", engine), run_dir=tmp_path)


def test_attach_finds_ssh_yaml_again_and_a_cluster_without_sshd_says_how(
    tmp_path: Path, cache: Path, material: SshMaterial
) -> None:
    cluster = attach(SPEC, tmp_path)
    with pytest.raises(InfrastructureError, match="SSH config of cluster r-ssh is not at"):
        cluster.ssh_config_path()  # written on another machine, or removed
    write_config("r-ssh", material, HOSTS)
    assert cluster.ssh_config_path() == cache / "r-ssh" / "ssh.yaml"
    with pytest.raises(UsageError) as info:
        attach(ClusterSpec(brokers=2), tmp_path).ssh_config_path()
    assert str(info.value) == "cluster r-ssh has no SSH servers: start one with `kafka-chaos cluster up --sshd`"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cluster", "up", "--sshd", "--disk", "kcfs"], "cannot mount kcfs again"),
        (["cluster", "up", "--sshd", "--kafka-image", "x:1"], "drop the Kafka image named"),
        (["images", "build", "--sshd", "--client-only"], "--client-only builds no image"),
    ],
)
def test_bad_sshd_input_exits_2_before_docker(args: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "chaos.cli", *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
