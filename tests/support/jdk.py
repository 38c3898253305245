"""JVM workloads for the Docker tests: a tiny Java program compiled with the machine's JDK.

The JDK itself is bind-mounted read-only into the busybox image by
:func:`tests.support.dockerd.run_container` (``jdk=True``); this module adds what those tests
also need: a class that starts, says so, and stays up (``Sleeper``), mounted read-only at
:data:`APP_DIR`, and the host's memory size (so that a heap that cannot be committed is sized
from the machine it runs on, not guessed).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

APP_DIR = "/app"
SLEEPER = """\
public class Sleeper {
    public static void main(String[] args) throws Exception {
        System.out.println("ready, max heap " + Runtime.getRuntime().maxMemory());
        System.out.flush();
        Thread.sleep(3_600_000L);
    }
}
"""


def require_jdk() -> str | None:
    """Why the JVM cases cannot run here (no java/javac on PATH), or None."""
    for tool in ("java", "javac"):
        if shutil.which(tool) is None:
            return f"no {tool} on PATH (the JVM cases bind-mount the machine's JDK)"
    return None


def compile_sleeper(out_dir: Path) -> Path:
    """Compile ``Sleeper`` into ``out_dir`` (for Java 11+, so any mounted JDK runs it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / "Sleeper.java"
    src.write_text(SLEEPER)
    subprocess.run(["javac", "--release", "11", "-d", str(out_dir), str(src)], check=True,
                   capture_output=True, timeout=300)
    return out_dir


def app_volume(app_dir: Path) -> dict[str, dict[str, str]]:
    return {str(app_dir): {"bind": APP_DIR, "mode": "ro"}}


def host_memory_bytes() -> int:
    """MemTotal of the machine (the most any single allocation could get)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def wait_for_log(container: Any, text: str, timeout: float = 120) -> str:
    """Wait until ``text`` shows in the container's log (or it exits); return the log."""
    deadline = time.monotonic() + timeout
    while True:
        log = container.logs().decode("utf-8", "replace")
        container.reload()
        if text in log or container.status == "exited" or time.monotonic() > deadline:
            return log
        time.sleep(0.5)
