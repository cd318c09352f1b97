"""The record envelope: every value says which run and producer wrote it, its sequence number, and
a checksum over all of that and the payload.

Wire form of the value (ASCII header, then the payload bytes)::

    kc2;<run-id>;<producer-id>;<seq>;<crc32 as 8 hex digits>;<payload>

The checksum covers ``kc2;<run-id>;<producer-id>;<seq>;``, the record's key (``k`` + the key's
bytes; nothing for a record without a key) and the payload, so a flipped bit anywhere in the value
or the key is caught. :func:`decode` never raises: a value that is not an envelope of this run is
``FOREIGN``, one that is but fails its checksum or does not parse is ``CORRUPTED``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import IntEnum

MAGIC = b"kc2"
#: What the checksum covers for a key: nothing for no key, so ``None`` and ``b""`` differ.
KEY_MARK = b"k"
SEP = b";"


class Status(IntEnum):
    """What a value found in the log turned out to be."""

    VALID = 0
    CORRUPTED = 1
    FOREIGN = 2


@dataclass(frozen=True, slots=True)
class Decoded:
    """Result of :func:`decode`; ``producer`` and ``seq`` are set only for ``VALID``."""

    status: Status
    producer: str = ""
    seq: int = -1


def payload_for(seq: int, size: int) -> bytes:
    """Deterministic filler of ``size`` bytes for record ``seq`` (its content is checked by the CRC)."""
    if size <= 0:
        return b""
    unit = b"%d." % seq
    return (unit * (size // len(unit) + 1))[:size]


class Encoder:
    """:func:`encode` for one producer, with the constant header prefix and its CRC state computed once.

    >>> Encoder("r1", "p0", 2).encode(7, b"7") == encode("r1", "p0", 7, payload_for(0, 2), b"7")
    True
    """

    def __init__(self, run_id: str, producer: str, payload_size: int) -> None:
        self.prefix = b"%s;%s;%s;" % (MAGIC, run_id.encode(), producer.encode())
        self.prefix_crc = zlib.crc32(self.prefix)
        # The payload need not vary per record: the CRC covers the sequence number in the header.
        self.payload = payload_for(0, payload_size)

    def encode(self, seq: int, key: bytes | None = None) -> bytes:
        """The value of record ``seq`` sent with ``key``."""
        seq_part = b"%d;" % seq
        crc = zlib.crc32(seq_part, self.prefix_crc)
        if key is not None:
            crc = zlib.crc32(key, zlib.crc32(KEY_MARK, crc))
        crc = zlib.crc32(self.payload, crc)
        return b"%s%s%08x;%s" % (self.prefix, seq_part, crc, self.payload)


def _crc(head: bytes, key: bytes | None, payload: bytes) -> int:
    crc = zlib.crc32(head)
    if key is not None:
        crc = zlib.crc32(key, zlib.crc32(KEY_MARK, crc))
    return zlib.crc32(payload, crc)


def encode(run_id: str, producer: str, seq: int, payload: bytes, key: bytes | None = None) -> bytes:
    """The value of record ``seq`` of ``producer`` in run ``run_id``, sent with ``key``.

    >>> encode("r1", "p0", 7, b"xy")
    b'kc2;r1;p0;7;f4717f51;xy'
    """
    head = b"%s;%s;%s;%d;" % (MAGIC, run_id.encode(), producer.encode(), seq)
    return b"%s%08x;%s" % (head, _crc(head, key, payload), payload)


def decode(value: bytes | None, run_id: str, key: bytes | None = None) -> Decoded:
    """Classify a value read from the log with its ``key``. Never raises.

    >>> decode(encode("r1", "p0", 7, b"xy", b"7"), "r1", b"7")
    Decoded(status=<Status.VALID: 0>, producer='p0', seq=7)
    >>> decode(encode("r1", "p0", 7, b"xy", b"7"), "r1", b"8").status.name
    'CORRUPTED'
    >>> decode(b"hello", "r1").status.name
    'FOREIGN'
    """
    if not value or not value.startswith(MAGIC + SEP):
        return Decoded(Status.FOREIGN)
    parts = value.split(SEP, 5)
    if len(parts) != 6:
        return Decoded(Status.CORRUPTED)
    _, run, producer, seq_raw, crc_raw, payload = parts
    if run != run_id.encode():
        # Another run's record (or a run id mangled in flight, which the CRC below cannot judge).
        return Decoded(Status.FOREIGN)
    try:
        seq = int(seq_raw)
        crc = int(crc_raw, 16)
        producer_id = producer.decode()
    except (ValueError, UnicodeDecodeError):
        return Decoded(Status.CORRUPTED)
    head_len = len(MAGIC) + len(run) + len(producer) + len(seq_raw) + 4
    # Only the canonical spelling is valid: "0A" or "+7" parse to the same numbers but are corrupted bytes.
    canonical = crc_raw == b"%08x" % crc and seq_raw == b"%d" % seq
    if not canonical or _crc(value[:head_len], key, payload) != crc or seq < 0:
        return Decoded(Status.CORRUPTED)
    return Decoded(Status.VALID, producer_id, seq)


def producer_tag(producer: str) -> int:
    """A 32-bit tag of a producer id, stored in binary ledgers instead of the string."""
    return zlib.crc32(producer.encode())


VALID = int(Status.VALID)
_HEX = b"0123456789abcdef"


class RowDecoder:
    """:func:`decode` of one run's values as the drain's ``(tag, seq, status)`` rows, with a fast
    path for a valid envelope of a producer it has seen: no :class:`Decoded`, no string, the tag
    from a cache. Anything the fast path is not sure of goes through :func:`decode`, so the rows
    are exactly ``decode``'s (``tests/unit/test_envelope.py`` holds them to it).

    >>> rows, value = RowDecoder("r1"), encode("r1", "p0", 7, b"xy")
    >>> rows(value, None) == rows(value, None) == (producer_tag("p0"), 7, 0)  # slow, then fast
    True
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.prefix = MAGIC + SEP + run_id.encode() + SEP
        self.tags: dict[bytes, int] = {}

    def __call__(self, value: bytes | None, key: bytes | None) -> tuple[int, int, int]:
        """``(producer tag, seq, status)`` of ``value`` read with ``key`` (tag 0 and seq -1 unless valid)."""
        if value is not None and value.startswith(self.prefix):
            parts = value.split(SEP, 5)  # the prefix holds two separators: the run id has none
            if len(parts) == 6:
                fast = self._fast(value, key, parts[2], parts[3], parts[4], parts[5])
                if fast is not None:
                    return fast
        d = decode(value, self.run_id, key)
        if d.status != Status.VALID:
            return 0, d.seq, int(d.status)
        tag = self.tags.setdefault(d.producer.encode(), producer_tag(d.producer))
        return tag, d.seq, int(Status.VALID)

    def _fast(
        self, value: bytes, key: bytes | None, producer: bytes, seq_raw: bytes, crc_raw: bytes, payload: bytes
    ) -> tuple[int, int, int] | None:
        """The row of a valid envelope of a known producer; None for anything else."""
        tag = self.tags.get(producer)
        # canonical spellings only, as decode wants: ASCII digits without a leading zero, 8 lowercase hex digits
        if tag is None or not seq_raw.isdigit() or (seq_raw[0] == 48 and len(seq_raw) > 1):
            return None
        if len(crc_raw) != 8 or crc_raw.translate(None, _HEX):
            return None
        crc = int(crc_raw, 16)
        head_len = len(self.prefix) + len(producer) + len(seq_raw) + 2
        if _crc(value[:head_len], key, payload) != crc:
            return None
        return tag, int(seq_raw), VALID
