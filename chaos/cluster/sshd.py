"""Nodes reached over SSH (``ClusterSpec.sshd``): the keys, and the files that say how to reach them.

Such a cluster looks like a team's hosts: every node's container runs OpenSSH's server (``host.sh``),
and Kafka is a process in it started by ``kafka-ctl start`` with its pid in :data:`PID_FILE`, so a
SIGKILL of Kafka leaves the container, and its SSH server, running.

Per cluster, one ed25519 client key (root's only authorized key on every node); per node, one
ed25519 host key, made here and copied in, so the harness knows every host key before a node starts
and ``known_hosts`` is written without trusting a first connection. Both are OpenSSH's own format.
The client's files live outside any run directory, under the cache (:func:`ssh_dir`: mode 0700,
the private key 0600), and go with the cluster (:func:`remove_ssh_files`, called by the sweep):

* ``id_ed25519``: the client's private key, written before any node is created;
* ``known_hosts``: ``<address> ssh-ed25519 <key>``, one line per node, written once it is healthy;
* ``ssh.yaml``: user, port, those two paths, how Kafka is found and started, the interface its
  network faults cut, and each node's address by node id (:func:`ssh_yaml`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chaos.cluster import cache_files

#: The cache folder of these files (:mod:`chaos.cluster.cache_files`).
KIND = "ssh"

USER = "root"
PORT = 22
#: Where ``kafka-ctl start`` writes Kafka's pid inside a node.
PID_FILE = "/run/kafka.pid"
#: The command that starts Kafka again in a node, over SSH or not (it refuses a second one).
START_COMMAND = "sh /kafka-chaos/kafka-ctl start"
#: A node's interface on the run's network (its only one).
INTERFACE = "eth0"
IDENTITY_FILE = "id_ed25519"
KNOWN_HOSTS_FILE = "known_hosts"
CONFIG_FILE = "ssh.yaml"
#: A node's files in ``/kafka-chaos`` (``host.sh`` installs them where sshd reads them).
HOST_KEY_FILE = "ssh_host_ed25519_key"
AUTHORIZED_KEYS_FILE = "authorized_keys"
#: Scalars written bare in ssh.yaml; anything else is quoted.
_PLAIN = re.compile(r"[A-Za-z0-9_./+][A-Za-z0-9_./+-]*")


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An ed25519 key: the private half in OpenSSH's format, the public one as ``ssh-ed25519 AAAA…``."""

    private: bytes = field(repr=False)
    public: str


@dataclass(frozen=True, slots=True)
class SshMaterial:
    """One cluster's client key and each node's host key; ``repr`` shows no private half."""

    client: KeyPair
    #: Each node's host key, by container host name.
    host_keys: Mapping[str, KeyPair]

    def node_files(self, host: str) -> dict[str, bytes]:
        """The files node ``host`` gets in ``/kafka-chaos``: the client's public key as root's
        ``authorized_keys``, and the node's host key (both halves).

        Raises:
            KeyError: ``host`` is not a node of the cluster.
        """
        key = self.host_keys[host]
        return {
            AUTHORIZED_KEYS_FILE: f"{self.client.public} kafka-chaos\n".encode(),
            HOST_KEY_FILE: key.private,
            f"{HOST_KEY_FILE}.pub": f"{key.public}\n".encode(),
        }


def new_key() -> KeyPair:
    """A new ed25519 key, unencrypted."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return KeyPair(private, public.decode())


def new_material(hosts: Sequence[str]) -> SshMaterial:
    """A new client key, and a host key for each container host name in ``hosts``."""
    return SshMaterial(new_key(), {host: new_key() for host in hosts})


# -- the client's files, outside any run directory -------------------------------------------------
def ssh_root() -> Path:
    """Where every cluster's SSH directory is: ``<cache>/ssh`` (``~/.cache/kafka-chaos/ssh``)."""
    return cache_files.root(KIND)


def ssh_dir(run_id: str) -> Path:
    """The directory of cluster ``run_id``'s client key, ``known_hosts`` and ``ssh.yaml``.

    Raises:
        UsageError: ``run_id`` is not a run id (so it never names a path outside :func:`ssh_root`).
    """
    return cache_files.run_dir(KIND, run_id)


def ssh_config_path(run_id: str) -> Path:
    """Cluster ``run_id``'s ``ssh.yaml`` (written or not).

    Raises:
        UsageError: a malformed run id.
    """
    return ssh_dir(run_id) / CONFIG_FILE


def write_identity(run_id: str, material: SshMaterial) -> Path:
    """Write the client's private key (mode 0600) into :func:`ssh_dir`, a directory of mode 0700;
    returns the key's path.

    Raises:
        UsageError: a malformed run id.
        OSError: the cache directory cannot be written.
    """
    directory = cache_files.made(KIND, run_id)
    path = directory / IDENTITY_FILE
    cache_files.write_private(path, material.client.private)
    return path


def known_hosts(material: SshMaterial, addresses: Mapping[int, tuple[str, str]]) -> str:
    """``known_hosts``: ``<address> ssh-ed25519 <key>`` for each node, by node id; ``addresses``
    maps a node id to its container host name and its address on the run's network.

    Raises:
        KeyError: a host name without a host key.
    """
    return "".join(f"{ip} {material.host_keys[host].public}\n" for _, (host, ip) in sorted(addresses.items()))


def ssh_yaml(directory: Path, addresses: Mapping[int, str]) -> str:
    """``ssh.yaml`` for the files in ``directory`` and each node's address, by node id.

    >>> print(ssh_yaml(Path("/c/ssh/r"), {2: "172.18.0.4", 1: "172.18.0.3"}), end="")
    user: root
    port: 22
    identity_file: /c/ssh/r/id_ed25519
    known_hosts: /c/ssh/r/known_hosts
    kafka:
      pid_file: /run/kafka.pid
      start: sh /kafka-chaos/kafka-ctl start
    interface: eth0
    nodes:
      1: {host: 172.18.0.3}
      2: {host: 172.18.0.4}
    """
    lines = [
        f"user: {USER}",
        f"port: {PORT}",
        f"identity_file: {_scalar(str(directory / IDENTITY_FILE))}",
        f"known_hosts: {_scalar(str(directory / KNOWN_HOSTS_FILE))}",
        "kafka:",
        f"  pid_file: {PID_FILE}",
        f"  start: {START_COMMAND}",
        f"interface: {INTERFACE}",
        "nodes:",
        *(f"  {node_id}: {{host: {_scalar(ip)}}}" for node_id, ip in sorted(addresses.items())),
    ]
    return "\n".join(lines) + "\n"


def _scalar(text: str) -> str:
    # A path of the usual characters bare, as the other lines are; any other one quoted (JSON's
    # double-quoted strings are YAML's too).
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


def write_config(run_id: str, material: SshMaterial, addresses: Mapping[int, tuple[str, str]]) -> Path:
    """Write ``known_hosts`` and ``ssh.yaml`` (each mode 0600) beside the client's key; ``addresses``
    maps each node id to its container host name and its address on the run's network. Returns
    ``ssh.yaml``'s path.

    Raises:
        UsageError: a malformed run id.
        KeyError: a host name without a host key.
        OSError: the cache directory cannot be written.
    """
    directory = cache_files.made(KIND, run_id)
    cache_files.write_private(directory / KNOWN_HOSTS_FILE, known_hosts(material, addresses).encode())
    path = directory / CONFIG_FILE
    cache_files.write_private(path, ssh_yaml(directory.resolve(), {i: ip for i, (_, ip) in addresses.items()}).encode())
    return path


def remove_ssh_files(run_id: str | None = None) -> list[str]:
    """Remove cluster ``run_id``'s SSH directory (every cluster's when ``None``); returns the
    directories removed. Never raises: a directory already gone, or a string no cluster's run id can
    be (none was ever written for it), removes nothing.
    """
    return cache_files.remove(KIND, run_id)
