"""The hosts of a team's cluster as the ``ssh`` fault backend reaches them: an ``ssh.yaml`` file
(``--ssh-config``) naming each node's host, how to log in, and how its Kafka process is found and
started again.

Example::

    user: kafka-ops
    identity_file: ~/.ssh/id_ed25519     # else the keys of the user's SSH agent and ~/.ssh
    known_hosts: ~/.ssh/known_hosts      # every host's key must be there: an unknown host is refused
    sudo: true                           # run the verbs through ``sudo -n`` (iptables needs root)
    kafka:
      systemd_unit: kafka                # or pid_file: /run/kafka.pid with start: <command>
    interface: eth0                      # where tc limits bandwidth
    rule_expiry: 600                     # seconds after which a host removes a rule by itself
    nodes:
      1: {host: kafka-1.staging}
      2: {host: 10.0.4.12, port: 2222, address: 10.1.4.12}

``docs/external-clusters.md`` has the contract. Nothing here connects: :func:`load_ssh_config`
only reads and checks.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chaos.errors import UsageError

#: The shortest expiry a rule may have: a fault's heal must come first.
MIN_EXPIRY = 60.0
_UNIT = re.compile(r"^[A-Za-z0-9@._:-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaProcess(_Strict):
    """How the Kafka process of every host is found and started: a systemd unit, or a pid file
    with the command that starts it again."""

    systemd_unit: str | None = Field(None, min_length=1)
    pid_file: str | None = Field(None, min_length=1)
    start: str | None = Field(None, min_length=1)
    #: A file the process logs to, copied into the run's logs (optional).
    log_file: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_way(self) -> KafkaProcess:
        if (self.systemd_unit is None) == (self.pid_file is None):
            raise ValueError("give either systemd_unit or pid_file (with start)")
        if self.pid_file is not None and self.start is None:
            raise ValueError("pid_file needs start: the command that starts Kafka again on the host")
        if self.systemd_unit is not None and not _UNIT.match(self.systemd_unit):
            raise ValueError(f"systemd_unit {self.systemd_unit!r} is not a unit name")
        return self

    def pid_command(self) -> str:
        """The shell command printing the process's pid (nothing when none runs)."""
        if self.systemd_unit is not None:
            return f"systemctl show -p MainPID --value {self.systemd_unit} | grep -v '^0$'"
        return f"cat {_quote(str(self.pid_file))} 2>/dev/null"

    def start_command(self) -> str:
        """The shell command that starts the process again."""
        if self.systemd_unit is not None:
            return f"systemctl start {self.systemd_unit}"
        return str(self.start)


class HostModel(_Strict):
    """One node: where SSH reaches it, and (``address``) where the other nodes reach it, when that differs."""

    host: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    port: int | None = Field(None, ge=1, le=65535)
    #: An IPv4 address (iptables rules name it); absent: the address ``host`` resolves to.
    address: IPv4Address | None = None


class SshConfig(_Strict):
    """An ``ssh.yaml`` file (see the module docstring)."""

    user: str = Field("root", min_length=1)
    port: int = Field(22, ge=1, le=65535)
    identity_file: Path | None = None
    known_hosts: Path = Path("~/.ssh/known_hosts")
    sudo: bool = False
    kafka: KafkaProcess
    interface: str = Field("eth0", pattern=r"^[A-Za-z0-9_.@-]{1,15}$")
    rule_expiry: float = Field(600.0, ge=MIN_EXPIRY)
    connect_timeout: float = Field(10.0, gt=0)
    nodes: dict[int, HostModel] = Field(min_length=1)
    #: Where the file was read from (for messages), set by :func:`load_ssh_config`.
    source: str = ""

    def host_of(self, node_id: int) -> HostModel:
        """Node ``node_id``'s host. Raises KeyError when the file names none."""
        return self.nodes[node_id]

    def as_root(self, script: str) -> str:
        """``script`` as the shell command that runs it as root (through ``sudo -n`` when asked)."""
        return f"sudo -n sh -c {_quote(script)}" if self.sudo else script


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def load_ssh_config(path: Path) -> SshConfig:
    """Read and check an ``ssh.yaml`` file; paths in it are taken relative to the file.

    Raises:
        UsageError: the file is missing, not YAML, or says something this backend cannot use
            (one sentence naming the field).
    """
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read the SSH config {path}: {e.strerror}: check --ssh-config") from None
    except yaml.YAMLError as e:
        raise UsageError(f"the SSH config {path} is not YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(
            f"the SSH config {path} must be a mapping with kafka: and nodes: (see docs/external-clusters.md)"
        )
    try:
        config = SshConfig.model_validate({**data, "source": str(path)})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise UsageError(f"the SSH config {path}: {where}: {first['msg']}") from None
    base = path.parent
    updates: dict[str, Path] = {}
    for name in ("identity_file", "known_hosts"):
        value: Path | None = getattr(config, name)
        if value is not None:
            expanded = value.expanduser()
            updates[name] = expanded if expanded.is_absolute() else base / expanded
    config = config.model_copy(update=updates)
    if config.identity_file is not None and not _readable(config.identity_file):
        # Its value is not repeated: a key pasted in by mistake would be shown.
        raise UsageError(
            f"the SSH config {path} names an identity_file that is not a readable file: give the key's path"
        )
    if not _readable(config.known_hosts):
        raise UsageError(
            f"the SSH config {path} checks host keys against {config.known_hosts}, which does not exist: "
            "add the hosts' keys there (ssh-keyscan HOST >> FILE) or name the file in known_hosts"
        )
    return config


def _readable(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long to be a path, say
        return False
