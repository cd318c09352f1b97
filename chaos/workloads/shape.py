"""Input in the shape a team's application expects: its value, its key, and the record's identity in
a header.

An experiment with an ``application:`` section gives a value template (JSON or text) and a key
template. The harness's producer fills in each record's identity and sends it with a header
``kafka-chaos`` holding the envelope of that record (``chaos.workloads.envelope``) without its
payload: ``kc2;<run-id>;<producer>;<seq>;<crc>;``, whose checksum covers the key and the whole
value. The drain reads the identity from the header, so the value needs no envelope of its own.

Placeholders (``string.Template``): ``${id}`` (``<producer>-<seq>``, what an application carries into
its output), ``${seq}``, ``${producer}`` and ``${slot}`` (``seq`` modulo ``slots``: a key with a
few values, to keep order per key over).

>>> shape = InputShape(value='{"order": "${id}", "amount": ${seq}}', key="customer-${slot}", slots=4)
>>> shape.render("p0", 17)
(b'customer-1', b'{"order": "p0-17", "amount": 17}')
>>> parse_id("p0-17"), parse_id("p0-x"), parse_id("kc2;r1;p0;17;0badf00d;")
(('p0', 17), None, ('p0', 17))
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from chaos.errors import UsageError
from chaos.workloads.envelope import MAGIC, SEP, encode

#: The header every input record carries its identity in.
HEADER = "kafka-chaos"
PLACEHOLDERS = ("id", "seq", "producer", "slot")
_ID = re.compile(r"^([A-Za-z0-9_.-]+)-([0-9]{1,12})$")
#: Sequence numbers stop below this (the oracle keeps them in 40 bits); a larger one names no record.
SEQ_LIMIT = 1 << 40


def record_id(producer: str, seq: int) -> str:
    """The identity of record ``seq`` of ``producer`` as an application sees it (``${id}``).

    >>> record_id("p0", 17)
    'p0-17'
    """
    return f"{producer}-{seq}"


def parse_id(text: str, run_id: str | None = None) -> tuple[str, int] | None:
    """The producer and sequence number an identity names: ``p0-17`` or a ``kafka-chaos`` header's
    envelope head (of run ``run_id``, when given); None when it names none (an output that cannot be
    correlated). Never raises.

    >>> parse_id("my-app-7"), parse_id("p0-²"), parse_id("kc2;other;p0;3;0;", "r1")
    (('my-app', 7), None, None)
    """
    text = text.strip()
    if text.startswith(f"{MAGIC.decode()};"):
        parts = text.split(";")
        if len(parts) < 4 or (run_id is not None and parts[1] != run_id):
            return None
        text = f"{parts[2]}-{parts[3]}"
    found = _ID.match(text)
    if found is None or int(found.group(2)) >= SEQ_LIMIT:
        return None
    return found.group(1), int(found.group(2))


def check_template(template: str, where: str) -> str:
    """``template`` if its placeholders are known ones.

    Raises:
        UsageError: a placeholder other than ``${id}``, ``${seq}``, ``${producer}``, ``${slot}``,
            or a ``$`` that starts none (write ``$$`` for a dollar sign).
    """
    found = list(string.Template.pattern.finditer(template))
    names = {m.group("named") or m.group("braced") for m in found}
    if any(m.group("invalid") is not None for m in found):
        raise UsageError(f"{where}: a '$' that starts no placeholder: write $$ for a dollar sign")
    unknown = sorted(n for n in names if n and n not in PLACEHOLDERS)
    if unknown:
        raise UsageError(f"{where}: unknown placeholder ${{{unknown[0]}}}: use {', '.join(PLACEHOLDERS)}")
    return template


@dataclass(frozen=True, slots=True)
class InputShape:
    """The value and key templates of an application's input records (None key: no key)."""

    value: str
    key: str | None = None
    slots: int = 16

    def __post_init__(self) -> None:
        check_template(self.value, "application input value")
        if self.key is not None:
            check_template(self.key, "application input key")
        if self.slots < 1:
            raise UsageError(f"application input slots must be at least 1, not {self.slots}")

    def render(self, producer: str, seq: int) -> tuple[bytes | None, bytes]:
        """The key and value of record ``seq`` of ``producer``."""
        fields = {"id": record_id(producer, seq), "seq": seq, "producer": producer, "slot": seq % self.slots}
        key = string.Template(self.key).substitute(fields).encode() if self.key is not None else None
        return key, string.Template(self.value).substitute(fields).encode()


def tag_header(run_id: str, producer: str, seq: int, key: bytes | None, value: bytes) -> bytes:
    """The ``kafka-chaos`` header of a record: its envelope head, whose checksum covers ``key`` and
    ``value`` (the drain decodes ``header + value`` as an envelope).

    >>> from chaos.workloads.envelope import decode
    >>> head = tag_header("r1", "p0", 7, b"k", b'{"a": 1}')
    >>> decode(head + b'{"a": 1}', "r1", b"k").seq, decode(head + b'{"a": 2}', "r1", b"k").status.name
    (7, 'CORRUPTED')
    """
    whole = encode(run_id, producer, seq, value, key)
    return whole[: len(whole) - len(value)]


def header_value(headers: Sequence[tuple[str, bytes | None]] | None) -> bytes | None:
    """The ``kafka-chaos`` header among a consumed record's ``(name, value)`` headers, if any."""
    for name, value in headers or ():
        if name == HEADER and isinstance(value, bytes) and value.startswith(MAGIC + SEP):
            return value
    return None
