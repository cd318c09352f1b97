"""The ``SECURE`` (SASL_SSL) listener's material, made per cluster: a CA, one certificate per broker, one
user's password, the files each node gets, and the client properties files (no Docker here).

The secrets live in three places only: each node's ``/kafka-chaos`` inside its container (the secrets
file Kafka's ``FileConfigProvider`` reads, the storage format's SCRAM argument), the client directory
under the cache (:func:`client_dir`: mode 0700, the properties files 0600), and this process's memory.
server.properties names them (``${file:…}``), so it can be copied into a run directory or a log, and
nothing the harness writes there holds a password or a key.

The broker's key is an unencrypted PKCS#8 PEM given inline (``ssl.keystore.key``, with its chain in
``ssl.keystore.certificate.chain``), both read from the secrets file. Kafka's file PEM keystore
(``ssl.keystore.location``) would not do: it insists on ``ssl.key.password`` and then reads the key
as encrypted PKCS#8 with a PBES1 cipher only (Kafka 3.9 and 4.4 refuse the PBES2 keys ``cryptography``
and OpenSSL write: ``PBES2 SecretKeyFactory not available``).
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.cluster import cache_files
from chaos.errors import UsageError

#: The cache folder of these files (:mod:`chaos.cluster.cache_files`).
KIND = "secure"

if TYPE_CHECKING:  # cryptography is imported where certificates are made: config imports this module
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

#: The one user of the listener, accepted by both mechanisms.
USER = "kafka-chaos"
#: Mechanisms the listener enables; the first is the clients' default.
MECHANISMS = ("SCRAM-SHA-512", "PLAIN")
#: Client properties file of each mechanism, in :func:`client_dir`.
CLIENT_FILES = {"SCRAM-SHA-512": "client.properties", "PLAIN": "client-plain.properties"}
CA_FILE = "ca.pem"
#: Where a node's files are inside its container (``node_files.tar_dir``'s directory).
NODE_DIR = "/kafka-chaos"
SECRETS_FILE = "secrets.properties"
#: The storage format's ``--add-scram`` argument, read by start.sh: never on a command line of the
#: harness's own, never in the container's environment.
SCRAM_ARGUMENT_FILE = "scram.arg"
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}
#: Certificates outlive any cluster: a cluster left running for a week still serves.
_VALID_DAYS = 365


def _secret(name: str) -> str:
    return f"${{file:{NODE_DIR}/{SECRETS_FILE}:{name}}}"


def listener_settings(listener: str = "secure") -> dict[str, str]:
    """The broker settings of the SASL_SSL listener: no secret in them, only where Kafka reads each.

    >>> listener_settings()["listener.name.secure.ssl.keystore.key"]
    '${file:/kafka-chaos/secrets.properties:keystore_key}'
    """
    prefix = f"listener.name.{listener}"
    return {
        "config.providers": "file",
        "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
        f"{prefix}.sasl.enabled.mechanisms": ",".join(sorted(MECHANISMS)),
        f"{prefix}.plain.sasl.jaas.config": _secret("plain_jaas"),
        f"{prefix}.scram-sha-512.sasl.jaas.config": _secret("scram_jaas"),
        f"{prefix}.ssl.keystore.type": "PEM",
        f"{prefix}.ssl.keystore.key": _secret("keystore_key"),
        f"{prefix}.ssl.keystore.certificate.chain": _secret("keystore_chain"),
    }


@dataclass(frozen=True, slots=True)
class Keystore:
    """A broker's unencrypted PKCS#8 key and its certificate chain (its own, then the CA's), as PEM."""

    key_pem: str = field(repr=False)
    chain_pem: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SecureMaterial:
    """One cluster's CA, brokers' keystores and password; ``repr`` shows none of them."""

    password: str = field(repr=False)
    ca_pem: bytes = field(repr=False)
    #: Each broker's key and chain, by container host name.
    keystores: Mapping[str, Keystore] = field(repr=False)

    def node_files(self, host: str) -> dict[str, bytes]:
        """The files node ``host`` gets in ``/kafka-chaos``: a broker's secrets file, and every
        node's SCRAM argument (the controllers' format writes the credential into the metadata).
        """
        files = {SCRAM_ARGUMENT_FILE: f"SCRAM-SHA-512=[name={USER},password={self.password}]".encode()}
        if host in self.keystores:
            files[SECRETS_FILE] = self.secrets_properties(host).encode()
        return files

    def secrets_properties(self, host: str) -> str:
        """Broker ``host``'s secrets file (java.util.Properties), read by Kafka's FileConfigProvider:
        the JAAS configurations and its key and chain, one line each (``\\n`` for a line break).

        Raises:
            KeyError: ``host`` is not a broker of the cluster.
        """
        keystore = self.keystores[host]
        plain = f'{_LOGIN_MODULES["PLAIN"]} required user_{USER}="{self.password}";'
        scram = f"{_LOGIN_MODULES['SCRAM-SHA-512']} required;"
        return (
            f"plain_jaas={plain}\nscram_jaas={scram}\n"
            f"keystore_key={_one_line(keystore.key_pem)}\nkeystore_chain={_one_line(keystore.chain_pem)}\n"
        )

    def client_properties(self, mechanism: str, ca_path: Path) -> str:
        """Java client properties reaching the listener as :data:`USER` with ``mechanism``.

        Raises:
            UsageError: ``mechanism`` is not one the listener enables.
        """
        check_mechanism(mechanism)
        jaas = f'{_LOGIN_MODULES[mechanism]} required username="{USER}" password="{self.password}";'
        return (
            f"security.protocol=SASL_SSL\nsasl.mechanism={mechanism}\nsasl.jaas.config={jaas}\n"
            f"ssl.truststore.type=PEM\nssl.truststore.location={ca_path}\n"
        )


def _one_line(pem: str) -> str:
    # java.util.Properties reads a backslash and n as a line break; PEM has no backslash to escape.
    return pem.strip().replace("\n", "\\n")


def check_mechanism(mechanism: str) -> str:
    """``mechanism`` unchanged if the listener enables it.

    Raises:
        UsageError: it does not.
    """
    if mechanism not in MECHANISMS:
        raise UsageError(f"SASL mechanism {mechanism!r} is not one of {', '.join(MECHANISMS)}")
    return mechanism


def new_material(brokers: Sequence[str], published_host: str) -> SecureMaterial:
    """A new CA, a certificate for each broker host name in ``brokers`` and a random password.

    Each certificate names ``127.0.0.1``, ``localhost``, its broker's host name and
    ``published_host`` (where clients reach the published ports), so a client verifying host names
    accepts it at any of them.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kafka-chaos cluster CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    keystores: dict[str, Keystore] = {}
    for host in brokers:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]), ca_name, key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(subject_names(host, published_host)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        chain = cert.public_bytes(serialization.Encoding.PEM) + ca_pem
        keystores[host] = Keystore(key_pem.decode(), chain.decode())
    return SecureMaterial(secrets.token_hex(24), ca_pem, keystores)


def subject_names(host: str, published_host: str) -> list[x509.GeneralName]:
    """The names a broker's certificate is valid for: loopback, ``localhost``, ``host`` and ``published_host``.

    >>> [n.value for n in subject_names("broker-1", "127.0.0.1")]
    [IPv4Address('127.0.0.1'), 'localhost', 'broker-1']
    """
    from cryptography import x509

    names: list[x509.GeneralName] = []
    for name in ("127.0.0.1", "localhost", host, published_host):
        try:
            entry: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            entry = x509.DNSName(name)
        if entry not in names:
            names.append(entry)
    return names


def _builder(
    subject: x509.Name, issuer: x509.Name, key: EllipticCurvePublicKey, not_before: datetime.datetime
) -> x509.CertificateBuilder:
    from cryptography import x509

    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=_VALID_DAYS))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# -- the clients' files, outside any run directory ------------------------------------------------
def client_root() -> Path:
    """Where every cluster's client directory is: ``<cache>/secure`` (``~/.cache/kafka-chaos/secure``)."""
    return cache_files.root(KIND)


def client_dir(run_id: str) -> Path:
    """The directory of cluster ``run_id``'s CA and client properties files.

    Raises:
        UsageError: ``run_id`` is not a run id (so it never names a path outside :func:`client_root`).
    """
    return cache_files.run_dir(KIND, run_id)


def client_config_path(run_id: str, mechanism: str = MECHANISMS[0]) -> Path:
    """The client properties file of cluster ``run_id`` for ``mechanism`` (written or not).

    Raises:
        UsageError: an unknown mechanism or a malformed run id.
    """
    return client_dir(run_id) / CLIENT_FILES[check_mechanism(mechanism)]


def write_client_files(run_id: str, material: SecureMaterial) -> Path:
    """Write ``ca.pem`` and each mechanism's client properties (mode 0600) into :func:`client_dir`, a
    directory of mode 0700; returns it.

    Raises:
        OSError: the cache directory cannot be written.
    """
    directory = cache_files.made(KIND, run_id)
    ca = directory / CA_FILE
    cache_files.write_private(ca, material.ca_pem)
    for mechanism, name in CLIENT_FILES.items():
        cache_files.write_private(directory / name, material.client_properties(mechanism, ca.resolve()).encode())
    return directory


def remove_client_files(run_id: str | None = None) -> list[str]:
    """Remove cluster ``run_id``'s client directory (every cluster's when ``None``); returns the
    directories removed. Never raises: a directory already gone, or a string no cluster's run id can
    be (none was ever written for it), removes nothing.
    """
    return cache_files.remove(KIND, run_id)
