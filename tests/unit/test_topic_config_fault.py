"""The topic_config fault against a fake admin client: what it sets, that it checks the brokers
took it, and that heal puts back exactly what was there (the topic's own value, or no override)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chaos.errors import UsageError
from chaos.faults import topic_config
from chaos.faults.base import FaultContext, FaultError, Timeline, make_fault


class FakeAdmin:
    """A topic's configs: its own overrides, on top of the broker defaults."""

    def __init__(self, own: dict[str, str], ignore_sets: bool = False) -> None:
        self.own = dict(own)
        self.defaults = {"max.message.bytes": "1048588", "min.insync.replicas": "1"}
        self.ignore_sets = ignore_sets
        self.calls: list[dict[str, Any]] = []
        #: Answers still given from the configs before the last change, as a broker whose metadata
        #: has not caught up does.
        self.stale_answers = 0
        self.before: dict[str, str] = dict(own)

    def describe_configs(self, resources: list[Any], config_filter: str = "modified") -> dict[str, Any]:
        (resource,) = resources
        entries = {}
        configs = self.before if self.stale_answers > 0 else self.own
        self.stale_answers -= 1
        for key in resource.configs:
            own = key in configs
            value = configs[key] if own else self.defaults[key]
            entries[key] = {"value": value, "config_source": "DYNAMIC_TOPIC_CONFIG" if own else "DEFAULT_CONFIG"}
        return {"topic": {resource.name: entries}}

    def alter_configs(self, resources: list[Any], incremental: bool | None = None) -> None:
        (resource,) = resources
        assert incremental is True
        self.calls.append(dict(resource.configs))
        self.before = dict(self.own)
        for key, (op, value) in resource.configs.items():
            if op == "SET" and not self.ignore_sets:
                self.own[key] = value
            elif op == "DELETE":
                self.own.pop(key, None)


class FakeCluster:
    def __init__(self, admin: FakeAdmin, run_dir: Path) -> None:
        self.admin = admin
        self.run_dir = run_dir

    def admin_call(self, fn: Callable[[FakeAdmin], Any]) -> Any:
        return fn(self.admin)


def context(admin: FakeAdmin, tmp_path: Path) -> FaultContext:
    cluster: Any = FakeCluster(admin, tmp_path)
    return FaultContext(cluster, timeline=Timeline(tmp_path), topic="orders")


def test_it_sets_the_values_and_heal_restores_an_override_and_removes_a_new_one(tmp_path: Path) -> None:
    admin = FakeAdmin({"min.insync.replicas": "2"})
    fault = make_fault("topic_config", config={"max.message.bytes": 65536, "min.insync.replicas": 3})
    ctx = context(admin, tmp_path)
    fault.inject(ctx)
    assert admin.own == {"max.message.bytes": "65536", "min.insync.replicas": "3"}
    assert fault.targets == ["topic:orders"]
    fault.heal(ctx)
    assert admin.own == {"min.insync.replicas": "2"}
    assert admin.calls[-1] == {"max.message.bytes": ("DELETE", None), "min.insync.replicas": ("SET", "2")}


def test_a_value_the_brokers_did_not_take_fails_the_injection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topic_config, "SETTLE_S", 0.5)
    fault = make_fault("topic_config", topic="other", config={"max.message.bytes": 65536})
    with pytest.raises(FaultError, match=re.escape("max.message.bytes is '1048588', not '65536'")):
        fault.inject(context(FakeAdmin({}, ignore_sets=True), tmp_path))


@pytest.mark.parametrize(
    ("params", "words"),
    [({}, "needs config"), ({"config": {"a": [1]}}, "is not a setting and a plain value")],
)
def test_bad_parameters_are_one_sentence(params: dict[str, Any], words: str) -> None:
    with pytest.raises(UsageError, match=words):
        make_fault("topic_config", **params)


def test_a_heal_the_brokers_did_not_take_is_a_failed_heal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topic_config, "SETTLE_S", 0.5)
    admin = FakeAdmin({"min.insync.replicas": "2"})
    fault = make_fault("topic_config", config={"min.insync.replicas": 3})
    ctx = context(admin, tmp_path)
    fault.inject(ctx)
    admin.ignore_sets = True
    with pytest.raises(FaultError, match=re.escape("min.insync.replicas is still '3' after the heal, not 2")):
        fault.heal(ctx)


def test_a_broker_answering_before_its_metadata_caught_up_is_asked_again(tmp_path: Path) -> None:
    """Any broker may answer, and one whose metadata has not yet applied the change answers the old
    value: inject and heal look again until the change shows (a heal read once failed a run)."""
    admin = FakeAdmin({})
    fault = make_fault("topic_config", config={"max.message.bytes": 65536})
    ctx = context(admin, tmp_path)
    admin.stale_answers = 0
    original = admin.alter_configs

    def alter_then_two_stale_answers(resources: list[Any], incremental: bool | None = None) -> None:
        original(resources, incremental)
        admin.stale_answers = 2

    admin.alter_configs = alter_then_two_stale_answers  # type: ignore[method-assign]
    fault.inject(ctx)
    assert admin.own == {"max.message.bytes": "65536"}
    fault.heal(ctx)
    assert admin.own == {}
    assert admin.stale_answers < 0  # the heal looked past both stale answers
