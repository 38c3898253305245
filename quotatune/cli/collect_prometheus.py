"""quotatune collect prometheus --url URL — pull usage history from Prometheus into the store."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quotatune.cli.options import NowText, StoreDir

if TYPE_CHECKING:
    from quotatune.collect.prom_client import PrometheusClient


def client_from_options(
    url: str,
    *,
    token_file: Path | None = None,
    token_env: str | None = None,
    basic_auth_user: str | None = None,
    basic_auth_password_env: str | None = None,
    headers: list[str] | None = None,
    ca_file: Path | None = None,
    insecure_skip_verify: bool = False,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
) -> PrometheusClient:
    """Resolve the auth flags (files, environment) into a client.  Shared with
    ``recommend --prometheus``.  Secrets are read here and handed to the client only."""
    from quotatune.collect.prom_client import PrometheusClient
    from quotatune.errors import InputError

    env = os.environ if env is None else env
    if not math.isfinite(timeout) or timeout <= 0:
        raise InputError(f"--timeout must be a positive number of seconds, not {timeout}")
    if token_file is not None and token_env is not None:
        raise InputError("use one of --token-file and --token-env")
    token = None
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise InputError(f"--token-file {token_file}: cannot read ({exc.strerror})") from None
        if not token:
            raise InputError(f"--token-file {token_file}: empty")
    if token_env is not None:
        token = env.get(token_env, "").strip()
        if not token:
            raise InputError(f"--token-env: variable {token_env} is not set or empty")
    basic = None
    if basic_auth_user is not None:
        if basic_auth_password_env is None:
            raise InputError("--basic-auth-user needs --basic-auth-password-env VAR")
        password = env.get(basic_auth_password_env)
        if password is None:
            raise InputError(f"--basic-auth-password-env: variable {basic_auth_password_env} "
                             "is not set")
        basic = (basic_auth_user, password)
    elif basic_auth_password_env is not None:
        raise InputError("--basic-auth-password-env needs --basic-auth-user")
    extra: dict[str, str] = {}
    for h in headers or []:
        name, sep, value = h.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \r\n") or "\n" in value:
            # Never echo the value: headers often carry credentials.
            raise InputError(f"--header: expected NAME:VALUE, got a header named {name[:40]!r}")
        extra[name.strip()] = value.strip()
    if ca_file is not None and not ca_file.is_file():
        raise InputError(f"--ca-file {ca_file}: no such file")
    if insecure_skip_verify:
        import warnings

        from urllib3.exceptions import InsecureRequestWarning

        # Said once by the command instead of once per request by urllib3.
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
    return PrometheusClient(url, token=token, basic_auth=basic, headers=extra,
                            ca_file=str(ca_file) if ca_file else None,
                            verify=not insecure_skip_verify, timeout=timeout)


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
    store: StoreDir = None,
    now_text: NowText = None,
) -> None:
    """Read cAdvisor and kube-state-metrics history from Prometheus into the store."""
    import sys

    from quotatune.cli.common import open_store, parse_now
    from quotatune.cli.output import err, progress_enabled
    from quotatune.collect.prometheus import collect_prometheus, parse_duration

    win = parse_duration(window, "--window")
    stp = parse_duration(step, "--step")
    client = client_from_options(
        url, token_file=token_file, token_env=token_env, basic_auth_user=basic_auth_user,
        basic_auth_password_env=basic_auth_password_env, headers=header, ca_file=ca_file,
        insecure_skip_verify=insecure_skip_verify, timeout=timeout)
    if insecure_skip_verify:
        err("warning: --insecure-skip-verify: the server's TLS certificate is not checked")
    if progress_enabled():
        client.on_request = lambda endpoint, _p: print(
            f"\rqueries sent: {client.requests_sent + 1}", end="", file=sys.stderr, flush=True)
    try:
        data = collect_prometheus(client, window=win, step=stp, namespace=namespace,
                                  selector=selector, now=parse_now(now_text))
    finally:
        client.close()
        if progress_enabled():
            print(file=sys.stderr)
    if data.usage.empty and data.errors:
        for e in data.errors:
            err(f"quotatune: error: {e}")
        raise typer.Exit(2)
    st = open_store(store)
    rep = st.append(data)
    n = data.usage[["namespace", "pod", "container"]].drop_duplicates().shape[0] \
        if not data.usage.empty else 0
    typer.echo(f"collected {len(data.usage)} sample(s) of {n} container(s) from {client.url} "
               f"in {client.requests_sent} request(s) into {st.root}: {rep.samples_added} new, "
               f"{rep.samples_duplicate} already stored, {rep.events_added} new event(s)")
    for note in data.notes:
        err(f"note: {note}")
    for e in data.errors:
        err(f"warning: partial data: {e}")
