"""quotatune recommend [TARGET] — CPU and memory requests per container."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quotatune.cli.options import FileFormat, FromFiles, NowText, StoreDir, TargetArgs

if TYPE_CHECKING:
    import pandas as pd

    from quotatune.model import Recommendation, Target


def command(
    args: TargetArgs = None,
    from_files: FromFiles = None,
    fmt: FileFormat = None,
    store: StoreDir = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Strategy name (default: the default).")
    ] = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help="table, json, yaml, csv or patch.")
    ] = "table",
    prometheus: Annotated[
        str | None,
        typer.Option("--prometheus", help="Compute inside this Prometheus; pull only summaries."),
    ] = None,
    window: Annotated[
        str | None, typer.Option("--window", help="History for --prometheus (default 14d).")
    ] = None,
    step: Annotated[
        str | None, typer.Option("--step", help="Resolution for --prometheus (default 1m).")
    ] = None,
    token_file: Annotated[
        Path | None, typer.Option("--token-file", help="Bearer token file for --prometheus.")
    ] = None,
    token_env: Annotated[
        str | None, typer.Option("--token-env", help="Bearer token variable for --prometheus.")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="Extra HTTP header NAME:VALUE.")
    ] = None,
    ca_file: Annotated[Path | None, typer.Option("--ca-file", help="CA bundle for TLS.")] = None,
    insecure_skip_verify: Annotated[bool, typer.Option("--insecure-skip-verify")] = False,
    now_text: NowText = None,
) -> None:
    """Recommend CPU (millicores) and memory (MiB) requests and limits per container."""
    from quotatune.cli.common import split_target_and_files
    from quotatune.cli.output import err
    from quotatune.errors import InputError
    from quotatune.render.registry import RENDERERS

    if output not in RENDERERS:
        raise InputError(f"unknown output {output!r}; use one of {', '.join(RENDERERS)}")
    target, files = split_target_and_files(args or [], from_files)
    errors: list[str] = []
    notes: list[str] = []
    if not prometheus and (window or step):
        raise InputError("--window and --step go with --prometheus (a store or files are "
                         "read whole; narrow them with TARGET)")
    if prometheus:
        if files:
            raise InputError("use one of --prometheus and --from")
        from quotatune.cli.collect_prometheus import client_from_options

        client = client_from_options(
            prometheus, token_file=token_file, token_env=token_env, headers=header,
            ca_file=ca_file, insecure_skip_verify=insecure_skip_verify,
        )
        recs, specs = _from_prometheus(client, target, window or "14d", step or "1m",
                                       strategy, errors, now_text)
    elif files:
        recs, specs = _from_files(files, fmt, target, strategy, errors, notes)
    else:
        recs, specs = _from_store(store, target, strategy)
    sys.stdout.write(RENDERERS[output](recs, specs))
    for e in errors:
        err(f"warning: {e}")
    for note in notes:
        err(f"note: {note}")


def _from_files(
    files: list[Path], fmt: str | None, target: Target, strategy: str | None,
    errors: list[str], notes: list[str],
) -> tuple[list[Recommendation], pd.DataFrame]:
    from quotatune.analyze.recommend import get_strategy, recommend
    from quotatune.cli.common import load_inputs
    from quotatune.errors import InputError

    get_strategy(strategy)  # a bad name fails before any file is read
    data = load_inputs(files, fmt, None, target)
    if data.usage.empty:
        raise InputError(f"no usage samples for {target}")
    errors += data.errors
    notes += data.notes
    return recommend(data.usage, data.specs, data.events, strategy=strategy), data.specs


def _from_store(
    store: Path | None, target: Target, strategy: str | None
) -> tuple[list[Recommendation], pd.DataFrame]:
    """From the store's per-day rollups: a fleet's week of samples never has to be loaded."""
    from quotatune.analyze.recommend import recommend_from_rollups, rollup_columns
    from quotatune.cli.common import existing_store
    from quotatune.errors import InputError

    st = existing_store(store)
    rollups = st.read_rollups(columns=rollup_columns(strategy))
    if rollups is None or rollups.empty:
        raise InputError(f"no usage samples in store {st.root}")
    rollups = target.select(rollups)
    specs, events = st.read_specs(), st.read_events()
    if not target.is_all:
        specs = specs[target.mask(specs)] if not specs.empty else specs
        events = events[target.mask(events)] if not events.empty else events
    return recommend_from_rollups(rollups, specs, events, strategy=strategy), specs


def _from_prometheus(
    client: object, target: Target, window: str, step: str, strategy: str | None,
    errors: list[str], now_text: str | None,
) -> tuple[list[Recommendation], pd.DataFrame]:
    import pandas as pd

    from quotatune.cli.common import parse_now
    from quotatune.collect.prom_aggregate import recommend_from_prometheus
    from quotatune.collect.prometheus import parse_duration
    from quotatune.errors import InputError, SourceError

    try:
        recs = recommend_from_prometheus(
            client,  # type: ignore[arg-type]
            window=parse_duration(window, "--window"), step=parse_duration(step, "--step"),
            now=parse_now(now_text), namespace=target.namespace, strategy=strategy,
            errors=errors,
        )
    except SourceError as exc:
        raise InputError(str(exc)) from None
    # Prometheus was asked for the namespace only; the rest of the target applies here.
    recs = [r for r in recs if (target.workload in (None, r.workload))
            and (target.container in (None, r.container))]
    if not recs:
        raise InputError(f"no containers for {target} in Prometheus")
    return recs, pd.DataFrame()
