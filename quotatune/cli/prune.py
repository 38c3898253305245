"""quotatune prune --keep-days N — drop what the store holds past its retention."""


from __future__ import annotations

from typing import Annotated

import typer

from quotatune.cli.options import NowText, StoreDir


def prune(
    keep_days: Annotated[
        int, typer.Option("--keep-days", min=1, max=36_500,
                          help="Keep this many days, counted back from now.")
    ],
    store: StoreDir = None,
    now_text: NowText = None,
) -> None:
    """Delete stored samples, events and specs older than --keep-days; safe to interrupt and
    re-run, and to run beside a collect (it waits for the store's lock)."""
    from quotatune.cli import config
    from quotatune.cli.common import parse_now
    from quotatune.pipelines import maintenance

    root = config.store_dir(store)
    rep = maintenance.prune(root, keep_days, parse_now(now_text))
    typer.echo(f"pruned {root} before {rep.cutoff}: {rep.days} day(s), {rep.events} event(s), "
               f"{rep.specs} spec row(s)")
