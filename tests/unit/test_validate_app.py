"""validate --app and --app-config without a cluster: which application the matrix runs, how the
matrix changes around it, and the sentences for what cannot run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.errors import UsageError
from chaos.validate.app_option import DEFAULT_ENV, application_from
from chaos.validate.findings import TeamConfig
from chaos.validate.matrix import experiment_for, plan_matrix
from chaos.validate.properties import Properties

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "settings"


def test_a_program_on_the_path_with_arguments_is_a_command_and_one_other_word_an_image(tmp_path: Path) -> None:
    consumer = tmp_path / "consumer.properties"
    app = application_from(f"{Path(sys.executable).name} -m orders", None, consumer)
    assert app is not None and app.command == [Path(sys.executable).name, "-m", "orders"] and app.image is None
    assert app.env == {**DEFAULT_ENV, "CONSUMER_CONFIG": str(consumer.resolve())}
    image = application_from("orders-enricher:1.4", None, consumer)
    assert image is not None and image.image == "orders-enricher:1.4" and image.command == []
    assert application_from(None, None, consumer) is None


def test_an_app_config_gives_the_environment_shape_and_correlation_and_its_relative_program(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    program = tmp_path / "bin" / "app"
    program.write_text("#!/bin/sh\n")
    config = tmp_path / "app.yaml"
    config.write_text(
        "application:\n  command: [bin/app, --fast]\n  env: {BROKERS: '${bootstrap}'}\n"
        "  output: {correlate: {header: kafka-chaos}}\n"
    )
    app = application_from(None, config, tmp_path / "c.properties")
    assert app is not None and app.command == [str(program), "--fast"] and app.env == {"BROKERS": "${bootstrap}"}


@pytest.mark.parametrize(
    ("app", "config", "message"),
    [
        ("", None, "--app is empty"),
        ("no-such-program --flag", None, "no-such-program is no program on this machine"),
        (None, "application: [1]\n", "must hold an application: mapping"),
        (None, "application: {command: [./gone]}\n", "does not exist"),
        (None, "application: {command: [sh], env: {X: '1'}}\n", "never told where the brokers are"),
    ],
)
def test_what_cannot_run_is_one_sentence(tmp_path: Path, app: str | None, config: str | None, message: str) -> None:
    path = None
    if config is not None:
        path = tmp_path / "app.yaml"
        path.write_text(config)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("[", r"\[")):
        application_from(app, path, tmp_path / "c.properties")


def test_the_matrix_runs_the_application_as_its_consumer_and_fails_duplicates() -> None:
    app = application_from(f"{Path(sys.executable).name} relay.py", None, Path("c.properties"))
    cfg = TeamConfig(Properties("p", {}, {}), Properties("c", {}, {}))
    settings: dict[str, dict[str, str]] = {"producer": {}, "consumer": {}, "topic": {}, "broker": {}}
    exp = experiment_for("consumer_kill", "team", settings, cfg, "sync", "after_process", app)
    assert exp.consumer is None and exp.application == app
    assert [f.params["workload"] for f in exp.faults] == ["application-0"]
    assert exp.expect == {"total_loss": 0, "duplicate_outputs": 0}
    with pytest.raises(UsageError, match="--producer-mode outbox cannot write an application's input"):
        plan_matrix(cfg, ["consumer_kill"], False, "outbox", "after_process", app)


def test_static_only_runs_no_application() -> None:
    kafka_chaos = shutil.which("kafka-chaos") or "kafka-chaos"
    proc = subprocess.run(
        [
            kafka_chaos,
            "validate",
            "--producer-config",
            str(EXAMPLES / "producer-safe.properties"),
            "--consumer-config",
            str(EXAMPLES / "consumer-manual-commit.properties"),
            "--static-only",
            "--app",
            "orders:1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "kafka-chaos: --static-only runs no fault matrix, so it runs no application: drop --app or --static-only"
    ), proc.stderr
