"""One caption CSV read as text records, and the error that stops a run on an unusable file.

Bytes are decoded with ``surrogateescape`` so that a non-UTF-8 byte spoils only its own row; a
file that cannot be used at all raises :class:`CaptionFileError` naming the file, the missing
and the found columns and the rows read.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

CSV_COLUMNS: tuple[str, ...] = ("audiocap_id", "youtube_id", "start_time", "caption")

_UNPARSED = "cannot parse the caption CSV"


class CaptionFileError(ValueError):
    """A caption CSV cannot be used at all, or the train split would be empty: the run stops."""


def undecodable(fields: list[str]) -> str | None:
    """The first field holding bytes that were not UTF-8 (decoded with surrogateescape)."""
    for field in fields:
        if any("\udc80" <= char <= "\udcff" for char in field):
            return repr(field.encode("utf-8", "surrogateescape"))
    return None


def _cut(text: str, limit: int = 40) -> str:
    """``text``, cut to ``limit`` characters with ``...`` when longer."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def column_list(names: list[str] | None, limit: int = 8) -> str:
    """Column names for a message: odd ones (empty, control or non-UTF-8 characters) as bytes."""
    if names is None:
        return "none (the file was not read as CSV)"
    if not names:
        return "none"
    shown = [
        _cut(name if name.isprintable() and name else repr(name.encode("utf-8", "surrogateescape")))
        for name in names[:limit]
    ]
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(shown) + more


def file_error(
    path: Path, split: str, what: str, detail: str, header: list[str] | None, n_rows: int
) -> str:
    """``"<path>: <what> (split 's'): <detail>; missing columns: ..; found columns: ..; N rows"``."""
    missing = [column for column in CSV_COLUMNS if column not in (header or [])]
    parts = [f"{path}: {what} (split '{split}'): {detail}"]
    if missing:
        parts.append(f"missing columns: {', '.join(missing)}")
    parts += [f"found columns: {column_list(header)}", f"{n_rows} row(s) read"]
    return "; ".join(parts)


def _not_utf8_text(data: bytes) -> str | None:
    """Why bytes are not UTF-8 text at all (a UTF-16/32 byte-order mark, NUL bytes), or None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it is UTF-16 or UTF-32 text (byte-order mark); save it as UTF-8"
    if b"\x00" in data:
        return "it holds NUL bytes: a binary file, or UTF-16/32 text without a byte-order mark"
    return None


def read_csv_records(path: Path, split: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line number, fields)`` records of one CSV; ``CaptionFileError`` if unusable.

    Bytes are decoded with ``surrogateescape`` so that a non-UTF-8 byte spoils only its own row;
    a file that is not UTF-8 text at all (NUL bytes, UTF-16) is a file-level error.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CaptionFileError(f"{path}: cannot read the caption CSV: {err}") from err
    not_text = _not_utf8_text(data)
    if not_text is not None:
        raise CaptionFileError(file_error(path, split, _UNPARSED, not_text, None, 0))
    text = data.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header: list[str] = []
    records: list[tuple[int, list[str]]] = []
    try:
        first = next(reader, None)
        if first is None:
            detail = "the file is empty"
            raise CaptionFileError(file_error(path, split, _UNPARSED, detail, [], 0))
        header = [name.strip().lower() for name in first]
        last_line = reader.line_num
        for fields in reader:
            if fields:  # blank lines are not rows
                records.append((last_line + 1, fields))
            last_line = reader.line_num
    except csv.Error as err:
        detail = f"line {reader.line_num}: {err}"
        raise CaptionFileError(
            file_error(path, split, _UNPARSED, detail, header, len(records))
        ) from err
    return header, records


def missing_columns_problem(header: list[str]) -> str:
    """Why a header lacks AudioCaps' columns, with a hint when the cause is plain to see."""
    problem = f"it needs the columns {', '.join(CSV_COLUMNS)}"
    if undecodable(header) is not None:
        return f"{problem}; its header row is not UTF-8 text (a binary file or another encoding?)"
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        return f"{problem}; its header has one column: are the fields not separated by commas?"
    return problem
