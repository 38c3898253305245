"""Findings about a container's environment: variable names only, never values."""

from __future__ import annotations

import numpy as np

from quotatune.analysis.findings.common import Context, as_names, exit_text, finding
from quotatune.model import Finding


def non_ascii_env(ctx: Context) -> list[Finding]:
    out = []
    for key in ctx.spec_keys():
        names = as_names((ctx.spec(key) or {}).get("non_ascii_env"))
        if not names:
            continue
        last = ctx.last_termination(key)
        crashed = last is not None and last["exit"] is not None and np.isfinite(
            last["exit"]) and last["exit"] != 0
        evidence = [f"environment variable {n} has a non-ASCII value" for n in names]
        if crashed and last is not None:
            evidence.append("last " + exit_text(last["exit"]))
        out.append(finding(
            key, "non-ascii-env", "warning" if crashed else "info", None, evidence,
            "A process that reads its environment in an ASCII locale (LANG unset or C/POSIX, "
            "an old JVM, Python without UTF-8 mode) can fail or garble this value: set "
            "LANG=C.UTF-8 (and -Dfile.encoding=UTF-8 / PYTHONUTF8=1), or keep the value ASCII "
            "(percent- or base64-encode it)."))
    return out
