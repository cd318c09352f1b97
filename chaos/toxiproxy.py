"""A small client of toxiproxy's v2 HTTP API.

The ``toxiproxy-python`` package keeps host and port at class level, sets no request timeouts and
ignores 5xx answers; a chaos harness needs each of those, so this module speaks the API directly.

Example::

    api = ToxiproxyClient("http://127.0.0.1:8474")
    api.create_proxy("broker-1", listen="0.0.0.0:20001", upstream="broker-1:9092")
    api.add_toxic("broker-1", "latency", attributes={"latency": 200, "jitter": 50})
    api.reset()  # enables every proxy and removes every toxic
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from chaos.errors import InfrastructureError


class ToxiproxyError(InfrastructureError):
    """The toxiproxy server refused a request or did not answer."""


@dataclass(frozen=True, slots=True)
class Proxy:
    """One proxy as the server reports it."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[dict[str, Any], ...]


class ToxiproxyClient:
    """Talks to one toxiproxy server; every call has a timeout and raises on any non-2xx answer."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, path: str, body: object | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace").strip()
            raise ToxiproxyError(f"toxiproxy refused {method} {path}: HTTP {e.code} {detail}") from e
        except (urllib.error.URLError, OSError) as e:
            raise ToxiproxyError(f"toxiproxy at {self.url} did not answer {method} {path}: {e}") from e
        return json.loads(raw) if raw.strip() else None

    def version(self) -> str:
        """The server's version string.

        Raises:
            ToxiproxyError: the server did not answer.
        """
        req = urllib.request.Request(self.url + "/version")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                text: str = resp.read().decode().strip()
        except (urllib.error.URLError, OSError) as e:
            raise ToxiproxyError(f"toxiproxy at {self.url} did not answer: {e}") from e
        try:  # 2.6+ answers JSON, older servers a bare string.
            parsed = json.loads(text)
            return str(parsed["version"]) if isinstance(parsed, dict) else str(parsed)
        except (ValueError, KeyError):
            return text

    def proxies(self) -> dict[str, Proxy]:
        """Every proxy by name."""
        raw: dict[str, dict[str, Any]] = self._request("GET", "/proxies")
        return {name: _proxy(p) for name, p in raw.items()}

    def create_proxy(self, name: str, listen: str, upstream: str, enabled: bool = True) -> Proxy:
        """Create a proxy; a proxy of that name must not exist."""
        return _proxy(
            self._request(
                "POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
            )
        )

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """Enable or disable a proxy (disabled: it closes connections and refuses new ones)."""
        return _proxy(self._request("POST", f"/proxies/{name}", {"enabled": enabled}))

    def add_toxic(
        self,
        proxy: str,
        kind: str,
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add a toxic (``latency``, ``bandwidth``, ``timeout``, ``reset_peer``, ``slow_close``, …)."""
        body = {
            "name": name or f"{kind}_{stream}",
            "type": kind,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes or {},
        }
        result: dict[str, Any] = self._request("POST", f"/proxies/{proxy}/toxics", body)
        return result

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove one toxic from a proxy."""
        self._request("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._request("POST", "/reset")


def _proxy(raw: dict[str, Any]) -> Proxy:
    return Proxy(
        name=raw["name"],
        listen=raw["listen"],
        upstream=raw["upstream"],
        enabled=bool(raw.get("enabled", True)),
        toxics=tuple(raw.get("toxics") or ()),
    )
