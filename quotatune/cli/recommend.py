"""quotatune recommend [TARGET] — CPU and memory requests per container."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from quotatune.cli.options import (
    CaFile,
    FileFormat,
    FromFiles,
    Headers,
    InsecureSkipVerify,
    MaxConcurrency,
    MaxSamplesPerQuery,
    NowText,
    PromStep,
    PromWindow,
    StoreDir,
    Strategy,
    TargetArgs,
    TokenEnv,
    TokenFile,
)


def command(
    args: TargetArgs = None,
    from_files: FromFiles = None,
    fmt: FileFormat = None,
    store: StoreDir = None,
    strategy: Strategy = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help="table, json, yaml, csv or patch.")
    ] = "table",
    prometheus: Annotated[
        str | None,
        typer.Option("--prometheus", help="Compute inside this Prometheus; pull only summaries."),
    ] = None,
    window: PromWindow = None,
    step: PromStep = None,
    token_file: TokenFile = None,
    token_env: TokenEnv = None,
    header: Headers = None,
    ca_file: CaFile = None,
    insecure_skip_verify: InsecureSkipVerify = False,
    max_samples: MaxSamplesPerQuery = None,
    max_concurrency: MaxConcurrency = None,
    no_rules: Annotated[bool, typer.Option(
        "--no-recording-rules", help="With --prometheus: read the raw cAdvisor series even "
        "where the recording rules of deploy/prometheus are there.")] = False,
    now_text: NowText = None,
) -> None:
    """Recommend CPU (millicores) and memory (MiB) requests and limits per container."""
    from quotatune.cli import config
    from quotatune.cli.common import parse_now, split_target_and_files
    from quotatune.cli.output import err
    from quotatune.model.durations import parse_duration
    from quotatune.model.errors import InputError
    from quotatune.pipelines.recommend import from_files as recommend_files
    from quotatune.pipelines.recommend import from_prometheus, from_store
    from quotatune.render.registry import RENDERERS

    if output not in RENDERERS:
        raise InputError(f"unknown output {output!r}; use one of {', '.join(RENDERERS)}")
    target, files = split_target_and_files(args or [], from_files)
    errors: list[str] = []
    notes: list[str] = []
    if not prometheus and (window or step):
        raise InputError("--window and --step go with --prometheus (a store or files are "
                         "read whole; narrow them with TARGET)")
    if not prometheus and (max_samples is not None or max_concurrency is not None or no_rules):
        raise InputError("--max-samples-per-query, --max-concurrency and --no-recording-rules "
                         "go with --prometheus")
    if prometheus:
        if files:
            raise InputError("use one of --prometheus and --from")
        import os

        from quotatune.cli.collect.prometheus import INSECURE
        from quotatune.pipelines.collect import (
            PROM_MAX_CONCURRENCY,
            PROM_MAX_SAMPLES,
            prometheus_client,
        )

        client = prometheus_client(
            prometheus, env=os.environ, token_file=token_file, token_env=token_env, headers=header,
            ca_file=ca_file, insecure_skip_verify=insecure_skip_verify,
        )
        if insecure_skip_verify:
            err(INSECURE)
        try:
            recs, specs = from_prometheus(
                client, target, parse_duration(window or "14d", "--window"),
                parse_duration(step or "1m", "--step"), strategy, errors, parse_now(now_text),
                notes, rules=False if no_rules else None,
                max_samples=PROM_MAX_SAMPLES if max_samples is None else max_samples,
                max_concurrency=PROM_MAX_CONCURRENCY
                if max_concurrency is None else max_concurrency)
        finally:
            client.close()
    elif files:
        recs, specs = recommend_files(files, fmt, target, strategy, errors, notes)
    else:
        recs, specs = from_store(config.store_dir(store), target, strategy)
    sys.stdout.write(RENDERERS[output](recs, specs))
    for e in errors:
        err(f"warning: {e}")
    for note in notes:
        err(f"note: {note}")
