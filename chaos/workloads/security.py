"""A team's client security settings (``--client-config FILE``): read once, checked at load time, and
handed to every client in the spelling it takes — the Java client (the file's own keys),
librdkafka and kafka-python (the workloads, the drain and the harness's admin calls).

The file is a Java client properties file, the one a team already hands ``kafka-console-producer
--producer.config``. It holds secrets (a JAAS configuration with a password, a key's password), so
it is never copied: a workload spec carries the file's path, each client reads it where it runs,
and whatever the harness writes about it (:meth:`ClientSecurity.named`) names a secret key and
never shows its value.

The keys every client here honours the same way are the ones taken; any other ``security.``,
``ssl.`` or ``sasl.`` key is refused at load time, naming it, rather than honoured by one client and
ignored by another. Certificates are PEM files: the drain and the admin calls are kafka-python's,
which reads no Java key store.

Written by hand rather than with a library: no package maps Java client security keys onto
kafka-python's and librdkafka's; the file itself is parsed by ``javaproperties``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import javaproperties

from chaos.errors import UsageError
from chaos.workloads.settings import Setting

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
#: The login module each mechanism's ``sasl.jaas.config`` names.
_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}
#: Every key taken, and what it is.
KEYS = {
    "security.protocol": "the protocol",
    "sasl.mechanism": "the SASL mechanism",
    "sasl.jaas.config": "the login module, user and password",
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": "the CA certificates (PEM)",
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": "the client's key and certificate chain (PEM), for mutual TLS",
    "ssl.key.password": "the password of the client's key",
    "ssl.endpoint.identification.algorithm": "https (check the broker's host name) or empty (do not)",
}
#: Keys whose values are secrets: named, never shown.
SECRET_KEYS = frozenset({"sasl.jaas.config", "ssl.key.password"})
_JAAS = re.compile(r"^\s*(?P<module>[\w.$]+)\s+required\b(?P<options>.*?);?\s*$", re.DOTALL)
_OPTION = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')
#: What a Java client key looks like (lower-case words joined by dots).
_LOOKS_LIKE_A_KEY = re.compile(r"[a-z][a-z0-9-]*(\.[a-z0-9-]+)+")


@dataclass(frozen=True, slots=True)
class ClientSecurity:
    """The security settings of a team's clients (Java names), from ``path`` (None: PLAINTEXT, no file).

    ``props`` and the user and password read from its JAAS configuration are secrets: this object
    is never written anywhere; :meth:`named` is what may be.
    """

    path: Path | None = None
    props: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def protocol(self) -> str:
        """``security.protocol`` (PLAINTEXT when unset)."""
        return self.props.get("security.protocol", "PLAINTEXT").upper()

    @property
    def mechanism(self) -> str | None:
        """The SASL mechanism (None: no SASL)."""
        return self.props.get("sasl.mechanism", "GSSAPI").upper() if "SASL" in self.protocol else None

    def login(self) -> tuple[str, str]:
        """The user and password of the JAAS configuration (empty when unset): secrets."""
        raw = dict(_OPTION.findall(_jaas(self.props.get("sasl.jaas.config", ""))[1]))
        # a quoted JAAS value takes \" and \\ as Java's tokenizer reads them
        options = {k: re.sub(r"\\(.)", r"\1", v) for k, v in raw.items()}
        return options.get("username", ""), options.get("password", "")

    def _check_hostname(self) -> bool:
        return self.props.get("ssl.endpoint.identification.algorithm", "https").strip().lower() == "https"

    def kafka_python(self) -> dict[str, Setting]:
        """kafka-python's keyword arguments for these settings (empty: PLAINTEXT)."""
        out: dict[str, Setting] = {}
        if self.protocol == "PLAINTEXT":
            return out
        out["security_protocol"] = self.protocol
        if self.mechanism is not None:
            user, password = self.login()
            out.update(sasl_mechanism=self.mechanism, sasl_plain_username=user, sasl_plain_password=password)
        if "SSL" in self.protocol:
            out["ssl_check_hostname"] = self._check_hostname()
            if "ssl.truststore.location" in self.props:
                out["ssl_cafile"] = self.props["ssl.truststore.location"]
            if "ssl.keystore.location" in self.props:
                out["ssl_certfile"] = self.props["ssl.keystore.location"]
            if "ssl.key.password" in self.props:
                out["ssl_password"] = self.props["ssl.key.password"]
        return out

    def librdkafka(self) -> dict[str, Setting]:
        """librdkafka's configuration for these settings (empty: PLAINTEXT)."""
        out: dict[str, Setting] = {}
        if self.protocol == "PLAINTEXT":
            return out
        out["security.protocol"] = self.protocol.lower()
        if self.mechanism is not None:
            user, password = self.login()
            out.update({"sasl.mechanisms": self.mechanism, "sasl.username": user, "sasl.password": password})
        if "SSL" in self.protocol:
            out["ssl.endpoint.identification.algorithm"] = "https" if self._check_hostname() else "none"
            if "ssl.truststore.location" in self.props:
                out["ssl.ca.location"] = self.props["ssl.truststore.location"]
            if "ssl.keystore.location" in self.props:
                pem = self.props["ssl.keystore.location"]
                out.update({"ssl.certificate.location": pem, "ssl.key.location": pem})
            if "ssl.key.password" in self.props:
                out["ssl.key.password"] = self.props["ssl.key.password"]
        return out

    def for_client(self, client: str) -> dict[str, Setting]:
        """These settings as ``client`` (``kafka-python`` or ``librdkafka``) takes them; the Java
        client reads the file itself."""
        return self.librdkafka() if client == "librdkafka" else self.kafka_python()

    def named(self) -> dict[str, str]:
        """What is set, for a report or the run directory: each key with its value, a secret's as
        ``(set)``; the file's path, never its contents.

        >>> ClientSecurity(Path("c.properties"), {"security.protocol": "SASL_SSL", "sasl.jaas.config": "x"}).named()
        {'file': 'c.properties', 'sasl.jaas.config': '(set)', 'security.protocol': 'SASL_SSL'}
        """
        out = {"file": str(self.path)} if self.path is not None else {}
        out.update({k: "(set)" if k in SECRET_KEYS else v for k, v in sorted(self.props.items())})
        return out


#: No file: PLAINTEXT, as the harness's own clusters serve.
PLAINTEXT = ClientSecurity()


def _jaas(config: str) -> tuple[str, str]:
    """The login module and the options of a one-module ``sasl.jaas.config`` (``("", "")``: none)."""
    match = _JAAS.match(config) if config.strip() else None
    return (match["module"], match["options"]) if match else ("", "")


def load_client_config(path: Path | str) -> ClientSecurity:
    """Read and check a client properties file.

    Raises:
        UsageError: the file cannot be read, sets a key not taken here, a protocol or mechanism not
            supported, a JAAS configuration without a user and password of the mechanism's module,
            a certificate that is not a readable PEM file — one sentence naming the key and the fix.
            A secret's value is never in the message.
    """
    where = Path(path).expanduser()
    try:
        with where.open(encoding="utf-8") as f:
            props: dict[str, str] = {k.strip(): v.strip() for k, v in javaproperties.load(f).items()}
    except OSError as e:
        raise UsageError(f"cannot read the client config {where}: {e.strerror or type(e).__name__}") from None
    except (UnicodeDecodeError, ValueError) as e:  # the message would quote the file (a secret maybe)
        raise UsageError(
            f"client config {where} is not a Java properties file in UTF-8 ({type(e).__name__}): fix its escapes"
        ) from None
    unknown = sorted(k for k in props if k not in KEYS)
    if unknown:
        # A key is named only when it looks like one: a file that is no properties file (a token, a
        # key's body) must not have its first line printed.
        shown = unknown[0] if _LOOKS_LIKE_A_KEY.fullmatch(unknown[0]) else "a key that is no client setting"
        raise UsageError(
            f"client config {where} sets {shown}, which the harness does not pass on to every client: "
            f"use only {', '.join(KEYS)}"
        )
    security = ClientSecurity(where.resolve(), props)
    _check(security, where)
    hide_in_logs([*security.login(), *(props[k] for k in SECRET_KEYS if k in props)])
    return security


#: The secrets read in this process (and their escaped forms), which no log line may show.
_HIDDEN: dict[str, re.Pattern[str]] = {}


def hide_in_logs(secrets: Iterable[str]) -> None:
    """Replace each of ``secrets`` (and its escaped forms: a ``repr`` of a dict shows ``\\`` doubled)
    with ``(secret)`` in every log record this process makes from now on: kafka-python logs a
    client's whole configuration at DEBUG (``-vv``), user and password included. A secret shorter
    than 8 characters is replaced only where it stands alone (not inside a longer word). Done once for
    the process, as a log record factory (handlers come and go; every record passes here)."""
    forms = {form for s in secrets if s for form in (s, repr(s)[1:-1], json.dumps(s)[1:-1])}
    fresh = forms - set(_HIDDEN)
    if not fresh:
        return
    if not _HIDDEN:
        make = logging.getLogRecordFactory()

        def hiding(*args: object, **kwargs: object) -> logging.LogRecord:
            record = make(*args, **kwargs)
            try:
                text = record.getMessage()
            except (TypeError, ValueError):  # a malformed call: logging reports it, as without this factory
                return record
            hidden = _hide(text)
            if hidden != text:
                record.msg, record.args = hidden, None
            return record

        logging.setLogRecordFactory(hiding)
    for form in sorted(fresh, key=len, reverse=True):
        _HIDDEN[form] = re.compile(re.escape(form) if len(form) >= 8 else rf"(?<![\w]){re.escape(form)}(?![\w])")


def _hide(text: str) -> str:
    for pattern in _HIDDEN.values():
        text = pattern.sub("(secret)", text)
    return text


def _check(security: ClientSecurity, where: Path) -> None:
    props = security.props
    if security.protocol not in PROTOCOLS:
        raise UsageError(
            f"client config {where}: security.protocol {security.protocol} is not one of {', '.join(PROTOCOLS)}"
        )
    if security.mechanism is not None:
        _check_sasl(security, where)
    for kind in ("truststore", "keystore"):
        location = props.get(f"ssl.{kind}.location")
        if location is None:
            continue
        if props.get(f"ssl.{kind}.type", "JKS").upper() != "PEM":
            raise UsageError(
                f"client config {where}: ssl.{kind}.type must be PEM (the drain and admin calls are kafka-python's, "
                f"which read no Java key store): export it as PEM and set ssl.{kind}.type=PEM"
            )
        file = Path(location)
        try:
            pem = file.is_absolute() and file.is_file() and b"-----BEGIN " in file.read_bytes()[:65536]
        except OSError:
            pem = False
        if not pem:
            raise UsageError(
                f"client config {where}: ssl.{kind}.location {location} is not a PEM file at an absolute path"
            )


def _check_sasl(security: ClientSecurity, where: Path) -> None:
    mechanism = security.mechanism or ""
    if mechanism not in MECHANISMS:
        raise UsageError(f"client config {where}: sasl.mechanism {mechanism} is not one of {', '.join(MECHANISMS)}")
    module, _ = _jaas(security.props.get("sasl.jaas.config", ""))
    if module != _MODULES[mechanism]:
        raise UsageError(
            f"client config {where}: sasl.jaas.config must name {_MODULES[mechanism]} for {mechanism}"
            f"{f', not {module}' if module else ''}"
        )
    user, password = security.login()
    if not user or not password:
        raise UsageError(f'client config {where}: sasl.jaas.config needs username="…" and password="…"')


def client_security(path: str | None, client: str) -> dict[str, Setting]:
    """The settings of the file at ``path`` as ``client`` takes them (empty: no file, PLAINTEXT).

    Raises:
        UsageError: the file is unreadable or not accepted (see :func:`load_client_config`).
    """
    return load_client_config(path).for_client(client) if path else {}


@dataclass(frozen=True, slots=True)
class Brokers:
    """Where the harness's own kafka-python clients (the drain, its admin calls) connect: the
    bootstrap servers and the team's security settings."""

    servers: str
    security: ClientSecurity = PLAINTEXT

    def kafka_python(self) -> dict[str, object]:
        """kafka-python's ``bootstrap_servers`` and security keyword arguments."""
        return {"bootstrap_servers": self.servers.split(","), **self.security.kafka_python()}


def brokers_of(where: Brokers | str) -> Brokers:
    """``where`` as :class:`Brokers` (a plain ``host:port,…`` is PLAINTEXT)."""
    return where if isinstance(where, Brokers) else Brokers(where)
