from __future__ import annotations

import pytest

from chaos.errors import UsageError
from chaos.images import recipes


def test_tags_are_stable_and_carry_the_version() -> None:
    assert recipes.kafka_tag("4.4.0") == recipes.kafka_tag("4.4.0")
    assert recipes.kafka_tag("4.4.0").startswith("kafka-chaos/kafka:4.4.0-")
    assert recipes.kafka_tag("3.9.1").startswith("kafka-chaos/kafka:3.9.1-")
    assert recipes.toxiproxy_tag().startswith("kafka-chaos/toxiproxy:2.5.0-")
    assert recipes.base_tag().startswith("kafka-chaos/base:bookworm-")


def test_tags_differ_per_version() -> None:
    assert recipes.kafka_tag("4.4.0").split("-")[-1] != recipes.kafka_tag("3.9.1").split("-")[-1]


def test_changing_any_recipe_input_changes_the_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    before = (recipes.base_tag(), recipes.kafka_tag("4.4.0"), recipes.toxiproxy_tag())
    real = recipes.recipe_file

    def patched(name: str) -> bytes:
        return real(name) + (b"\n# changed" if name == "kafka.Dockerfile" else b"")

    monkeypatch.setattr(recipes, "recipe_file", patched)
    assert recipes.kafka_tag("4.4.0") != before[1]
    assert recipes.toxiproxy_tag() == before[2]
    monkeypatch.setattr(recipes, "DEBIAN_PACKAGES", (*recipes.DEBIAN_PACKAGES, "curl"))
    assert recipes.base_tag() != before[0]
    # the Kafka image stands on the base, so a new base means a new Kafka tag as well
    monkeypatch.setattr(recipes, "recipe_file", real)
    assert recipes.kafka_tag("4.4.0") != before[1]


def test_pom_names_the_version_and_a_log4j2_binding() -> None:
    pom = recipes.kafka_pom("3.9.1")
    assert "<version>3.9.1</version>" in pom
    assert "log4j-slf4j2-impl" in pom
    assert "@KAFKA_VERSION@" not in pom


def test_user_named_images_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_CHAOS_KAFKA_IMAGE", raising=False)
    monkeypatch.delenv("KAFKA_CHAOS_TOXIPROXY_IMAGE", raising=False)
    refs = recipes.image_refs("4.4.0")
    assert refs.kafka == recipes.kafka_tag("4.4.0")
    monkeypatch.setenv("KAFKA_CHAOS_KAFKA_IMAGE", "apache/kafka:4.1.0")
    assert recipes.image_refs("4.4.0").kafka == "apache/kafka:4.1.0"
    assert recipes.image_refs("4.4.0", toxiproxy_image="ghcr.io/shopify/toxiproxy:2.12.0").toxiproxy.startswith(
        "ghcr.io"
    )


@pytest.mark.parametrize("bad", ["4", "4.4", "v4.4.0", "4.4.0-rc1", "", "latest"])
def test_malformed_versions_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="not a release number"):
        recipes.check_kafka_version(bad)


def test_too_old_versions_are_refused() -> None:
    with pytest.raises(UsageError, match="too old"):
        recipes.kafka_tag("3.6.2")
