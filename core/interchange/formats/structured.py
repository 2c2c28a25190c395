"""JSON and XML read defensively: label files come from anywhere, some of them hostile.

JSON: ``NaN``/``Infinity`` are not JSON and would slip through Python's parser as floats that
poison every comparison; numbers beyond a float's range, or longer than any real time stamp,
are refused; nesting is bounded before parsing, since Python's parser recurses.
XML: any document type declaration is refused, so no entity is ever expanded (no "billion
laughs", no external entity reading local files); the tree is built with expat directly, whose
handlers see the declaration before anything else.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.parsers import expat

import numpy as np

from core.interchange.formats.base import BadFile
from core.interchange.formats.textfiles import read_bytes, read_text

MAX_DEPTH = 64
"""No label format nests deeper than a handful of levels."""
MAX_NUMBER_DIGITS = 30

# A JSON string, or an unterminated one running to the end of the text: every quote starts a
# match that is never retried, and possessive repeats never backtrack, so stripping strings is
# one linear pass whatever the file holds (runs of escaped quotes made the old pattern quadratic).
_STRINGS = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]++")
_DEPTH_CHUNK = 1 << 22
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def load_json(path: Path) -> Any:
    """The parsed document; a ``BadFile`` naming the line for anything malformed or hostile."""
    text = read_text(path)
    _check_depth(text, path)
    with _json_errors(path):
        return _decoder().decode(text)


STREAMED = object()
"""Yielded by ``iter_json`` as the value of a nested object whose members were streamed."""


def iter_json(path: Path, streamed: frozenset[str]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """A top-level JSON object member by member: ``((key,), value)``, except that the members of
    an object under a key in ``streamed`` come one by one as ``((key, member), value)`` (then
    ``((key,), STREAMED)``). A database of half a million entries is then never one Python
    object tree, and each entry is decoded in C by the same checked decoder as ``load_json``.
    A document that is not an object comes whole, as ``((), value)``.
    """
    text = read_text(path)
    _check_depth(text, path)
    decoder = _decoder()
    with _json_errors(path):
        scan = _Scanner(text, decoder)
        if not scan.at("{"):
            yield (), decoder.decode(text)
            return
        for key in scan.members():
            if key in streamed and scan.at("{"):
                for member in scan.members():
                    yield (key, member), scan.value()
                yield (key,), STREAMED
            else:
                yield (key,), scan.value()
        scan.finish()


class _Scanner:
    """Walks the punctuation of JSON objects; every value is decoded by ``json``'s C scanner."""

    def __init__(self, text: str, decoder: json.JSONDecoder) -> None:
        self.text = text
        self.decoder = decoder
        self.pos = 0
        self._skip()

    def at(self, char: str) -> bool:
        return self.text.startswith(char, self.pos)

    def value(self) -> Any:
        value, self.pos = self.decoder.raw_decode(self.text, self.pos)
        self._skip()
        return value

    def members(self) -> Iterator[str]:
        """The keys of the object at ``pos``; the caller reads each value before asking for more."""
        self._step()  # the opening brace
        if self.at("}"):
            self._step()
            return
        while True:
            if not self.at('"'):
                raise self._error("Expecting property name enclosed in double quotes")
            key = self.value()
            if not self.at(":"):
                raise self._error("Expecting ':' delimiter")
            self._step()
            yield key
            if self.at(","):
                self._step()
            elif self.at("}"):
                self._step()
                return
            else:
                raise self._error("Expecting ',' delimiter")

    def finish(self) -> None:
        if self.pos != len(self.text):
            raise self._error("Extra data")

    def _step(self) -> None:
        self.pos += 1
        self._skip()

    def _skip(self) -> None:
        match = _WHITESPACE.match(self.text, self.pos)
        self.pos = match.end() if match else self.pos

    def _error(self, message: str) -> json.JSONDecodeError:
        return json.JSONDecodeError(message, self.text, self.pos)


def _decoder() -> json.JSONDecoder:
    """Python's decoder, refusing NaN, infinities and absurdly long numbers."""

    def constant(name: str) -> Any:
        raise _Refused(f"{name} is not a number JSON allows")

    def number(text: str) -> float | int:
        if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
            raise _Refused(f"the number {text[:20]}… is too long")
        value = float(text)
        if not math.isfinite(value):
            raise _Refused(f"the number {text[:20]} is too large")
        return value

    def integer(text: str) -> int:
        if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
            raise _Refused(f"the number {text[:20]}… is too long")
        return int(text)

    return json.JSONDecoder(parse_constant=constant, parse_float=number, parse_int=integer)


@contextmanager
def _json_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except _Refused as exc:
        raise BadFile(path, "", f"{exc}; fix or remove it") from None
    except json.JSONDecodeError as exc:
        raise BadFile(path, f"line {exc.lineno}", f"this is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise BadFile(path, "", f"the JSON is nested more than {MAX_DEPTH} levels deep") from None


class _Refused(ValueError):
    pass


def _check_depth(text: str, path: Path) -> None:
    """Refuse nesting beyond ``MAX_DEPTH`` in linear time and bounded memory."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot nest deeper than it has openers; skips the scan for most hostile files
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    if max_depth(brackets) > MAX_DEPTH:
        raise BadFile(path, "", f"the JSON is nested more than {MAX_DEPTH} levels deep")


def max_depth(brackets: str) -> int:
    """The deepest nesting of a string of ``[]{}`` characters, counted in vectorised chunks."""
    depth = 0
    deepest = 0
    for at in range(0, len(brackets), _DEPTH_CHUNK):
        chunk = np.frombuffer(brackets[at : at + _DEPTH_CHUNK].encode("ascii"), dtype=np.uint8)
        levels = np.cumsum(_STEP[chunk], dtype=np.int64) + depth
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
    return deepest


def parse_xml(path: Path) -> ET.Element:
    """The root element; DTDs, entities and deep nesting refused before they can do harm."""
    data = read_bytes(path)
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    depth = 0

    def refuse_dtd(*_args: object) -> Any:
        raise _Refused("the file declares a DOCTYPE or entities, which are refused for safety")

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise _Refused(f"the XML is nested more than {MAX_DEPTH} levels deep")
        builder.start(tag, attrs)

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end(tag)

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.UnparsedEntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise BadFile(path, f"line {parser.CurrentLineNumber}", str(exc)) from None
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code) if exc.code else str(exc)
        raise BadFile(path, f"line {exc.lineno}", f"this is not well-formed XML ({reason})") from None
    return builder.close()
