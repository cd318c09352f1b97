"""Every key the settings tables know, resolved for every client and role, against a stored
expectation (``golden/settings_resolutions.json``: a digest of each key's resolutions, recorded when
the three resolvers became one table-driven one). A change to what any key resolves to, or to the
error a key is refused with, shows here with the key's new resolutions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from chaos.errors import UsageError
from chaos.workloads.clients import resolve_settings

STORED = Path(__file__).parent / "golden" / "settings_resolutions.json"
#: One value of each kind a converter takes or refuses (a bool as YAML gives it, padding to strip).
VALUES: tuple[str | bool, ...] = ("1", "true", True, "all", "earliest", "gzip", "range", "com.acme.X", " 5 ")

Resolution = list[object] | str


def resolutions(client: str, role: str, key: str) -> dict[str, Resolution]:
    """``key`` with each of :data:`VALUES`: what it resolves to, or the error that refuses it."""
    row: dict[str, Resolution] = {}
    for value in VALUES:
        try:
            got = resolve_settings(client, role, {key: value})
            row[repr(value)] = [got.kwargs, got.emulated, got.substituted]
        except UsageError as e:
            row[repr(value)] = str(e)
    return row


def digest(row: dict[str, Resolution]) -> str:
    """A short digest of one key's resolutions."""
    return hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()[:12]


def stored() -> dict[str, dict[str, str]]:
    """``"<client> <role>"`` → key → digest."""
    data: dict[str, dict[str, str]] = json.loads(STORED.read_text())
    return data


@pytest.mark.parametrize("table", sorted(stored()))
def test_every_key_resolves_as_stored(table: str) -> None:
    client, role = table.split()
    changed = {
        key: resolutions(client, role, key)
        for key, expected in stored()[table].items()
        if digest(resolutions(client, role, key)) != expected
    }
    assert not changed, f"{table}: resolved otherwise than stored: {json.dumps(changed, indent=1)}"


@pytest.mark.parametrize("client", ["kafka-python", "librdkafka", "java"])
def test_idempotence_with_acks_other_than_all_is_refused_at_load_time_on_every_client(client: str) -> None:
    from chaos.errors import UsageError
    from chaos.workloads.clients import resolve_settings

    for acks in ("1", "0"):
        with pytest.raises(UsageError, match=f"acks={acks} and enable.idempotence=true are refused together"):
            resolve_settings(client, "producer", {"acks": acks, "enable.idempotence": "true"})
    for acks in ("all", "-1"):
        resolve_settings(client, "producer", {"acks": acks, "enable.idempotence": "true"})
    resolve_settings(client, "producer", {"acks": "1"})  # the client's own default then gives way
