from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chaos.labels import RUN_LABEL, check_run_id, new_run_id, resource_name, run_filter, run_labels


def test_run_id_is_sortable_by_time_and_valid() -> None:
    early = new_run_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "aaaa")
    late = new_run_id(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC), "0000")
    assert early == "20260102-030405-aaaa"
    assert early < late
    fresh = new_run_id()
    assert check_run_id(fresh) == fresh and check_run_id(early) == early  # valid, and returned unchanged


@pytest.mark.parametrize("bad", ["", "ab", "UPPER", "has space", "a/b", "-lead", "x" * 49])
def test_bad_run_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="run id"):
        check_run_id(bad)


def test_every_resource_label_carries_the_run() -> None:
    labels = run_labels("r-1", "broker", 3)
    assert labels[RUN_LABEL] == "r-1"
    assert labels["kafka-chaos.role"] == "broker"
    assert labels["kafka-chaos.node-id"] == "3"
    assert run_labels("r-1") == {RUN_LABEL: "r-1"}


def test_filters_select_one_run_or_all() -> None:
    assert run_filter("r-1") == {"label": ["kafka-chaos.run=r-1"]}
    assert run_filter() == {"label": ["kafka-chaos.run"]}
    assert resource_name("r-1", "broker-2") == "kafka-chaos-r-1-broker-2"
