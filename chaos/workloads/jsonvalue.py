"""A JSON object read back from a file (a spec, a meta file): the one explicit ``Any`` for JSON in the workloads.

What ``json.loads`` gives has no static type; each reader narrows the values it takes by key (and a
dataclass built from one checks its fields itself), so the alias says "JSON" once instead of
``Any`` at every such signature.
"""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]  # type: ignore[explicit-any]  # JSON has no static type; readers narrow by key
