"""quotatune import FILE… — add samples from files to the history store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quotatune.cli.options import StoreDir

MAX_KEEP_DAYS = 36_500


def command(
    files: Annotated[
        list[Path],
        typer.Argument(readable=False,  # the readers skip an unreadable one (cli/options.py)
                       help="Files to import (CSV, Parquet, traces, dumps)."),
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="Input format; detected per file when omitted."),
    ] = None,
    store: StoreDir = None,
    keep_days: Annotated[
        int | None,
        typer.Option("--keep-days", help="Afterwards keep only this many days, counted back "
                     "from the newest stored day."),
    ] = None,
) -> None:
    """Import usage files into the history store; importing the same samples twice adds nothing."""
    from quotatune.cli import config
    from quotatune.cli.output import err, progress
    from quotatune.model.errors import InputError
    from quotatune.pipelines.importing import import_into_store
    from quotatune.pipelines.maintenance import after_write

    # Check flags before touching the store: a bad --keep-days used to fail only after the
    # samples had been appended, half-doing a command that reported an error.
    if keep_days is not None and not 1 <= keep_days <= MAX_KEEP_DAYS:
        raise InputError(f"--keep-days must be from 1 to {MAX_KEEP_DAYS}, not {keep_days}")
    root = config.store_dir(store)
    with progress() as bar:
        res = import_into_store(files, fmt, root, keep_days, bar)
    rep = res.report
    after_write(root, "import", rep, None)  # for `quotatune status`; retention was applied
    read = len(files) - sum(e.startswith("skipped ") for e in res.errors)
    msg = (
        f"imported {read} file(s) into {root}: {rep.samples_added} new sample(s), "
        f"{rep.samples_duplicate} already stored, {res.containers} container(s)"
    )
    if res.spec_rows_read:
        msg += f", {rep.specs_rows} spec row(s)"
    if rep.events_added:
        msg += f", {rep.events_added} new event(s)"
    if res.dropped_days:
        msg += f"; dropped {res.dropped_days} day(s) past retention"
    typer.echo(msg)
    for e in res.errors:
        err(f"warning: {e}")
    for note in res.notes:
        err(f"note: {note}")
