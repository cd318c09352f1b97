"""One SSH connection per host of a team's cluster (paramiko), checked against the user's known
hosts, over which the ``ssh`` backend runs its shell commands.

paramiko rather than the ``ssh`` program: one connection serves every command of a run (a fault
acts within milliseconds, not a handshake per command), errors come as exceptions that name what
failed, and a host key is checked against ``known_hosts`` without a prompt.
"""

from __future__ import annotations

import logging
import threading

import paramiko

from chaos.cluster.ssh_config import HostModel, SshConfig
from chaos.errors import InfrastructureError, UsageError

#: How long one command may take before the connection is given up on.
COMMAND_TIMEOUT = 60.0


class SshSession:
    """A connection to one host; :meth:`run` runs a shell command there.

    Raises (from :meth:`connect`):
        UsageError: the host does not answer, refuses the key, or its key is unknown or differs
            from ``known_hosts``; one sentence naming the host and what to check.
    """

    def __init__(self, config: SshConfig, host: HostModel) -> None:
        self.config = config
        self.host = host.host
        self.port = host.port or config.port
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """``user@host:port``, for messages."""
        return f"{self.config.user}@{self.host}:{self.port}"

    def connect(self) -> None:
        """Open the connection (once). See the class docstring for what raises."""
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            # paramiko logs a traceback of every failed handshake; the one sentence raised says it all.
            logging.getLogger("paramiko").setLevel(logging.CRITICAL)
        with self._lock:
            if self._client is not None:
                return
            client = paramiko.SSHClient()
            try:
                client.load_host_keys(str(self.config.known_hosts))
            except (OSError, ValueError, paramiko.SSHException) as e:
                raise UsageError(
                    f"cannot read the host keys in {self.config.known_hosts} ({type(e).__name__}): give a known_hosts "
                    "file of plain host key lines (ssh-keyscan writes them)"
                ) from None
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            key = self.config.identity_file
            try:
                client.connect(
                    self.host,
                    self.port,
                    username=self.config.user,
                    key_filename=str(key) if key is not None else None,
                    look_for_keys=key is None,
                    allow_agent=True,
                    timeout=self.config.connect_timeout,
                    banner_timeout=self.config.connect_timeout,
                    auth_timeout=self.config.connect_timeout,
                )
            except paramiko.BadHostKeyException:
                client.close()
                raise UsageError(
                    f"the host key of {self.where} differs from the one in {self.config.known_hosts}: "
                    "check you reach the host you meant, then correct known_hosts"
                ) from None
            except paramiko.PasswordRequiredException:
                client.close()
                raise UsageError(
                    f"the identity_file in {self.config.source} is protected by a passphrase, which the harness "
                    "does not ask for: load the key into your SSH agent and leave identity_file out"
                ) from None
            except paramiko.AuthenticationException:
                client.close()
                raise UsageError(
                    f"{self.where} refused the login: check user and identity_file in {self.config.source} "
                    "(or the keys of your SSH agent)"
                ) from None
            except paramiko.SSHException as e:
                client.close()
                if "known_hosts" in str(e):
                    raise UsageError(
                        f"{self.where} is not in {self.config.known_hosts}: add its key "
                        f"(ssh-keyscan -p {self.port} {self.host} >> {self.config.known_hosts}) after checking it"
                    ) from None
                raise UsageError(f"SSH to {self.where} failed: {e}") from None
            except (TimeoutError, OSError, EOFError, ValueError) as e:
                client.close()
                raise UsageError(
                    f"could not reach {self.where} over SSH ({getattr(e, 'strerror', None) or e}): check the host "
                    f"and port in {self.config.source}"
                ) from None
            self._client = client

    def run(self, command: str, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
        """Run ``command`` with the login's shell; return its exit code and combined output.

        Raises:
            InfrastructureError: the connection failed or the command outran ``timeout``.
        """
        self.connect()
        assert self._client is not None
        try:
            transport = self._client.get_transport()
            if transport is None or not transport.is_active():
                raise paramiko.SSHException("the connection is closed")
            channel = transport.open_session(timeout=timeout)
            channel.set_combine_stderr(True)
            channel.settimeout(timeout)
            channel.exec_command(command)
            chunks = []
            while True:
                data = channel.recv(65536)
                if not data:
                    break
                chunks.append(data)
            code = channel.recv_exit_status()
            channel.close()
            if code == -1:  # the connection ended before the command's exit was known
                raise paramiko.SSHException("the connection ended before the command finished")
        except (TimeoutError, paramiko.SSHException, OSError) as e:
            self.close()
            what = command.split(maxsplit=1)[0] if command.split() else "a command"
            raise InfrastructureError(
                f"SSH to {self.where} failed while running {what}: {type(e).__name__} {e}".rstrip()
            ) from None
        return code, b"".join(chunks).decode(errors="replace")

    def close(self) -> None:
        """Close the connection (a later :meth:`run` opens a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
