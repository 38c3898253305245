"""Reading a user's text file the way every file source needs it: gzip, UTF-8 or UTF-16,
and one clear line when it cannot be read."""

from __future__ import annotations

import gzip
from pathlib import Path

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
