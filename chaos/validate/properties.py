"""Java ``.properties`` files, read the way ``java.util.Properties.load`` reads them.

Comments (``#`` or ``!`` first on a line), keys ended by ``=``, ``:`` or whitespace, backslash
escapes (``\\t \\n \\r \\f \\uXXXX``, an escaped separator or backslash), and continuation lines (a
line ending in an odd number of backslashes goes on, the next line's leading blanks dropped). A
later duplicate key wins, as in Java — and is remembered, because a team rarely means it.

>>> props = parse_properties("# producer\\nacks = all\\nlinger.ms: 5\\nclient.id  app-1\\n", "p")
>>> props.values
{'acks': 'all', 'linger.ms': '5', 'client.id': 'app-1'}
>>> props.lines["linger.ms"]
3
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from chaos.errors import UsageError

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_BLANKS = " \t\f"
#: Java's ``LineReader`` ends a line at ``\n``, ``\r`` or ``\r\n`` only (not at the other breaks
#: ``str.splitlines`` knows: ``\x85``, ``\x1c``-``\x1e``, form feed, ``\u2028`` …).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: Control bytes (tab, line breaks and form feed excepted). Java reads them as characters like any
#: other, and one may sit in a value; a file full of them is binary data, not a properties file.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CONTROL_LIMIT = 3
_BOM = "\ufeff"


class PropertiesError(UsageError):
    """A properties file is unreadable or malformed; the message names file and line."""


@dataclass(slots=True)
class Properties:
    """Keys and values of one file, the line each key is on, and keys given more than once."""

    source: str
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, list[int]] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """``file:line`` of ``key`` (just the file when it is not there)."""
        return f"{self.source}:{self.lines[key]}" if key in self.lines else self.source


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continuation lines; drop blanks and comments. Returns (first physical line, text)."""
    out: list[tuple[int, str]] = []
    pending: str | None = None
    start = 0
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        line = raw.lstrip(_BLANKS)
        if pending is None:
            if not line or line[0] in "#!":
                continue
            start = number
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            # Continuing a line that is still empty starts afresh, as in Java: the next line may
            # be blank or a comment.
            pending = ((pending or "") + line[:-1]) or None
            continue
        out.append((start, (pending or "") + line))
        pending = None
    if pending is not None:
        out.append((start, pending))
    return out


def _unescape(text: str, source: str, line: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(text):
            break
        nxt = text[i + 1]
        if nxt == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise PropertiesError(
                    f"{source}:{line}: malformed \\u escape {text[i : i + 6]!r}: write four hex digits, e.g. \\u00e9"
                )
            out.append(chr(int(digits, 16)))
            i += 6
            continue
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    return _join_surrogates("".join(out))


def _join_surrogates(text: str) -> str:
    """Java strings are UTF-16: ``\\ud83d\\ude00`` is one character (😀). Join such pairs; a lone
    half becomes U+FFFD, as it would on any output."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _split(line: str) -> tuple[str, str]:
    """Key and raw value of a logical line: the key ends at an unescaped ``=``, ``:`` or blank."""
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c in "=:" or c in _BLANKS:
            break
        i += 1
    key, rest = line[:i], line[i:]
    rest = rest.lstrip(_BLANKS)
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(_BLANKS)
    return key, rest


def parse_properties(text: str, source: str) -> Properties:
    """Parse properties ``text`` read from ``source`` (a name for messages).

    Raises:
        PropertiesError: a malformed ``\\u`` escape, or a line with a value but no key.
    """
    props = Properties(source)
    for number, line in _logical_lines(text):
        raw_key, raw_value = _split(line)
        key = _unescape(raw_key, source, number)
        if not key:
            raise PropertiesError(f"{source}:{number}: a value without a key ({line.strip()[:40]!r}): write key=value")
        value = _unescape(raw_value, source, number)
        if key in props.values:
            props.duplicates.setdefault(key, [props.lines[key]]).append(number)
        props.values[key] = value
        props.lines[key] = number
    return props


def read_properties(path: Path) -> Properties:
    """Read and parse a properties file (ISO-8859-1 is Java's encoding; UTF-8 is accepted too).

    Raises:
        PropertiesError: the file is missing, unreadable, binary, or malformed (naming the line).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PropertiesError(f"{path}: no such file: check the path") from None
    except IsADirectoryError:
        raise PropertiesError(f"{path}: is a directory, not a properties file") from None
    except OSError as e:
        raise PropertiesError(f"{path}: cannot read it ({e.strerror}): check its permissions") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    controls = list(_CONTROL.finditer(text))
    if b"\x00" in data or len(controls) >= _CONTROL_LIMIT:
        control = controls[0]
        line = text.count("\n", 0, control.start()) + 1
        raise PropertiesError(
            f"{path}:{line}: binary data, not a Java properties file (key=value lines; byte "
            f"0x{ord(control.group()):02x} is no text): check that this is the file you meant"
        )
    if text.startswith(_BOM):
        first = next((line for _, line in _logical_lines(text[1:])), "")
        key = _split(first)[0] if first else "the first key"
        raise PropertiesError(
            f"{path}: starts with a UTF-8 byte order mark, which Java reads as part of the first key, so "
            f"{key!s} would be an unknown setting that the client ignores: save the file without a BOM"
        )
    return parse_properties(text, str(path))
