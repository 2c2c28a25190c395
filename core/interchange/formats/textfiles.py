"""Reading text and tables that came from other programs, whatever their encoding or delimiter.

Spreadsheets save CSV as UTF-8 with a BOM, as UTF-16 (Excel's "Unicode text") or as Latin-1,
with commas, semicolons or tabs; rows go ragged when someone edits by hand. Each of these is
either handled here or turned into a problem that names the file and line, never a crash.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.interchange.formats.base import BadFile, ParsedFile

log = logging.getLogger(__name__)

MAX_BYTES = 256 << 20
"""Larger files are refused: no label file is this big, and reading one would stall the app."""

DELIMITERS = (",", "\t", ";", "|")
MAX_RAGGED_BEFORE_GIVING_UP = 20
"""Rows that do not fit the header, more of them than rows that do: the file is not this format."""


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a ``BadFile`` that says why there are none worth reading."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise BadFile(path, "", f"the file is {size >> 20} MiB, more than any label file should be")
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadFile(path, "", "the file does not exist") from None
    except IsADirectoryError:
        raise BadFile(path, "", "this is a folder, not a file") from None
    except OSError as exc:
        raise BadFile(path, "", f"the file cannot be read ({exc.strerror})") from exc
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise BadFile(path, "", "the file is empty")
    return data


def decode(data: bytes) -> str:
    """Text from bytes: BOMs first, then UTF-16 without a BOM, then UTF-8, then Latin-1 (cp1252)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    head = data[:4096]
    if len(head) >= 4 and head.count(b"\x00") >= len(head) // 4:
        # ASCII text in UTF-16 has a NUL in every other byte; its position gives the byte order.
        even = head[0::2].count(b"\x00")
        return data.decode("utf-16-be" if even > head[1::2].count(b"\x00") else "utf-16-le", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        log.info("Not UTF-8; reading as Windows-1252 (Latin-1)")
        return data.decode("cp1252", errors="replace")


def read_text(path: Path) -> str:
    """Decoded text; a binary file is refused at once instead of yielding a problem per "line"."""
    text = decode(read_bytes(path))
    check_text(text, path)
    return text


BINARY_SAMPLE = 65536
BINARY_SHARE = 0.02


def check_text(text: str, path: Path) -> None:
    """Text has hardly any control characters or undecodable bytes; binary data is full of them."""
    sample = text[:BINARY_SAMPLE]
    odd = sum(1 for ch in sample if (ch < " " and ch not in "\t\r\n\f") or ch == "\ufffd")
    if sample and odd > BINARY_SHARE * len(sample):
        raise BadFile(path, "", "this is a binary file, not a text label file")


@dataclass(frozen=True)
class Row:
    line: int
    cells: dict[str, str]
    """Cells by normalised header name (see ``column_key``)."""

    def get(self, *names: str) -> str:
        """The first of ``names`` (already normalised) present and non-empty, else ""."""
        for name in names:
            value = self.cells.get(name, "").strip()
            if value:
                return value
        return ""


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    """Normalised column names, in file order."""
    raw_header: tuple[str, ...]
    delimiter: str
    rows: tuple[Row, ...]


def column_key(name: str) -> str:
    """Header names compared without case, spaces or BOM debris: "Start (s)" → "start (s)"."""
    return " ".join(name.replace("\ufeff", "").split()).casefold()


def sniff_delimiter(first_line: str) -> str:
    """The delimiter that splits the header into the most columns (commas on a tie)."""
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def read_table(path: Path, parsed: ParsedFile, text: str | None = None) -> Table:
    """The rows of a delimited text file; ragged rows become problems and are left out."""
    text = read_text(path) if text is None else text
    first = next((line for line in io.StringIO(text, newline="") if line.strip()), "")
    delimiter = sniff_delimiter(first)
    records = list(_records(text, delimiter, path))
    if not records:
        raise BadFile(path, "", "the file is empty")
    header_line, raw_header = records[0]
    header = tuple(column_key(h) for h in raw_header)
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise BadFile(path, f"line {header_line}", f"two columns are named {repeated[0]!r}")
    rows: list[Row] = []
    ragged = 0
    for line, cells in records[1:]:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header) and not any(c.strip() for c in cells[len(header) :]):
            cells = cells[: len(header)]
        if len(cells) != len(header):
            ragged += 1
            if ragged >= MAX_RAGGED_BEFORE_GIVING_UP and ragged > len(rows):
                raise BadFile(
                    path,
                    f"line {line}",
                    f"{ragged} of the first {ragged + len(rows)} rows do not have as many cells as the "
                    f"header (line {header_line}), so this is not a table of that kind",
                )
            parsed.problem(
                f"line {line}",
                f"the row has {len(cells)} cells but the header (line {header_line}) has {len(header)}",
            )
            continue
        rows.append(Row(line, dict(zip(header, cells, strict=True))))
    return Table(header, tuple(raw_header), delimiter, tuple(rows))


def require(table: Table, path: Path, *alternatives: Sequence[str]) -> None:
    """Each argument lists the accepted spellings of one required column."""
    for names in alternatives:
        if not any(n in table.header for n in names):
            found = ", ".join(repr(h) for h in table.raw_header[:8])
            hint = "" if len(table.header) > 1 else " (is the delimiter right? only one column was found)"
            raise BadFile(path, "line 1", f"no column named {names[0]!r}; the header has {found}{hint}")


def _records(text: str, delimiter: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(starting line number, cells) per record; a quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise BadFile(path, f"line {reader.line_num}", f"the CSV cannot be read ({exc})") from exc
