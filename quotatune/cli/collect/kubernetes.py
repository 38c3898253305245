"""quotatune collect kubernetes — one pass over a cluster into the history store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quotatune.cli.options import KeepDays, NoLogs, StoreDir


def command(
    context: Annotated[
        str | None, typer.Option("--context", help="kubeconfig context (default: current).")
    ] = None,
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="kubeconfig file (default: KUBECONFIG, ~/.kube/config; "
                     "in-cluster service account when none exists)."),
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Only this namespace.")
    ] = None,
    store: StoreDir = None,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, help="Objects per list request.")
    ] = 500,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds per API request.")
    ] = 10.0,
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="Further tries on timeouts and 5xx.")
    ] = 3,
    keep_days: KeepDays = None,
    no_logs: NoLogs = False,
) -> None:
    """Read pods, owners, requests/limits, statuses, events and kubelet usage; append them."""
    import os

    from quotatune.cli import config
    from quotatune.cli.output import err
    from quotatune.model.errors import InputError
    from quotatune.pipelines.collect import collect_kubernetes, into_store
    from quotatune.pipelines.collect import kubernetes_api as connect
    from quotatune.pipelines.maintenance import after_write, retention_line, without_logs

    in_cluster = (
        kubeconfig is None and not context and not os.environ.get("KUBECONFIG")
        and not (Path.home() / ".kube" / "config").exists()
        and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    )
    api = connect(str(kubeconfig) if kubeconfig else None, context, in_cluster=in_cluster,
                  timeout=timeout)
    data = collect_kubernetes(api, namespace=namespace, page_size=page_size, retries=retries,
                              timeout=timeout)
    if data.specs.empty and data.usage.empty and data.errors:
        raise InputError(data.errors[0])
    data = without_logs(data) if no_logs else data
    written = into_store(data, config.store_dir(store))
    rep = written.report
    pruned = retention_line(after_write(config.store_dir(store), "kubernetes", rep, keep_days))
    for e in data.errors:
        err(f"warning: {e}")
    for note in [*data.notes, *written.notes]:
        err(f"note: {note}")
    pods = data.specs["pod"].nunique() if not data.specs.empty else 0
    typer.echo(
        f"collected {pods} pod(s), {len(data.specs)} container spec(s), "
        f"{len(data.usage)} usage sample(s) ({rep.samples_added} new), "
        f"{rep.events_added} new event(s)"
        + (f"; {len(data.errors)} part(s) failed" if data.errors else "")
    )
    if pruned:
        typer.echo(pruned)
