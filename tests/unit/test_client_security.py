"""A team's client security settings (``--client-config``): read as Java reads them, handed to each
client in its own spelling, refused in one sentence when a client here could not honour them, and
never written anywhere: a spec carries the file's path, a report names a secret's key only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.errors import UsageError
from chaos.workloads.security import PLAINTEXT, Brokers, brokers_of, client_security, load_client_config
from chaos.workloads.spec import ProducerSpec, save_spec

PASSWORD = "s3cr3t-hunter2"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def write(tmp_path: Path, text: str, name: str = "client.properties") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def scram(tmp_path: Path, extra: str = "") -> Path:
    ca = write(tmp_path, PEM, "ca.pem")
    return write(
        tmp_path,
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n"
        f'    username="team" password="{PASSWORD}";\n'
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={ca}\n" + extra,
    )


def test_each_client_gets_the_settings_in_its_own_spelling(tmp_path: Path) -> None:
    security = load_client_config(scram(tmp_path))
    ca = str(tmp_path / "ca.pem")
    assert security.kafka_python() == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "team",
        "sasl_plain_password": PASSWORD,
        "ssl_check_hostname": True,
        "ssl_cafile": ca,
    }
    assert security.librdkafka() == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "team",
        "sasl.password": PASSWORD,
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.ca.location": ca,
    }
    assert client_security(str(tmp_path / "client.properties"), "librdkafka") == security.librdkafka()
    assert client_security(None, "kafka-python") == {}


def test_mutual_tls_without_host_name_checks(tmp_path: Path) -> None:
    ca = write(tmp_path, PEM, "ca.pem")
    pair = write(tmp_path, "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n" + PEM, "me.pem")
    path = write(
        tmp_path,
        f"security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={ca}\n"
        f"ssl.keystore.type=PEM\nssl.keystore.location={pair}\nssl.key.password={PASSWORD}\n"
        "ssl.endpoint.identification.algorithm=\n",
    )
    security = load_client_config(path)
    assert (
        security.kafka_python()["ssl_certfile"] == str(pair) and security.kafka_python()["ssl_check_hostname"] is False
    )
    rd = security.librdkafka()
    assert rd["ssl.certificate.location"] == rd["ssl.key.location"] == str(pair)
    assert rd["ssl.endpoint.identification.algorithm"] == "none" and rd["ssl.key.password"] == PASSWORD


def test_what_is_written_names_secrets_and_never_shows_them(tmp_path: Path) -> None:
    security = load_client_config(scram(tmp_path))
    named = security.named()
    assert named["sasl.jaas.config"] == "(set)" and named["security.protocol"] == "SASL_SSL"
    assert PASSWORD not in json.dumps(named) and PASSWORD not in repr(security)
    spec = ProducerSpec("p0", "t", "b:1", "r", str(tmp_path), client_config=str(security.path))
    save_spec(spec, tmp_path / "spec.json")
    text = (tmp_path / "spec.json").read_text()
    assert PASSWORD not in text and json.loads(text)["client_config"] == str(tmp_path / "client.properties")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("security.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\n", "sasl.mechanism GSSAPI is not one of"),
        ("security.protocol=TLS\n", "security.protocol TLS is not one of"),
        ("sasl.login.class=x\n", "sets sasl.login.class, which the harness does not pass on"),
        (
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config="
            f'org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="{PASSWORD}";\n',
            "must name org.apache.kafka.common.security.plain.PlainLoginModule for PLAIN",
        ),
        (
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config="
            'org.apache.kafka.common.security.plain.PlainLoginModule required username="u";\n',
            'needs username="…" and password="…"',
        ),
        ("security.protocol=SSL\nssl.truststore.location=/etc/ssl/kafka.jks\n", "ssl.truststore.type must be PEM"),
        (
            "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=relative.pem\n",
            "is not a PEM file at an absolute path",
        ),
    ],
)
def test_settings_no_client_here_could_honour_are_refused_in_one_sentence(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(UsageError) as e:
        load_client_config(write(tmp_path, text))
    assert says in str(e.value) and PASSWORD not in str(e.value) and "\n" not in str(e.value)


def test_a_missing_file_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the client config"):
        load_client_config(tmp_path / "nope.properties")


def test_the_drain_connects_with_the_same_settings(tmp_path: Path) -> None:
    security = load_client_config(scram(tmp_path))
    kwargs = Brokers("a:1,b:2", security).kafka_python()
    assert kwargs["bootstrap_servers"] == ["a:1", "b:2"] and kwargs["sasl_plain_password"] == PASSWORD
    assert brokers_of("a:1") == Brokers("a:1", PLAINTEXT) and brokers_of("a:1").kafka_python() == {
        "bootstrap_servers": ["a:1"]
    }


def test_no_log_line_shows_a_secret_once_the_file_is_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    load_client_config(scram(tmp_path))
    with caplog.at_level(logging.DEBUG, logger="kafka.admin.client"):
        # as kafka-python logs a client's configuration at DEBUG
        logging.getLogger("kafka.admin.client").debug("Starting with configuration: %s", {"pw": PASSWORD})
    assert caplog.records and PASSWORD not in caplog.text and "(secret)" in caplog.text


def test_a_file_that_cannot_be_read_or_parsed_is_one_sentence_without_its_contents(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the client config"):
        load_client_config(tmp_path)  # a directory
    bad = write(tmp_path, f'sasl.jaas.config=x password="\\uZZ9{PASSWORD}"\n')
    with pytest.raises(UsageError) as e:
        load_client_config(bad)
    assert "is not a Java properties file" in str(e.value) and "ZZ9" not in str(e.value)
    unreadable = write(
        tmp_path, "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=/proc/self/mem\n"
    )
    with pytest.raises(UsageError, match="is not a PEM file"):
        load_client_config(unreadable)


def test_a_file_that_is_no_properties_file_is_not_quoted(tmp_path: Path) -> None:
    token = write(tmp_path, "hvs.CAESIG0LDENSECRETTOKENabc123\n")
    with pytest.raises(UsageError) as e:
        load_client_config(token)
    assert "CAESIG" not in str(e.value) and "a key that is no client setting" in str(e.value)
    with pytest.raises(UsageError, match=r"sets sasl\.mechanisms, which the harness does not pass on"):
        load_client_config(write(tmp_path, "sasl.mechanisms=PLAIN\n"))  # a key is still named


def test_the_user_short_passwords_and_escaped_ones_are_hidden_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    path = write(
        tmp_path,
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config="
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        r'username="alice-svc" password="q\\\\7\\"z";'
        "\n",
    )
    security = load_client_config(path)
    assert security.login() == ("alice-svc", 'q\\7"z')  # the JAAS escapes read as Java reads them
    log = logging.getLogger("kafka.admin.client")
    with caplog.at_level(logging.DEBUG, logger="kafka.admin.client"):
        log.debug("config %s", {"user": "alice-svc", "pw": 'q\\7"z'})  # a dict's repr escapes the backslash
        log.debug("a quality answer")  # a short secret is no part of another word
    assert "alice-svc" not in caplog.text and "q\\\\7" not in caplog.text and "(secret)" in caplog.text
    assert "a quality answer" in caplog.text
    # a malformed call is left for logging to report, as it is without the hiding
    record = logging.getLogRecordFactory()("n", logging.INFO, "p", 1, "%d", ("not a number",), None)
    assert record.msg == "%d"
