"""The published JSON Schemas (docs/schemas/) are the models' own, and every output the harness
writes validates against them with an independent validator (jsonschema), not only with the
models that wrote it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from chaos.cli import cli
from chaos.cli.schema import SCHEMAS, schema_text
from chaos.oracle import reconcile, reconcile_and_write
from chaos.oracle.synthetic_txn import SyntheticTxn, write_transactions
from chaos.oracle.verdict import Verdict
from tests.helpers.reports import make_run, synthetic_suite

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "docs" / "schemas"


def published(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((PUBLISHED / f"{name}.json").read_text())
    return schema


def holds(name: str, data: object) -> None:
    jsonschema.validate(data, published(name), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_published_schema_is_the_models_own(name: str) -> None:
    assert (PUBLISHED / f"{name}.json").read_text() == schema_text(name), (
        f"docs/schemas/{name}.json is stale: regenerate it with  kafka-chaos schema {name} > docs/schemas/{name}.json"
    )
    jsonschema.Draft202012Validator.check_schema(published(name))


def test_the_command_prints_each_schema() -> None:
    for name in SCHEMAS:
        result = CliRunner().invoke(cli, ["schema", name])
        assert result.exit_code == 0 and result.output == schema_text(name)
    refused = CliRunner().invoke(cli, ["schema", "verdicts"])
    assert refused.exit_code == 2 and "'verdicts' is not one of" in refused.output


def test_verdicts_hold_conclusive_inconclusive_and_transactional(tmp_path: Path) -> None:
    make_run(tmp_path / "a", {"broker_loss": ">0"})
    reconcile_and_write(tmp_path / "a")
    data = json.loads((tmp_path / "a" / "verdict.json").read_text())
    assert data["schema_version"] == 1 and data["conclusive"] and data["loss"]["broker"] > 0
    assert data["availability"], "a run with faults has availability rows to check"
    holds("verdict", data)

    drain = tmp_path / "a" / "drain" / "drain.json"
    drain.write_text(json.dumps({**json.loads(drain.read_text()), "complete": False}))
    inconclusive = json.loads(reconcile(tmp_path / "a").to_json())
    assert inconclusive["loss"] == {"producer": None, "broker": None, "consumer": None}
    holds("verdict", inconclusive)

    (tmp_path / "t").mkdir()
    write_transactions([SyntheticTxn(6, "committed"), SyntheticTxn(4, "aborted")], tmp_path / "t")
    txn = json.loads(reconcile(tmp_path / "t").to_json())
    assert txn["transactions"]["committed"] > 0
    holds("verdict", txn)


def test_a_verdict_breaking_the_contract_is_refused_by_the_schema(tmp_path: Path) -> None:
    make_run(tmp_path / "a", {})
    data = json.loads(reconcile(tmp_path / "a").to_json())
    for broken in (
        {**data, "counts": {**data["counts"], "sent": -1}},
        {**data, "loss": {"producer": 0, "broker": 0}},
        {**data, "surprise": 1},
        {**data, "schema_version": 2},
    ):
        with pytest.raises(jsonschema.ValidationError):
            holds("verdict", broken)


def test_a_verdict_written_before_the_schema_reads_back(tmp_path: Path) -> None:
    make_run(tmp_path / "a", {})
    data = json.loads(reconcile(tmp_path / "a").to_json())
    del data["schema_version"]
    data.update(transactions={}, transform={})  # how a run without either said so then
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = Verdict.read(tmp_path / "old.json")
    assert old.transactions is None and old.transform is None and old.counts.sent == data["counts"]["sent"]


def test_suite_json_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite, _ = synthetic_suite(monkeypatch, tmp_path, "s", 2)
    data = json.loads((suite.suite_dir / "suite.json").read_text())
    assert data["schema_version"] == 1 and len(data["runs"]) == 2
    holds("suite", data)


def test_validate_json_holds(tmp_path: Path, jdk: tuple[str, str]) -> None:
    examples = ROOT / "examples" / "settings"
    args = [
        "validate",
        "--producer-config",
        str(examples / "producer-acks1.properties"),
        "--consumer-config",
        str(examples / "consumer-auto-commit.properties"),
        "--static-only",
        "--reports",
        str(tmp_path),
        "-q",
    ]
    assert CliRunner().invoke(cli, args).exit_code == 1
    (out,) = tmp_path.iterdir()
    data = json.loads((out / "validate.json").read_text())
    assert data["schema_version"] == 1 and data["static"]
    holds("validate", data)


@pytest.mark.parametrize("path", sorted((ROOT / "experiments").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_experiment_file_holds(path: Path) -> None:
    holds("experiment", yaml.safe_load(path.read_text()))


def test_an_experiment_file_with_an_unknown_field_is_refused_by_the_schema() -> None:
    with pytest.raises(jsonschema.ValidationError):
        holds("experiment", {"name": "x", "producer": {"rate": 10}, "fualts": []})


def test_the_expectation_metrics_name_every_count_and_anomaly() -> None:
    from chaos.oracle.anomalies import ANOMALY_NAMES
    from chaos.oracle.expectations import COUNT_FIELDS, METRICS, TRANSACTION_FIELDS
    from chaos.oracle.verdict import Counts, Transactions

    assert list(COUNT_FIELDS) == list(Counts.model_fields)
    assert list(TRANSACTION_FIELDS) == list(Transactions.model_fields)
    assert {m for m, (section, _) in METRICS.items() if section == "anomalies"} == set(ANOMALY_NAMES)


def test_a_verdict_that_contradicts_itself_does_not_read(tmp_path: Path) -> None:
    make_run(tmp_path / "a", {"broker_loss": "0"})
    data = json.loads(reconcile(tmp_path / "a").to_json())
    assert data["conclusive"] and not data["passed"]  # the run lost records; the expectation says none
    for name, edited in {
        "passed": {**data, "passed": True},
        "conclusive": {**data, "conclusive": False},
        "no loss figure": {**data, "loss": {"producer": None, "broker": None, "consumer": None}},
    }.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(edited))
        with pytest.raises(ValueError):
            Verdict.read(tmp_path / f"{name}.json")
