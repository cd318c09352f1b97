"""validate's rough edges of the input, through the command line: surrogate pairs, a byte order mark,
Java's line breaks, binary data, inline comments, a failure that says why, JSON on every exit, and
exit 3 for a release without its jars on a machine without a JDK. Judged, like
``test_validate_kafka.py``, by the release's own definitions in a JVM.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaos.cli import main
from chaos.images.kafka_configs import kafka_configs
from chaos.images.recipes import DEFAULT_KAFKA_VERSION
from chaos.validate import read_properties

pytestmark = pytest.mark.usefixtures("jdk")  # Kafka's own definitions and readers, run in a JVM

SAFE_CONSUMER = "enable.auto.commit=false\nauto.offset.reset=earliest\n"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    try:
        main(["validate", *args, "--json", "-q"])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def files(tmp_path: Path, producer: bytes, consumer: bytes = SAFE_CONSUMER.encode()) -> list[str]:
    """A static review of ``producer`` beside a safe consumer and a safe topic."""
    (tmp_path / "p.properties").write_bytes(producer)
    (tmp_path / "c.properties").write_bytes(consumer)
    (tmp_path / "t.properties").write_bytes(b"replication.factor=3\nmin.insync.replicas=2\n")
    return [
        "--producer-config",
        str(tmp_path / "p.properties"),
        "--consumer-config",
        str(tmp_path / "c.properties"),
        "--topic-config",
        str(tmp_path / "t.properties"),
        "--static-only",
        "--reports",
        str(tmp_path / "r"),
    ]


def test_an_escaped_emoji_is_one_character(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # What Properties.store writes for 😀: a UTF-16 surrogate pair.
    code, data, _ = run_cli(files(tmp_path, b"client.rack=app-\\ud83d\\ude00\nacks=all\n"), capsys)
    assert code == 0 and data["verdict"] == "PASS"
    assert data["recommended"]["producer"]["client.rack"] == "app-\U0001f600"
    main(["validate", *files(tmp_path, b"client.rack=app-\\ud83d\\ude00\n")[:-2], "--reports", str(tmp_path / "t")])


def test_a_byte_order_mark_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data, err = run_cli(files(tmp_path, b"\xef\xbb\xbfacks=all\n"), capsys)
    assert code == 2 and "byte order mark" in err and "acks" in err and len(err.strip().splitlines()) == 1
    assert data["exit_code"] == 2 and "byte order mark" in data["error"]


@pytest.mark.parametrize("separator", [b"\x85", b"\x1c", b"\x0c", b"\xe2\x80\xa8"])
def test_only_java_s_line_breaks_end_a_line(separator: bytes, tmp_path: Path) -> None:
    path = tmp_path / "p.properties"
    path.write_bytes(b"client.id=a" + separator + b"b\nacks=all\n")
    props = read_properties(path)
    assert set(props.values) == {"client.id", "acks"} and props.values["client.id"].startswith("a")


def test_binary_without_nul_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    noise = bytes(range(1, 256)) * 8
    code, data, err = run_cli(files(tmp_path, noise), capsys)
    assert code == 2 and "binary data" in err and data["exit_code"] == 2


def test_an_inline_comment_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _ = run_cli(files(tmp_path, b"linger.ms=5 # five\nclient.rack=eu-1a # the app\n"), capsys)
    assert code == 1
    by = {f["setting"]: f for f in data["static"]}
    assert by["linger.ms"]["severity"] == "config" and "no inline comments" in by["linger.ms"]["why"]
    assert by["client.rack"]["severity"] == "info" and "no inline comments" in by["client.rack"]["why"]


def test_a_static_failure_always_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Only a loss risk, no refused setting: the heading must still have something under it.
    code, _, _ = run_cli(files(tmp_path, b"acks=1\n"), capsys)
    assert code == 1
    (report,) = (tmp_path / "r").iterdir()
    md = (report / "validate.md").read_text()
    why = md.split("## Why it fails\n\n", 1)[1].split("\n\n", 1)[0]
    assert "`acks`" in why and "risks loss" in why
    assert "processing: batched (assumed" in md and f"Kafka {DEFAULT_KAFKA_VERSION}'s own definitions" in md


def test_every_outcome_is_json_even_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _ = run_cli([*files(tmp_path, b"acks=all\n"), "--processing", "sometimes"], capsys)
    assert code == 2 and data["exit_code"] == 2 and "sometimes" in data["error"]
    code, data, _ = run_cli([*files(tmp_path, b"acks=all\n"), "--processing", "in-poll"], capsys)
    assert code == 0 and data["processing"] == {"value": "in-poll", "stated": True, "process_ms": None}


def test_a_release_without_its_jars_on_a_machine_without_a_jdk_is_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor javac
    monkeypatch.delenv("JAVA_HOME", raising=False)
    kafka_configs.cache_clear()
    try:
        code, data, err = run_cli(files(tmp_path, b"acks=all\n"), capsys)
    finally:
        kafka_configs.cache_clear()
    assert code == 3 and "install a JDK" in err and data["exit_code"] == 3
