"""Issue 17's held-out container on a real dockerd: it leaks secrets the way real ones do
(a secret env value, a start-up script that echoes ``Picked up JAVA_TOOL_OPTIONS: …
-Ddb.password=…``, a webhook password in -XX:OnOutOfMemoryError, a log line with ``token=…``,
``--api-token=…`` in its args) and exits non-zero.  After ``collect docker``, ``diagnose``
and ``report``, no secret is in any Parquet column of any store file, in any other file
written, in the JSON or in the HTML; and every file written is 0600, every directory 0700."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli
from tests.support import dockerd as support
from tests.support.dockerd import java_path, run_container
from tests.support.jdk import require_jdk

dockerd = support.dockerd
busybox_image = support.busybox_image

pytestmark = pytest.mark.docker

SECRETS = {
    "env": "envS3cretValue41",
    "jvm-property": "dbPassw0rdValue42",
    "oom-hook": "hookPassw0rd43",
    "log-token": "logT0kenValue44",
    "arg-token": "argT0kenValue45",
}
TOOL_OPTIONS = (f"-Xmx64m -Ddb.password={SECRETS['jvm-property']} "
                f"-XX:OnOutOfMemoryError='curl -u ops:{SECRETS['oom-hook']} http://hook/oom'")


def start_script(java: str | None) -> str:
    jvm = f"{java} -version; " if java else ""
    return (f'echo "Picked up JAVA_TOOL_OPTIONS: $JAVA_TOOL_OPTIONS" >&2; {jvm}'
            f'echo "connecting to db as app with token={SECRETS["log-token"]}"; '
            'echo "java.lang.OutOfMemoryError: Java heap space, request token='
            f'{SECRETS["log-token"]}"; exit 3')


def leaks(text: str) -> list[str]:
    return [k for k, v in SECRETS.items() if v in text]


def parquet_text(path: Path) -> str:
    """Every value of every column (lists and all), as text."""
    table = pq.read_table(path)
    return "\n".join(repr(table.column(i).to_pylist()) for i in range(table.num_columns))


def written(root: Path) -> list[Path]:
    return [root, *root.rglob("*")]


@pytest.fixture(scope="module")
def leaky(dockerd, busybox_image, tmp_path_factory):
    client = dockerd.client()
    java = java_path() if require_jdk() is None else None
    c = run_container(
        client, busybox_image, ["sh", "-c", start_script(java), "app",
                                f"--api-token={SECRETS['arg-token']}", "--port", "8080"],
        name="leaky-app", jdk=java is not None, wait=True, timeout=180,
        environment={"DB_PASSWORD": SECRETS["env"], "JAVA_TOOL_OPTIONS": TOOL_OPTIONS})
    assert c.attrs["State"]["ExitCode"] == 3
    # A running one with the same args and environment, so that there is usage to report.
    run_container(client, busybox_image, ["sh", "-c", "sleep 600", "web",
                                          f"--api-token={SECRETS['arg-token']}"],
                  name="leaky-web", environment={"DB_PASSWORD": SECRETS["env"],
                                                 "JAVA_TOOL_OPTIONS": TOOL_OPTIONS})
    assert SECRETS["log-token"] in c.logs().decode()  # the container does leak
    base = tmp_path_factory.mktemp("leaky")
    old = os.umask(0o022)  # the usual umask: modes must not come from it
    try:
        store, out = base / "store", base / "reports"
        runs = {
            "collect": run_cli("collect", "docker", "--host", dockerd.base_url, "--store",
                               str(store), "--rounds", "2", "--interval", "0.5"),
            "diagnose-live": run_cli("diagnose", "--docker-host", dockerd.base_url, "-o",
                                     "json"),
            "diagnose-store": run_cli("diagnose", "--store", str(store), "-o", "json"),
            "report": run_cli("report", "--store", str(store), "--out", str(out)),
            "status": run_cli("status", "--store", str(store), "-o", "json"),
        }
    finally:
        os.umask(old)
    for name, r in runs.items():
        assert r.code == 0, (name, r.stderr)
    return {"store": store, "out": out, "runs": runs, "url": dockerd.base_url, "java": java}


def test_the_store_holds_the_container_with_every_secret_redacted(leaky) -> None:
    files = list(leaky["store"].rglob("*.parquet"))
    specs = parquet_text(leaky["store"] / "specs.parquet")
    events = parquet_text(leaky["store"] / "events.parquet")
    assert "leaky-app" in specs and "--api-token=<redacted>" in specs
    assert "DB_PASSWORD" in specs  # the name, never the value
    assert "token=<redacted>" in events and "Picked up JAVA_TOOL_OPTIONS" in events
    assert "-Ddb.password=<redacted>" in events and "ops:<redacted>" in events
    for f in files:
        assert leaks(parquet_text(f)) == [], f
    for f in leaky["store"].rglob("*"):
        if f.is_file():
            assert leaks(f.read_bytes().decode("utf-8", "replace")) == [], f


def test_json_html_and_messages_carry_no_secret(leaky) -> None:
    live = json.loads(leaky["runs"]["diagnose-live"].stdout)
    stored = json.loads(leaky["runs"]["diagnose-store"].stdout)
    for found in (live, stored):  # the finding quotes the log line, redacted
        oom = [f for f in found if f["workload"] == "leaky-app"]
        assert oom and "token=<redacted>" in json.dumps(oom)
    for name, r in leaky["runs"].items():
        assert leaks(r.stdout + r.stderr) == [], name
    pages = list(leaky["out"].glob("*.html"))
    assert len(pages) == 2  # the report and the index
    report = next(p for p in pages if p.name != "index.html").read_text()
    assert "leaky-web" in report
    for p in pages:
        assert leaks(p.read_text()) == [], p


def test_every_file_written_is_owner_only(leaky) -> None:
    for root in (leaky["store"], leaky["out"]):
        for p in written(root):
            mode = stat.S_IMODE(p.lstat().st_mode)
            assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))


def test_no_logs_keeps_no_log_line_at_all(leaky, tmp_path: Path) -> None:
    r = run_cli("collect", "docker", "--host", leaky["url"], "--store", str(tmp_path / "s"),
                "--no-logs")
    assert r.code == 0, r.stderr
    events = pq.read_table(tmp_path / "s" / "events.parquet").to_pandas()
    mine = events[events["workload"] == "leaky-app"]
    assert list(mine["kind"]) == ["termination"] and list(mine["exit_code"]) == [3]
    assert "connecting to db" not in parquet_text(tmp_path / "s" / "events.parquet")
    live = run_cli("diagnose", "--docker-host", leaky["url"], "--no-logs", "-o", "json")
    assert live.code == 0, live.stderr
    assert "connecting to db" not in live.stdout and "Picked up" not in live.stdout
