"""Collection flows: a live source into the history store.

Clients are built here from resolved settings (the CLI resolves flags and environment), so
the sources themselves take ready clients and stay testable against real daemons.

What a collection stores meets the rule ``import`` and ``--from`` follow
(:func:`quotatune.model.times.drop_future`): samples and events stamped more than a
tolerance after the clock are left out and counted (:func:`in_time`, which ``diagnose``'s
live reads share).  A Docker daemon, kubelet or metrics-server stamps samples with its own
clock; one running a day ahead wrote samples dated tomorrow, which then won every "newest"
comparison (the current requests and limits) and stretched the windows, and an OOM kill
dated tomorrow was every later ``diagnose``'s latest failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.model.times import drop_future, drop_future_events, future_limit, future_notes
from quotatune.pipelines.inputs import open_store
from quotatune.sources.docker.collector import collect_docker
from quotatune.sources.kubernetes.api import connect as kubernetes_api
from quotatune.sources.kubernetes.collector import collect_kubernetes
from quotatune.sources.prometheus.client import PrometheusClient
from quotatune.sources.prometheus.collector import collect_prometheus
from quotatune.sources.prometheus.run import MAX_CONCURRENCY as PROM_MAX_CONCURRENCY
from quotatune.sources.prometheus.split import MAX_SAMPLES as PROM_MAX_SAMPLES
from quotatune.store import AppendReport

# The collectors are the flows' first step; the CLI reaches them only through this module.
__all__ = ["PROM_MAX_CONCURRENCY", "PROM_MAX_SAMPLES", "Late", "Written", "collect_docker",
           "collect_kubernetes", "collect_prometheus", "docker_client", "hide_url_password",
           "in_time", "into_store", "kubernetes_api", "open_store", "prometheus_client"]


def hide_url_password(text: str, url: str | None) -> str:
    """``text`` with the password of ``url`` (ssh://user:secret@host) replaced by ***; the
    SDK's own error messages repeat the URL verbatim."""
    from urllib.parse import urlsplit

    if not url:
        return text
    try:
        password = urlsplit(url).password
    except ValueError:
        return text.replace(url, "(unparseable URL)")
    return text.replace(password, "***") if password else text


def docker_client(host: str | None, timeout: float, env: Mapping[str, str]) -> Any:
    """A docker SDK client for --host, else DOCKER_HOST (with its TLS settings), else the
    default socket; an unreachable daemon is one clear InputError."""
    import docker

    from quotatune.sources.docker.rows import describe

    where = host or "the default socket"
    env = dict(env)
    if host:
        env["DOCKER_HOST"] = host
    try:
        return docker.from_env(environment=env, timeout=int(max(1, timeout)), max_pool_size=64)
    except Exception as exc:  # the SDK asks the daemon for its API version right away
        raise InputError(hide_url_password(
            f"cannot reach the Docker daemon at {where}: {describe(exc)}", host)) from None


def prometheus_client(
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
    env: Mapping[str, str],
) -> PrometheusClient:
    """Resolve the auth flags (files, variables of ``env``) into a client.  Shared with
    ``recommend --prometheus``.  Secrets are read here and handed to the client only."""
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


@dataclass
class Late:
    """What :func:`in_time` left out of a collection: stamped in the future."""

    samples: int = 0
    events: int = 0
    notes: list[str] = field(default_factory=list)  # worded as the import's


def in_time(data: Collected, *, now: pd.Timestamp | None = None) -> tuple[Collected, Late]:
    """``data`` without its samples and events stamped after ``now`` (default: the clock)
    + 10 minutes, and what those were; an event without a time stays.  ``data`` itself is
    left as it was."""
    limit = future_limit(now)
    usage, samples = drop_future(data.usage, limit)
    events, late_events = drop_future_events(data.events, limit)
    if samples or late_events:
        data = replace(data, usage=usage.reset_index(drop=True),
                       events=events.reset_index(drop=True))
    return data, Late(samples, late_events, future_notes(limit, samples, late_events))


@dataclass
class Written:
    """What :func:`into_store` made of a collection."""

    report: AppendReport
    future: int = 0  # samples left out: stamped in the future
    future_events: int = 0  # events left out, likewise
    notes: list[str] = field(default_factory=list)  # for the command to show, as import's


def into_store(data: Collected, store: Path, *, now: pd.Timestamp | None = None) -> Written:
    """Append what a source collected to the store at ``store``, without its samples and
    events stamped after ``now`` (default: the clock) + 10 minutes, which are counted in
    notes worded as the import's."""
    data, late = in_time(data, now=now)
    report = open_store(store).append(data)
    return Written(report, late.samples, late.events, late.notes)
