"""The explicit registry of file formats for ``quotatune import`` and every ``--from``.

Each format maps to a reader ``Path -> Collected``; sniffers pick a format from the first
4 KiB of a file when ``--format`` is not given.  New formats are added here, by name.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.model.nametext import check_names
from quotatune.sources.files import stream
from quotatune.sources.files import tables as files
from quotatune.sources.files.hs_err_parse import looks_like_hs_err
from quotatune.sources.kubernetes import files as k8s_files
from quotatune.sources.text import open_text

Importer = Callable[[Path], Collected]
Streamer = Callable[[Path, bool], Iterator[Collected]]  # (path, typed)


def _read(fmt: str, path: Path) -> Collected:
    """``path`` read by the format's reader, its specs and events held to the names rule
    usage validation holds samples to (:mod:`quotatune.model.nametext`): a hand-made kubectl
    dump or a crash log's file name can hold what no cluster would."""
    got = IMPORTERS[fmt](path)
    check_names(got.specs, str(path))
    check_names(got.events, str(path))
    return got


def _canonical(path: Path) -> Collected:
    if path.suffix == ".parquet":
        return files.read_canonical_parquet(path)
    return files.read_canonical_csv(path)


def _hs_err(path: Path) -> Collected:
    from quotatune.sources.files.hs_err import read_hs_err

    return read_hs_err(path)


IMPORTERS: dict[str, Importer] = {
    "canonical": _canonical,
    "bitbrains": files.read_bitbrains,
    "kubectl": k8s_files.read_kubectl_dump,
    "stats-summary": k8s_files.read_stats_summary_file,
    "kubelet-metrics": k8s_files.read_kubelet_metrics,
    "ksm": k8s_files.read_ksm,
    "hs-err": _hs_err,
}



def _canonical_stream(path: Path, typed: bool = False) -> Iterator[Collected]:
    if path.suffix == ".parquet":
        return stream.iter_canonical_parquet(path, typed=typed)
    return stream.iter_canonical_csv(path)


# Formats whose files can be larger than memory are read in chunks; every other format is
# one chunk per file (a Bitbrains VM, a kubectl dump), read by its entry in IMPORTERS.
STREAMERS: dict[str, Streamer] = {
    "canonical": _canonical_stream,
}

# (format, predicate on the first 4 KiB of text), in order; the first match wins.
SNIFFERS: list[tuple[str, Callable[[str], bool]]] = [
    ("hs-err", looks_like_hs_err),
    ("bitbrains", lambda head: "CPU capacity provisioned [MHZ]" in head),
    ("canonical", lambda head: bool(re.search(r"\bcpu_cores\b", head))),
    ("stats-summary", k8s_files.sniff_stats_summary),
    ("kubectl", k8s_files.sniff_kubectl),
    ("kubectl", k8s_files.sniff_kubectl_yaml),
    ("ksm", k8s_files.sniff_ksm),
    ("kubelet-metrics", k8s_files.sniff_kubelet_metrics),
]


def detect_format(path: Path) -> str:
    if path.suffix == ".parquet":
        return "canonical"
    head = _head(path)
    for fmt, pred in SNIFFERS:
        if pred(head):
            return fmt
    raise InputError(f"{path}: unknown format; pass --format ({', '.join(sorted(IMPORTERS))})")


def _head(path: Path, size: int = 4096) -> str:
    """The first ``size`` characters, without reading (or unzipping) the whole file."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(2)
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            raw = fh.read(4 * size)
    except (OSError, EOFError):
        return open_text(path)[:size]  # open_text names the problem in one line
    try:
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return raw.decode("utf-16")[:size]
        return raw.decode("utf-8-sig")[:size]
    except UnicodeDecodeError:  # not text, or a character cut at the end of the read
        return open_text(path)[:size]


def import_files(paths: list[Path], fmt: str | None = None) -> Collected:
    """Read every file with the named reader, or the detected one per file.

    A batch is tolerant: a file that cannot be read (missing, unknown format, corrupt) is one
    line in ``errors`` naming it, and the other files are still read. Only when no file at
    all could be read is it an :class:`InputError` (exit 2)."""
    if fmt is not None and fmt not in IMPORTERS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(sorted(IMPORTERS))}")
    if not paths:
        raise InputError("no input files given")
    out = Collected()
    failed: list[str] = []
    for path in paths:
        try:
            got = _read(fmt or detect_format(path), path)
        except InputError as exc:
            failed.append(str(exc))
            continue
        out.extend(got)
    if len(failed) == len(paths):
        if len(paths) == 1:
            raise InputError(failed[0])
        raise InputError(f"none of the {len(paths)} files could be read; the first: "
                         f"{failed[0]}")
    out.errors.extend(f"skipped {msg}" for msg in failed)
    return out


def iter_files(paths: list[Path], fmt: str | None = None, *, typed: bool = False
               ) -> Iterator[tuple[int, Path, Collected]]:
    """Every file as a stream of chunks ``(file index, path, chunk)``: the usage of one chunk
    plus, for formats that have them, the file's specs, events, notes and errors.  With
    ``typed``, a chunk a reader can give as typed columns comes as ``chunk.columns``
    (:class:`quotatune.model.chunk.UsageColumns`) instead of ``chunk.usage``.

    Tolerant like :func:`import_files`: a file that fails before its first chunk is skipped
    (a last chunk carries one ``skipped …`` error per such file); one that fails after some
    of its chunks were given out stops the stream, so no file is ever half-read.  When no
    file could be read at all it is an :class:`InputError`."""
    if fmt is not None and fmt not in IMPORTERS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(sorted(IMPORTERS))}")
    if not paths:
        raise InputError("no input files given")
    failed: list[str] = []
    for i, path in enumerate(paths):
        started = False
        try:
            name = fmt or detect_format(path)
            if name in STREAMERS:
                for chunk in STREAMERS[name](path, typed):
                    started = True
                    yield i, path, chunk
            else:
                got = _read(name, path)
                started = True
                yield i, path, got
        except InputError as exc:
            if started:
                raise
            failed.append(str(exc))
    if len(failed) == len(paths):
        if len(paths) == 1:
            raise InputError(failed[0])
        raise InputError(f"none of the {len(paths)} files could be read; the first: "
                         f"{failed[0]}")
    if failed:
        yield len(paths) - 1, paths[-1], Collected(errors=[f"skipped {m}" for m in failed])
