"""quotatune recommend [TARGET] — CPU and memory requests per container."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def command(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="TARGET: ns/, ns/workload or ns/workload/container (default: all)."),
    ] = None,
    from_files: Annotated[
        list[Path] | None,
        typer.Option("--from", help="Read these files instead of the history store."),
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Format of --from files.")] = None,
    store: Annotated[Path | None, typer.Option("--store", help="History store directory.")] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Strategy name (default: the default).")
    ] = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help="table, json, yaml, csv or patch.")
    ] = "table",
) -> None:
    """Recommend CPU (millicores) and memory (MiB) requests and limits per container."""
    from quotatune.analyze.recommend import recommend
    from quotatune.cli.common import load_inputs, split_target_and_files
    from quotatune.cli.output import err
    from quotatune.errors import InputError
    from quotatune.render.registry import RENDERERS

    if output not in RENDERERS:
        raise InputError(f"unknown output {output!r}; use one of {', '.join(RENDERERS)}")
    target, files = split_target_and_files(args or [], from_files)
    data = load_inputs(files, fmt, store, target)
    if data.usage.empty:
        raise InputError(f"no usage samples for {target}")
    recs = recommend(data.usage, data.specs, data.events, strategy=strategy)
    sys.stdout.write(RENDERERS[output](recs, data.specs))
    for e in data.errors:
        err(f"warning: {e}")
    for note in data.notes:
        err(f"note: {note}")
