"""The known Kafka bugs: each regression row's ``known_bug:`` is validate's catalogue entry, and
validate judges a team's releases by them."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.experiments.loading import load_experiment
from chaos.validate.known_bugs import KNOWN_BUGS, judged

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("row", "bug"), KNOWN_BUGS, ids=[row for row, _ in KNOWN_BUGS])
def test_each_regression_row_names_the_bug_validate_knows(row: str, bug: object) -> None:
    exp = load_experiment(ROOT / "experiments" / f"{row}.yaml")
    assert exp.name == row
    assert exp.known_bug == bug


def test_every_row_with_a_known_bug_is_in_the_catalogue() -> None:
    rows = {p.stem for p in (ROOT / "experiments").glob("*.yaml") if "known_bug:" in p.read_text()}
    assert rows == {row for row, _ in KNOWN_BUGS}


def test_the_client_s_release_decides_a_client_side_bug() -> None:
    on_old_client = {b.id: b.affected for b in judged("4.4.0", "3.9.1")}
    assert on_old_client == {"KAFKA-18641": True, "KAFKA-8350": True}
    on_cluster_release = {b.id: (b.release, b.affected) for b in judged("4.1.2")}
    assert on_cluster_release == {"KAFKA-18641": ("4.1.2", False), "KAFKA-8350": ("4.1.2", True)}
    assert {b.id: b.affected for b in judged("3.9.1", "4.2.0")} == {"KAFKA-18641": False, "KAFKA-8350": False}
    row = judged("4.4.0")[1]
    assert (row.url, row.fixed_in, row.row) == (
        "https://issues.apache.org/jira/browse/KAFKA-8350",
        ["4.2.0"],
        "k2-kafka-8350-oversized-batch-split-forever",
    )


def test_a_team_on_another_client_is_not_told_of_the_java_client_s_bugs() -> None:
    assert judged("4.4.0", None, "kafka-python") == []
    assert [b.id for b in judged("4.4.0", "3.9.1", "java")] == ["KAFKA-18641", "KAFKA-8350"]
