"""The application section without a cluster: loading refuses what cannot run in one sentence
naming the line, the input is written in its shape with its identity in a header the drain decodes,
and outputs are correlated by key, header or JMESPath, or reported as uncorrelated."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.experiments.loading import load_experiment
from chaos.experiments.model import ExperimentFileError
from chaos.experiments.plan import plan_experiment
from chaos.workloads.app_output import identity
from chaos.workloads.application import Correlation
from chaos.workloads.envelope import Status, decode
from chaos.workloads.shape import HEADER, InputShape, parse_id, tag_header

APP = """\
name: app
producer: {{mode: {mode}, rate: 100, duration: 5}}
application:
  command: [{command}]
  env: {{BOOTSTRAP_SERVERS: "{bootstrap}"}}
  input: {{value: {{order: "${{id}}", n: "${{seq}}"}}, key: {key}}}
  output: {{correlate: {correlate}}}
"""


def write(tmp_path: Path, **fields: str) -> Path:
    program = tmp_path / "app.sh"
    program.write_text("#!/bin/sh\n")
    values = {"mode": "async", "command": "./app.sh", "bootstrap": "${bootstrap}", "key": '"${id}"', "correlate": "key"}
    path = tmp_path / "app.yaml"
    path.write_text(APP.format(**{**values, **fields}))
    return path


def test_a_well_formed_section_plans_its_input_shape_group_and_absolute_command(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path))
    plan = plan_experiment(exp, "20261205-000000-ab12", tmp_path / "run")
    app, producer = plan.application, plan.producers[0]
    assert app is not None and producer.shape is not None
    assert app.command == (str(tmp_path / "app.sh"),)
    assert app.group == "kc-app-ab12-app" and app.output_topic == "app-out" and plan.groups == ["kc-app-ab12-app"]
    assert producer.shape.render("p0", 7) == (b"p0-7", b'{"order": "p0-7", "n": 7}')
    assert [w for w in exp.workload_names if w.startswith("application")] == ["application-0"]


@pytest.mark.parametrize(
    ("fields", "line", "message"),
    [
        ({"bootstrap": "localhost:9092"}, 3, "never told where the brokers are: put ${bootstrap}"),
        ({"bootstrap": "${broker}"}, 3, "unknown placeholder ${broker}: use bootstrap, input_topic"),
        ({"key": "null"}, 3, "correlate: key needs the input key to hold ${id}"),
        ({"correlate": "{json: 'a[?'}"}, 7, "is not a JMESPath expression"),
        ({"correlate": "{header: h, json: a}"}, 7, "give one of header: NAME or json: EXPRESSION"),
        ({"command": "./missing.sh"}, 4, "missing.sh does not exist: give the application's program"),
        ({"mode": "outbox"}, 2, "an application's input is written in mode async, sync, fire_and_forget"),
        ({"key": '"${nope}"'}, 6, "unknown placeholder ${nope}"),
    ],
)
def test_a_section_that_cannot_run_is_refused_naming_its_line(
    tmp_path: Path, fields: dict[str, str], line: int, message: str
) -> None:
    with pytest.raises(ExperimentFileError) as e:
        load_experiment(write(tmp_path, **fields))
    assert f"app.yaml:{line}:" in str(e.value) and message in str(e.value), str(e.value)


def test_the_identity_header_checksums_key_and_value_and_names_the_record() -> None:
    shape = InputShape('{"order": "${id}"}', "c-${slot}", 3)
    key, value = shape.render("p0", 5)
    head = tag_header("r1", "p0", 5, key, value)
    assert decode(head + value, "r1", key).seq == 5
    assert decode(head + value.replace(b"p0-5", b"p0-6"), "r1", key).status == Status.CORRUPTED
    assert decode(head + value, "r1", b"c-0").status == Status.CORRUPTED  # the key is covered too
    assert parse_id(head.decode()) == ("p0", 5)


@dataclass
class Out:
    key: bytes | None = None
    value: bytes | None = None
    headers: list[tuple[str, bytes]] | None = None


def test_outputs_are_correlated_where_the_experiment_says_or_said_why_not() -> None:
    header = Correlation("header", HEADER)
    json_path = Correlation("json", "input.order")
    assert identity(Out(key=b"p0-3"), Correlation("key")) == ("p0-3", "")
    assert identity(Out(), Correlation("key")) == (None, "no key")
    assert identity(Out(headers=[(HEADER, b"kc2;r;p0;9;0;")]), header) == ("kc2;r;p0;9;0;", "")
    assert identity(Out(headers=[("other", b"x")]), header) == (None, f"no header {HEADER}")
    value = json.dumps({"input": {"order": "p0-4"}}).encode()
    assert identity(Out(value=value), json_path) == ("p0-4", "")
    assert identity(Out(value=b"not json"), json_path) == (None, "the value is not JSON")
    assert identity(Out(value=b"{}"), json_path) == (None, "nothing at input.order")
    assert parse_id("p0-x") is None and parse_id(" p1-12 ") == ("p1", 12)


SHAPE_MAIN = """
import java.nio.charset.StandardCharsets;
import java.util.Map;
public final class ShapeMain {
    public static void main(String[] a) {
        KafkaChaosShape s = new KafkaChaosShape(Map.of("value", a[0], "key", a[1], "slots", 3L));
        for (long seq : new long[] {0, 7, 123456789012L}) {
            byte[] k = s.key("p1", seq), v = s.value("p1", seq);
            String h = new String(KafkaChaosShape.header("r9", "p1", seq, k, v), StandardCharsets.UTF_8);
            System.out.println(new String(k, StandardCharsets.UTF_8) + "\\t" + new String(v, StandardCharsets.UTF_8)
                + "\\t" + h);
        }
    }
}
"""


def test_the_java_driver_writes_an_application_s_input_as_the_python_writers_do(
    jdk: tuple[str, str], tmp_path: Path
) -> None:
    import subprocess

    from chaos.images.java_driver import driver_source

    java, javac = jdk
    for name in ("KafkaChaosShape", "KafkaChaosSpec", "KafkaChaosJson"):
        (tmp_path / f"{name}.java").write_bytes(driver_source(name))
    (tmp_path / "ShapeMain.java").write_text(SHAPE_MAIN)
    out = tmp_path / "classes"
    sources = sorted(str(p) for p in tmp_path.glob("*.java"))
    subprocess.run([javac, "-encoding", "UTF-8", "-d", str(out), *sources], check=True, timeout=300)
    value, key = '{"order": "${id}", "n": ${seq}, "p": "$producer", "cost": "$$3", "é": "${slot}"}', "c-${slot}"
    proc = subprocess.run([java, "-cp", str(out), "ShapeMain", value, key], capture_output=True, check=True, timeout=60)
    shape = InputShape(value, key, 3)
    expected = []
    for seq in (0, 7, 123456789012):
        k, v = shape.render("p1", seq)
        assert k is not None
        expected.append(f"{k.decode()}\t{v.decode()}\t{tag_header('r9', 'p1', seq, k, v).decode()}")
    assert proc.stdout.decode().splitlines() == expected
