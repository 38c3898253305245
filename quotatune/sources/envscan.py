"""Read what findings need from a container's command and environment, keeping no values.

Collectors call :func:`scan` at collection time so that environment *values* never enter a
frame, the store or a report: only the names, the JVM flags (which are what the JVM finding
is about) and the names of variables whose values are not ASCII.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from quotatune.model.redact import redact_args

# Where the JVM reads options from.  ``scan`` lists flags in the order the JVM applies them, so
# that the last occurrence of a flag is the one in force: JAVA_TOOL_OPTIONS, then
# JDK_JAVA_OPTIONS, then the command line (start scripts splice JAVA_OPTS into it), then
# _JAVA_OPTIONS, which overrides everything.
JVM_ENV_VARS = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_OPTS", "_JAVA_OPTIONS")
_JVM_FLAG = re.compile(r"^-(?:Xm[sx]\S+|Xss\S+|XX:\S+|Xmn\S+)$")


@dataclass(frozen=True)
class EnvScan:
    env_names: tuple[str, ...]
    jvm_options: tuple[str, ...]  # e.g. ("-Xms4g", "-XX:+AlwaysPreTouch"), each once, in order
    jvm_option_sources: tuple[str, ...]  # "command", "args" or the variable name, per option
    non_ascii_env: tuple[str, ...]  # names only


def _tokens(parts: Iterable[str]) -> list[str]:
    out: list[str] = []
    for part in parts:
        try:
            out.extend(shlex.split(part))
        except ValueError:  # unbalanced quotes in a shell string: fall back to whitespace
            out.extend(part.split())
    return out


def jvm_flags(parts: Iterable[str]) -> list[str]:
    """The JVM memory/GC flags among command-line parts (shell strings are split too)."""
    return [t for t in _tokens(parts) if _JVM_FLAG.match(t)]


def parse_env_list(env: Iterable[str] | None) -> dict[str, str]:
    """Docker's ``Config.Env`` (``["NAME=value", …]``) as a dict."""
    out: dict[str, str] = {}
    for item in env or ():
        name, _, value = item.partition("=")
        out[name] = value
    return out


def scan(
    command: Iterable[str] | None, args: Iterable[str] | None, env: Mapping[str, str] | None
) -> EnvScan:
    env = env or {}
    opts: list[str] = []
    sources: list[str] = []
    ordered: list[tuple[str, Iterable[str]]] = [
        (var, [env[var]]) for var in JVM_ENV_VARS[:3] if var in env
    ]
    ordered += [("command", command or ()), ("args", args or ())]
    if "_JAVA_OPTIONS" in env:
        ordered.append(("_JAVA_OPTIONS", [env["_JAVA_OPTIONS"]]))
    for where, parts in ordered:
        for flag in jvm_flags(parts):
            opts.append(flag)
            sources.append(where)
    non_ascii = tuple(sorted(name for name, value in env.items() if not value.isascii()))
    return EnvScan(
        env_names=tuple(sorted(env)),
        # -XX:OnOutOfMemoryError="curl -u user:pw …" carries a secret into the frame.
        jvm_options=redact_args(opts),
        jvm_option_sources=tuple(sources),
        non_ascii_env=non_ascii,
    )
