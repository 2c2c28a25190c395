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
from pathlib import Path
from typing import Any
from xml.parsers import expat

from core.interchange.formats.base import BadFile
from core.interchange.formats.textfiles import decode, read_bytes

MAX_DEPTH = 64
"""No label format nests deeper than a handful of levels."""
MAX_NUMBER_DIGITS = 30

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def load_json(path: Path) -> Any:
    """The parsed document; a ``BadFile`` naming the line for anything malformed or hostile."""
    text = decode(read_bytes(path))
    _check_depth(text, path)

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

    try:
        return json.loads(text, parse_constant=constant, parse_float=number, parse_int=integer)
    except _Refused as exc:
        raise BadFile(path, "", f"{exc}; fix or remove it") from None
    except json.JSONDecodeError as exc:
        raise BadFile(path, f"line {exc.lineno}", f"this is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise BadFile(path, "", f"the JSON is nested more than {MAX_DEPTH} levels deep") from None


class _Refused(ValueError):
    pass


def _check_depth(text: str, path: Path) -> None:
    depth = 0
    for ch in _STRINGS.sub("", text):
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise BadFile(path, "", f"the JSON is nested more than {MAX_DEPTH} levels deep")
        elif ch in "]}":
            depth -= 1


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
