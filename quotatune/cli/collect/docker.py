"""quotatune collect docker — sample a Docker host's containers into the history store."""

from __future__ import annotations

from typing import Annotated

import typer

from quotatune.cli.options import KeepDays, NoLogs, StoreDir


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    """``--filter label=app=web --filter name=api`` as Engine list filters."""
    from quotatune.model.errors import InputError

    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value:
            raise InputError(f"--filter expects key=value (e.g. label=app=web), got {item!r}")
        out.setdefault(key.strip(), []).append(value)
    return out


def command(
    host: Annotated[
        str | None,
        typer.Option("--host", "-H", help="Daemon URL (default: DOCKER_HOST, else the local "
                     "socket), e.g. unix:///var/run/docker.sock or tcp://host:2376."),
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Sampling rounds.")] = 1,
    interval: Annotated[
        float, typer.Option("--interval", min=0.0, help="Seconds between rounds.")
    ] = 1.0,
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", help="Engine list filter key=value (label=…, name=…); "
                     "repeatable."),
    ] = None,
    store: StoreDir = None,
    exited: Annotated[
        bool, typer.Option("--exited/--no-exited", help="Inspect exited containers too.")
    ] = True,
    log_tail: Annotated[
        int, typer.Option("--log-tail", min=0, help="Log lines kept per exited container.")
    ] = 50,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="Seconds per API request.")
    ] = 30.0,
    keep_days: KeepDays = None,
    no_logs: NoLogs = False,
) -> None:
    """Sample CPU and memory of running containers, their limits, and how exited ones died."""
    import os

    from quotatune.cli import config
    from quotatune.cli.output import DayProgress, err
    from quotatune.model.errors import InputError
    from quotatune.pipelines.collect import (
        collect_docker,
        docker_client,
        hide_url_password,
        into_store,
    )
    from quotatune.pipelines.maintenance import after_write, retention_line, without_logs

    flt = parse_filters(filters or [])
    url = config.docker_host(host)
    client = docker_client(url, timeout, os.environ)
    try:
        # A bar of the rounds on a terminal when there is more than one to wait for.
        with DayProgress("sampling rounds", enabled=rounds > 1) as bar:
            data = collect_docker(client, rounds=rounds, interval=interval,
                                  include_exited=exited, log_tail=0 if no_logs else log_tail,
                                  filters=flt, on_round=bar)
    finally:
        client.close()
    if data.usage.empty and data.specs.empty and data.errors:
        where = url or "the default socket"
        raise InputError(hide_url_password(f"{data.errors[0]} (daemon at {where})", url))
    data = without_logs(data) if no_logs else data
    written = into_store(data, config.store_dir(store))
    rep = written.report
    pruned = retention_line(after_write(config.store_dir(store), "docker", rep, keep_days))
    for e in data.errors:
        err(hide_url_password(f"warning: {e}", url))
    # The collector's own notes (how each container was read) stay unsaid, as before.
    for note in written.notes:
        err(f"note: {note}")
    containers = data.usage["pod"].nunique() if not data.usage.empty else 0
    exited_n = int((data.specs["phase"] != "running").sum()) if not data.specs.empty else 0
    typer.echo(
        f"collected {len(data.usage)} sample(s) from {containers} running container(s) in "
        f"{rounds} round(s) ({rep.samples_added} new), {exited_n} exited container(s), "
        f"{rep.events_added} new event(s) into {config.store_dir(store)}"
        + (f"; {len(data.errors)} problem(s), see above" if data.errors else "")
    )
    if pruned:
        typer.echo(pruned)
