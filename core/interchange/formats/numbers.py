"""Frame numbers and times read from text cells, with a sentence for each way they go wrong."""

from __future__ import annotations

import math

MAX_FRAME = 10**9
"""About nine hours at 30,000 fps: anything larger is a typo or hostile."""
MAX_SECONDS = 10.0**7


def frame_cell(text: str, column: str) -> int | None:
    """A whole frame number, or None for an empty cell; ValueError says what is wrong."""
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            raise ValueError(f"{column} {text[:30]!r} is not a number") from None
        if not as_float.is_integer():
            raise ValueError(f"{column} {text[:30]!r} is not a whole number of frames") from None
        value = int(as_float)
    if abs(value) > MAX_FRAME:
        raise ValueError(f"{column} {text[:30]!r} is too large to be a frame number")
    return value


def seconds_cell(text: str, column: str) -> float | None:
    """A finite time in seconds ("1,5" read as 1.5), or None for an empty cell."""
    text = text.strip()
    if not text:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} {text[:30]!r} is not a number of seconds") from None
    return seconds_value(value, column)


def seconds_value(value: object, column: str) -> float:
    """A JSON value that must be a finite time in seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{column} {value!r:.30} is not a number of seconds")
    if not math.isfinite(value) or abs(value) > MAX_SECONDS:
        raise ValueError(f"{column} {value!r:.30} is out of range")
    return float(value)


def frame_value(value: object, column: str) -> int:
    """A JSON value that must be a whole frame number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{column} {value!r:.30} is not a frame number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{column} {value!r} is not a whole number of frames")
    if abs(value) > MAX_FRAME:
        raise ValueError(f"{column} {value!r:.30} is too large to be a frame number")
    return int(value)
