"""``report --from`` and ``diagnose --from`` in bounded memory: the files are streamed into a
private temporary store, chunk by chunk, and read back day by day as ``--store`` reads a
store (docs/architecture.md, "The store"; :mod:`quotatune.pipelines.stored`).

The chunks come from the readers ``import`` uses (:func:`quotatune.sources.registry.iter_files`)
and go through the store's own streaming append (per-day staging, deduplication on the sample
key), so memory follows one chunk and one day, not the files.  What the whole-frame path said
about its input is said here too: samples repeated across the files count once and samples
stamped in the future are left out, each with a note; a file that cannot be read is an error
line, the others are still read.  The temporary store is owner-only and removed on exit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from quotatune.model import Target
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.pipelines.inputs import FUTURE_TOLERANCE, open_store
from quotatune.pipelines.stored import Stored, open_stored
from quotatune.sources.registry import iter_files


@contextmanager
def stored_from_files(files: list[Path], fmt: str | None, target: Target) -> Iterator[Stored]:
    """``files`` as a :class:`Stored` for ``target``, with the notes and errors of reading
    them; the store behind it lives until the context exits."""
    with tempfile.TemporaryDirectory(prefix="quotatune-from-") as tmp:  # mode 0700
        st = open_store(Path(tmp) / "store")
        limit = pd.Timestamp.now(tz="UTC") + FUTURE_TOLERANCE
        seen = Collected()  # notes and errors only
        counts = {"kept": 0, "future": 0}

        def chunks() -> Iterator[Collected]:
            for _, _, chunk in iter_files(files, fmt):
                usage = chunk.usage
                if not usage.empty:
                    late = (usage["timestamp"] > limit).to_numpy()
                    if late.any():
                        counts["future"] += int(late.sum())
                        chunk.usage = usage[~late].reset_index(drop=True)
                    counts["kept"] += len(chunk.usage)
                seen.notes += chunk.notes
                seen.errors += chunk.errors
                yield chunk

        added = st.append_stream(chunks())
        notes = list(seen.notes)
        if counts["kept"] > added.samples_added:
            notes.append(f"ignored {counts['kept'] - added.samples_added} duplicated "
                         "sample(s) across the input files")
        if counts["future"]:
            notes.append(f"ignored {counts['future']} sample(s) stamped in the future "
                         f"(after {limit:%Y-%m-%dT%H:%M}Z): check the source's clock")
        if not added.samples_added and not added.specs_rows and not added.events_added:
            raise InputError("no data in the given files")
        stored = open_stored(st.root, target)
        stored.notes += notes
        stored.errors += seen.errors
        yield stored
