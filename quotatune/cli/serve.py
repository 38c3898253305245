"""quotatune serve — recommendations and findings as Prometheus metrics on /metrics.  A
sub-package of its own because cli/ holds the 15 modules docs/architecture.md allows a folder."""

from __future__ import annotations

from typing import Annotated

import typer

from quotatune.cli.options import (
    CaFile,
    Headers,
    InsecureSkipVerify,
    NowText,
    PromStep,
    PromWindow,
    StoreDir,
    Strategy,
    TokenEnv,
    TokenFile,
)

DEFAULT_LISTEN = "127.0.0.1:9187"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9187`` for IPv6) -> (host, port)."""
    from quotatune.model.errors import InputError

    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise InputError(f"bad --listen {text!r}: use HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host, int(port)


def command(
    store: StoreDir = None,
    prometheus: Annotated[
        str | None,
        typer.Option("--prometheus", help="Recompute inside this Prometheus (as recommend "
                     "--prometheus) instead of reading the store."),
    ] = None,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to serve /metrics and /healthz on; "
                          "0.0.0.0:9187 in a container.")
    ] = DEFAULT_LISTEN,
    refresh: Annotated[
        str, typer.Option("--refresh", help="Recompute this often, e.g. 1h, 15m.")
    ] = "1h",
    strategy: Strategy = None,
    window: PromWindow = None,
    step: PromStep = None,
    token_file: TokenFile = None,
    token_env: TokenEnv = None,
    header: Headers = None,
    ca_file: CaFile = None,
    insecure_skip_verify: InsecureSkipVerify = False,
    now_text: NowText = None,
) -> None:
    """Serve recommendations (cores, bytes) and findings as Prometheus metrics, recomputed in
    the background every --refresh; /healthz says whether the last refresh is recent."""
    import os
    import signal
    import threading

    from quotatune.cli import config
    from quotatune.cli.common import parse_now
    from quotatune.cli.output import err
    from quotatune.model.durations import parse_duration
    from quotatune.model.errors import InputError
    from quotatune.pipelines.recommend import check_strategy
    from quotatune.pipelines.serve import Refresher, Server, prometheus_source, store_source

    check_strategy(strategy)
    host, port = parse_listen(listen)
    period = parse_duration(refresh, "--refresh").total_seconds()
    if period <= 0:
        raise InputError("--refresh must be longer than 0 s")
    if prometheus and store:
        raise InputError("use one of --store and --prometheus")
    if not prometheus and (window or step):
        raise InputError("--window and --step go with --prometheus")
    pinned = parse_now(now_text) if now_text else None
    client = None
    if prometheus:
        from quotatune.pipelines.collect import hide_url_password, prometheus_client

        client = prometheus_client(
            prometheus, env=os.environ, token_file=token_file, token_env=token_env,
            headers=header, ca_file=ca_file, insecure_skip_verify=insecure_skip_verify)
        compute = prometheus_source(client, parse_duration(window or "14d", "--window"),
                                    parse_duration(step or "1m", "--step"), strategy, pinned)
        source = f"Prometheus at {hide_url_password(prometheus, prometheus)}"
    else:
        root = config.store_dir(store)
        compute, source = store_source(root, strategy, pinned), f"store {root}"

    server = Server(Refresher(compute, period, log=err), host, port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    h, p = server.address
    err(f"quotatune serve: http://{f'[{h}]' if ':' in h else h}:{p}/metrics and /healthz, "
        f"from {source}, refreshed every {refresh}")
    server.start()
    try:
        while not stop.wait(1.0):  # wakes up for the signal handlers
            pass
    finally:
        server.stop()
        if client is not None:
            client.close()
    err("quotatune serve: stopped")
