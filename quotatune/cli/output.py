"""Small printing helpers for command modules (the library itself never prints)."""

from __future__ import annotations

import sys


def err(line: str) -> None:
    print(line, file=sys.stderr)


def one_line_tls_warning() -> None:
    """urllib3 warns of each unverified HTTPS request in two lines of source context; a
    kubeconfig with ``insecure-skip-tls-verify`` or a Docker TLS host without verification
    gets one line instead, once per command."""
    import re
    import warnings

    shown = warnings.showwarning
    said: list[str] = []

    def show(message: Warning | str, category: type[Warning], *args: object,
             **kwargs: object) -> None:
        if category.__name__ != "InsecureRequestWarning":
            shown(message, category, *args, **kwargs)  # type: ignore[arg-type]
            return
        if not said:
            m = re.search(r"host '([^']*)'", str(message))
            said.append(m.group(1) if m else "the server")
            err(f"quotatune: warning: TLS certificate verification is off for {said[0]}: "
                "the server is not authenticated")

    warnings.showwarning = show


def progress_enabled() -> bool:
    """Progress bars only on a terminal: cron and pipes stay quiet."""
    return sys.stderr.isatty()
