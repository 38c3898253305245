"""Reading a user's text file the way every file source needs it: gzip, UTF-8 or UTF-16,
and one clear line when it cannot be read."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

from quotatune.model.errors import InputError


def open_text(path: Path) -> str:
    """Read a (possibly gzipped, possibly UTF-16) text file, or fail with one clear line."""
    raw = read_bytes(path)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: corrupt gzip data ({exc})") from None
    try:
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return raw.decode("utf-16")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 or UTF-16 text") from None


def read_bytes(path: Path, size: int = -1) -> bytes:
    """The file's bytes (the first ``size`` of them), or one clear line why not."""
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def line_of_row(path: Path, row: int, *, delimiter: str = ",",
                skipinitialspace: bool = False) -> int:
    """The line of the text file ``path`` on which the CSV parsers' ``row`` starts (the
    header is row 1): the parsers skip lines of only spaces and tabs without counting them,
    and a quoted value may hold line breaks, so a row can be further down the file than its
    number says.  ``delimiter`` and ``skipinitialspace`` as the file was parsed (where a
    quoted value may start).  Read only to report an error; when the file cannot be read
    again, ``row`` as it was."""
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)  # a long value is no reason to lose count
    try:
        with _text_lines(path) as lines:
            return _record_start(lines, row, delimiter, skipinitialspace)
    except (InputError, OSError, EOFError, zlib.error, csv.Error):
        return row
    finally:
        csv.field_size_limit(limit)


def _record_start(lines: Iterator[str], row: int, delimiter: str,
                  skipinitialspace: bool) -> int:
    """The line where record ``row`` starts, split into records as the parsers split them
    (a quoted value runs on across line breaks); ``row`` itself past the last record.
    Whether a record is blank is read from its text: ``""`` alone on a line is a row of one
    empty value to the parsers, not a blank line."""
    text: list[str] = []

    def kept(source: Iterator[str]) -> Iterator[str]:
        for line in source:
            text.append(line)
            yield line

    reader = csv.reader(kept(lines), delimiter=delimiter, skipinitialspace=skipinitialspace)
    seen = end = 0
    for _record in reader:
        start, end = end + 1, reader.line_num
        blank = not "".join(text).strip(" \t\r\n")
        text.clear()
        if not blank:
            seen += 1
            if seen == row:
                return start
    return row


def _text_lines(path: Path) -> io.TextIOWrapper:
    """The file's lines as the parsers split them (``\\n``, ``\\r\\n`` or a bare ``\\r``),
    decompressed and decoded as :func:`open_text` would, a block at a time."""
    gz = read_bytes(path, 2) == b"\x1f\x8b"

    def raw() -> BinaryIO:
        return cast(BinaryIO, gzip.open(path, "rb") if gz else path.open("rb"))

    with raw() as fh:
        head = fh.read(2)
    encoding = "utf-16" if head in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    return io.TextIOWrapper(raw(), encoding=encoding, errors="replace", newline=None)
