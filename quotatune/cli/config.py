"""Settings from flags and QUOTATUNE_* variables.  Resolved once by the CLI and passed down;
the library never reads the environment itself."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def store_dir(flag: str | Path | None, env: Mapping[str, str] | None = None) -> Path:
    """--store, else QUOTATUNE_STORE, else ./data."""
    env = os.environ if env is None else env
    return Path(flag or env.get("QUOTATUNE_STORE") or "data")


def reports_dir(flag: str | Path | None, env: Mapping[str, str] | None = None) -> Path:
    """--out, else QUOTATUNE_REPORTS, else ./reports."""
    env = os.environ if env is None else env
    return Path(flag or env.get("QUOTATUNE_REPORTS") or "reports")


def docker_host(flag: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """--host, else DOCKER_HOST, else None (the SDK's default socket), like the docker CLI."""
    env = os.environ if env is None else env
    return flag or env.get("DOCKER_HOST") or None


def group_readable(env: Mapping[str, str] | None = None) -> bool:
    """QUOTATUNE_GROUP_READABLE=1: files 0640 and directories 0750 instead of 0600/0700."""
    env = os.environ if env is None else env
    return env.get("QUOTATUNE_GROUP_READABLE", "").strip().lower() in {"1", "true", "yes"}
