"""validate without Docker: the properties parser, the static review of examples/settings/, and
malformed input refused with exit code 2 before anything starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaos.cli import main
from chaos.validate import PropertiesError, parse_properties, read_properties, recommended, review

pytestmark = pytest.mark.usefixtures("jdk")  # validate reads the release's definitions in a JVM first

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "settings"


def test_properties_syntax_as_java_reads_it() -> None:
    text = (
        "# comment\n"
        "! also a comment\n"
        "\n"
        "plain=value\n"
        "  spaced   :   colon value  \n"
        "blank separated value\n"
        "continued = one, \\\n"
        "            two, \\\n"
        "            three\n"
        "escaped\\=key = a\\tb\\u00e9\\\\\n"
        "empty=\n"
        "lonely\n"
    )
    props = parse_properties(text, "f")
    assert props.values == {
        "plain": "value",
        "spaced": "colon value  ",
        "blank": "separated value",
        "continued": "one, two, three",
        "escaped=key": "a\tb\u00e9\\",
        "empty": "",
        "lonely": "",
    }
    assert props.lines["continued"] == 7 and props.lines["lonely"] == 12


def test_duplicate_keys_keep_the_last_and_are_flagged() -> None:
    props = parse_properties("acks=1\nacks=all\n", "p.properties")
    assert props.values["acks"] == "all" and props.duplicates == {"acks": [1, 2]}
    cfg = review(props, parse_properties("enable.auto.commit=false\n", "c"))
    assert any(f.setting == "acks" and "set 2 times" in f.why for f in cfg.findings)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"bad=\\u00zz\n", "bad.properties:1: malformed \\u escape"),
        (b"=value\n", "bad.properties:1: a value without a key"),
        (b"\x00\x01binary", "binary data, not a Java properties file"),
    ],
)
def test_malformed_properties_name_the_line(content: bytes, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.properties"
    path.write_bytes(content)
    with pytest.raises(PropertiesError) as e:
        read_properties(path)
    assert fragment in str(e.value)


def test_example_acks1_producer_names_acks() -> None:
    cfg = review(
        read_properties(EXAMPLES / "producer-acks1.properties"),
        read_properties(EXAMPLES / "consumer-manual-commit.properties"),
        read_properties(EXAMPLES / "topic-min-isr-2.properties"),
    )
    acks = [f for f in cfg.findings if f.setting == "acks"]
    assert len(acks) == 1 and acks[0].severity == "loss" and acks[0].stage == "broker"
    assert acks[0].where.endswith("producer-acks1.properties:5") and acks[0].fix == "acks=all"
    assert recommended(cfg)["producer"]["acks"] == "all"


def test_example_auto_commit_consumer_names_enable_auto_commit() -> None:
    cfg = review(
        read_properties(EXAMPLES / "producer-safe.properties"),
        read_properties(EXAMPLES / "consumer-auto-commit.properties"),
        read_properties(EXAMPLES / "topic-min-isr-2.properties"),
    )
    loss = [f for f in cfg.findings if f.severity == "loss"]
    assert next(f.setting for f in loss if f.stage == "consumer") == "enable.auto.commit"
    assert recommended(cfg)["consumer"]["enable.auto.commit"] == "false"


def test_example_safe_settings_raise_no_loss_risk() -> None:
    cfg = review(
        read_properties(EXAMPLES / "producer-safe.properties"),
        read_properties(EXAMPLES / "consumer-manual-commit.properties"),
        read_properties(EXAMPLES / "topic-min-isr-2.properties"),
    )
    assert [f for f in cfg.findings if f.severity in ("loss", "config")] == []
    substituted = next(f for f in cfg.findings if f.setting == "substituted")
    assert "producer bootstrap.servers" in str(substituted.value) and "consumer group.id" in str(substituted.value)


@pytest.mark.parametrize(
    ("producer", "consumer", "topic", "setting", "severity"),
    [
        ("acks=0\n", "", "", "acks", "loss"),
        ("retries=0\n", "", "", "retries", "loss"),
        ("enable.idempotence=false\n", "", "", "enable.idempotence", "duplicates"),
        ("delivery.timeout.ms=5000\nrequest.timeout.ms=3000\n", "", "", "delivery.timeout.ms", "loss"),
        ("request.timeout.ms=1000\nenable.idempotence=false\n", "", "", "request.timeout.ms", "duplicates"),
        ("max.in.flight.requests.per.connection=10\n", "", "", "max.in.flight.requests.per.connection", "config"),
        ("enable.idempotance=true\n", "", "", "enable.idempotance", "config"),
        ("acks=sometimes\n", "", "", "acks", "config"),
        ("acks=1\nenable.idempotence=true\n", "", "", "acks", "config"),
        ("", "", "min.insync.replicas=1\n", "min.insync.replicas", "loss"),
        ("", "", "replication.factor=3\nmin.insync.replicas=3\n", "min.insync.replicas", "availability"),
        ("", "", "replication.factor=1\n", "replication.factor", "loss"),
        ("", "", "replication.factor=2\n", "min.insync.replicas", "loss"),
        ("", "", "unclean.leader.election.enable=true\n", "unclean.leader.election.enable", "loss"),
        ("", "", "flush.messages=1\n", "flush.messages", "info"),
        ("", "", "retention.msec=1\n", "retention.msec", "config"),
        ("", "enable.auto.commit=true\n", "", "enable.auto.commit", "loss"),
        ("", "auto.commit.enable=false\n", "", "auto.commit.enable", "config"),
        ("partitioner.class=x.Y\n", "", "", "partitioner.class", "info"),
    ],
)
def test_each_rule(producer: str, consumer: str, topic: str, setting: str, severity: str) -> None:
    cfg = review(
        parse_properties(producer, "p"),
        parse_properties(consumer or "enable.auto.commit=false\nauto.offset.reset=earliest\n", "c"),
        parse_properties(topic, "t") if topic else None,
    )
    matching = [f for f in cfg.findings if f.setting == setting]
    assert matching, [f.setting for f in cfg.findings]
    assert matching[0].severity == severity, matching[0]


def test_a_misspelled_key_names_the_closest_one() -> None:
    cfg = review(parse_properties("enable.idempotance=true\n", "p"), parse_properties("", "c"))
    finding = next(f for f in cfg.findings if f.setting == "enable.idempotance")
    assert "did you mean enable.idempotence?" in finding.why
    assert "enable.idempotance" not in cfg.producer_run


@pytest.mark.parametrize("kind", ["producer", "consumer", "topic", "broker"])
@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("binary", "binary data"),
        ("escape", "malformed \\u escape"),
        ("unreadable", "cannot read it"),
    ],
)
def test_bad_files_exit_2_before_anything_starts(
    kind: str, case: str, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / f"{kind}.properties"
    if case == "directory":
        bad.mkdir()
    elif case == "binary":
        bad.write_bytes(b"\x00\xff")
    elif case == "escape":
        bad.write_text("acks=\\uZZZZ\n")
    elif case == "unreadable":  # a path through a file: reading it fails whoever runs the test
        bad.write_text("acks=all\n")
        bad = bad / "inner.properties"
    files = {
        "producer": EXAMPLES / "producer-safe.properties",
        "consumer": EXAMPLES / "consumer-manual-commit.properties",
    }
    files[kind] = bad
    args = ["validate", *(a for k, path in files.items() for a in (f"--{k}-config", str(path)))]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--reports", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert fragment in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_unknown_fault_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "validate",
                "--producer-config",
                str(EXAMPLES / "producer-safe.properties"),
                "--consumer-config",
                str(EXAMPLES / "consumer-manual-commit.properties"),
                "--faults",
                "leader_kill,meteor",
            ]
        )
    assert exit_info.value.code == 2
    assert "unknown fault 'meteor'" in capsys.readouterr().err


def test_static_only_writes_the_reports_and_fails_on_a_loss_risk(tmp_path: Path) -> None:
    args = [
        "validate",
        "--producer-config",
        str(EXAMPLES / "producer-acks1.properties"),
        "--consumer-config",
        str(EXAMPLES / "consumer-auto-commit.properties"),
        "--static-only",
        "--reports",
        str(tmp_path),
        "-q",
    ]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 1
    (out,) = tmp_path.iterdir()
    data = json.loads((out / "validate.json").read_text())
    assert data["verdict"] == "FAIL" and data["static_only"]
    assert {"acks", "enable.auto.commit"} <= {f["setting"] for f in data["static"] if f["severity"] == "loss"}
    for name in ("validate.md", "report.html", "junit.xml", "validate.sarif"):
        assert (out / name).exists()


def run_validate(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    try:
        main(["validate", *args, "--json", "-q"])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def static_only(producer: Path, reports: Path) -> list[str]:
    """Arguments of a static review of ``producer`` beside examples/settings/' safe consumer and topic files."""
    return [
        "--producer-config",
        str(producer),
        "--consumer-config",
        str(EXAMPLES / "consumer-manual-commit.properties"),
        "--topic-config",
        str(EXAMPLES / "topic-min-isr-2.properties"),
        "--static-only",
        "--reports",
        str(reports),
    ]


def test_static_only_passes_safe_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_validate(static_only(EXAMPLES / "producer-safe.properties", tmp_path), capsys)
    assert code == 0 and data["verdict"] == "PASS" and data["matrix"] == []
    assert not [f for f in data["static"] if f["severity"] in ("loss", "config")]


def test_a_setting_the_client_would_not_apply_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    producer = tmp_path / "producer.properties"
    producer.write_text((EXAMPLES / "producer-safe.properties").read_text() + "enable.idempotance=true\n")
    code, data = run_validate(static_only(producer, tmp_path / "r"), capsys)
    assert code == 1 and data["verdict"] == "FAIL"
    (config,) = [f for f in data["static"] if f["severity"] == "config"]
    assert config["setting"] == "enable.idempotance" and "enable.idempotence" in config["fix"]


def test_compare_plans_the_recommended_settings_beside_the_teams() -> None:
    from chaos.validate.matrix import plan_matrix

    cfg = review(
        read_properties(EXAMPLES / "producer-acks1.properties"),
        read_properties(EXAMPLES / "consumer-auto-commit.properties"),
        read_properties(EXAMPLES / "topic-min-isr-2.properties"),
    )
    entries = plan_matrix(cfg, ["leader_kill", "consumer_kill"], compare=True)
    assert [(e.fault, e.variant) for e in entries] == [
        ("leader_kill", "team"),
        ("leader_kill", "recommended"),
        ("consumer_kill", "team"),
        ("consumer_kill", "recommended"),
    ]
    team, fixed = entries[2].experiment, entries[3].experiment
    assert team.producer.settings["acks"] == "1" and fixed.producer.settings["acks"] == "all"
    assert team.consumer is not None and team.consumer.strategy == "auto"
    assert fixed.consumer is not None and fixed.consumer.strategy == "after_process"


def test_a_matrix_run_that_could_not_complete_exits_3_not_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An infrastructure failure is no verdict on the settings: exit 3, unlike a settings FAIL (1)."""
    from chaos.results import RunResult
    from chaos.validate import matrix

    def broken(entries: list[matrix.MatrixEntry], cfg: object, out_dir: Path, options: object) -> matrix.Matrix:
        runs = [
            matrix.MatrixRun(
                e.fault, e.variant, RunResult(e.experiment.name, None, out_dir, "r1", error="no Docker"), ""
            )
            for e in entries
        ]
        return matrix.Matrix(runs)

    monkeypatch.setattr(matrix, "run_matrix", broken)
    code, data = run_validate(
        [
            "--producer-config",
            str(EXAMPLES / "producer-safe.properties"),
            "--consumer-config",
            str(EXAMPLES / "consumer-manual-commit.properties"),
            "--faults",
            "consumer_kill",
            "--reports",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 3, data
    assert data["matrix"][0]["status"] == "ERROR" and data["matrix"][0]["error"] == "no Docker"
