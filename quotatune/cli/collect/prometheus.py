"""quotatune collect prometheus --url URL — pull usage history from Prometheus into the store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from quotatune.cli.options import (
    KeepDays,
    MaxConcurrency,
    MaxSamplesPerQuery,
    NowText,
    StoreDir,
)

INSECURE = "warning: --insecure-skip-verify: the server's TLS certificate is not checked"


def command(
    url: Annotated[str, typer.Option("--url", help="Prometheus base URL (Thanos, Mimir, "
                                      "VictoriaMetrics work too).")],
    window: Annotated[str, typer.Option("--window", help="History to read, e.g. 14d.")] = "14d",
    step: Annotated[str, typer.Option("--step", help="Resolution, e.g. 1m or 30s.")] = "1m",
    namespace: Annotated[str | None, typer.Option("-n", "--namespace")] = None,
    selector: Annotated[str | None, typer.Option(
        "--selector", help='Extra label matchers for the cAdvisor series, e.g. job="kubelet".')
    ] = None,
    token_file: Annotated[Path | None, typer.Option("--token-file",
                                                    help="Bearer token from this file.")] = None,
    token_env: Annotated[str | None, typer.Option(
        "--token-env", help="Bearer token from this environment variable.")] = None,
    basic_auth_user: Annotated[str | None, typer.Option("--basic-auth-user")] = None,
    basic_auth_password_env: Annotated[str | None, typer.Option(
        "--basic-auth-password-env", help="Basic-auth password from this variable.")] = None,
    header: Annotated[list[str] | None, typer.Option(
        "--header", help="Extra HTTP header NAME:VALUE (repeatable).")] = None,
    ca_file: Annotated[Path | None, typer.Option("--ca-file", help="CA bundle for TLS.")] = None,
    insecure_skip_verify: Annotated[bool, typer.Option("--insecure-skip-verify")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="Seconds per request.")
    ] = 60.0,
    max_samples: MaxSamplesPerQuery = None,
    max_concurrency: MaxConcurrency = None,
    store: StoreDir = None,
    now_text: NowText = None,
    keep_days: KeepDays = None,
) -> None:
    """Read cAdvisor and kube-state-metrics history from Prometheus into the store."""
    import sys

    import pandas as pd

    from quotatune.cli import config
    from quotatune.cli.common import parse_now
    from quotatune.cli.output import err, progress_enabled
    from quotatune.model.durations import parse_duration
    from quotatune.pipelines.collect import (
        PROM_MAX_CONCURRENCY,
        PROM_MAX_SAMPLES,
        collect_prometheus,
        into_store,
        prometheus_client,
    )
    from quotatune.pipelines.maintenance import after_write, retention_line

    win = parse_duration(window, "--window")
    stp = parse_duration(step, "--step")
    client = prometheus_client(
        url, env=os.environ, token_file=token_file, token_env=token_env,
        basic_auth_user=basic_auth_user,
        basic_auth_password_env=basic_auth_password_env, headers=header, ca_file=ca_file,
        insecure_skip_verify=insecure_skip_verify, timeout=timeout)
    if insecure_skip_verify:
        err(INSECURE)
    if progress_enabled():
        client.on_request = lambda endpoint, _p: print(
            f"\rqueries sent: {client.requests_sent + 1}", end="", file=sys.stderr, flush=True)
    try:
        data = collect_prometheus(client, window=win, step=stp, namespace=namespace,
                                  selector=selector, now=parse_now(now_text),
                                  max_samples=PROM_MAX_SAMPLES
                                  if max_samples is None else max_samples,
                                  max_concurrency=PROM_MAX_CONCURRENCY
                                  if max_concurrency is None else max_concurrency)
    finally:
        client.close()
        if progress_enabled():
            print(file=sys.stderr)
    if data.usage.empty and data.errors:
        for e in data.errors:
            err(f"quotatune: error: {e}")
        raise typer.Exit(2)
    root = config.store_dir(store)
    written = into_store(data, root)
    rep = written.report
    n = data.usage[["namespace", "pod", "container"]].drop_duplicates().shape[0] \
        if not data.usage.empty else 0
    typer.echo(f"collected {len(data.usage)} sample(s) of {n} container(s) from {client.url} "
               f"in {client.requests_sent} request(s) into {root}: {rep.samples_added} new, "
               f"{rep.samples_duplicate} already stored, {rep.events_added} new event(s)")
    pruned = retention_line(after_write(root, "prometheus", rep, keep_days,
                                        pd.Timestamp(parse_now(now_text))))
    if pruned:
        typer.echo(pruned)
    for note in [*data.notes, *written.notes]:
        err(f"note: {note}")
    for e in data.errors:
        err(f"warning: partial data: {e}")
