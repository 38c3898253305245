"""quotatune import FILE… — add samples from files to the history store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quotatune.cli.options import StoreDir

MAX_KEEP_DAYS = 36_500


def command(
    files: Annotated[
        list[Path], typer.Argument(help="Files to import (CSV, Parquet, traces, dumps).")
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
    import pandas as pd

    from quotatune.cli.common import open_store
    from quotatune.cli.output import err
    from quotatune.collect.registry import import_files
    from quotatune.errors import InputError

    # Check flags before touching the store: a bad --keep-days used to fail only after the
    # samples had been appended, half-doing a command that reported an error.
    if keep_days is not None and not 1 <= keep_days <= MAX_KEEP_DAYS:
        raise InputError(f"--keep-days must be from 1 to {MAX_KEEP_DAYS}, not {keep_days}")
    data = import_files(files, fmt)
    st = open_store(store)
    rep = st.append(data)
    dropped = 0
    if keep_days is not None:
        # Counted back from the newest stored day (never from the future): importing last
        # year's trace with --keep-days 7 keeps its last week instead of deleting all of it.
        days = st.days()
        now = pd.Timestamp.now(tz="UTC")
        newest = pd.Timestamp(days[-1], tz="UTC") + pd.Timedelta(days=1) if days else now
        dropped = st.apply_retention(keep_days, min(now, newest))
    containers = data.usage[["namespace", "workload", "container"]].drop_duplicates().shape[0] \
        if not data.usage.empty else 0
    msg = (
        f"imported {len(files)} file(s) into {st.root}: {rep.samples_added} new sample(s), "
        f"{rep.samples_duplicate} already stored, {containers} container(s)"
    )
    if data.specs.shape[0]:
        msg += f", {rep.specs_rows} spec row(s)"
    if rep.events_added:
        msg += f", {rep.events_added} new event(s)"
    if dropped:
        msg += f"; dropped {dropped} day(s) past retention"
    typer.echo(msg)
    for note in data.notes:
        err(f"note: {note}")
