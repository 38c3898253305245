"""Debian's headless Chromium, driven over the DevTools protocol, for tests of the HTML report.

One browser per test module: :func:`start_chromium` launches ``/usr/bin/chromium`` headless on
a private profile with background networking off, and :meth:`Chromium.load` opens a file in a
fresh tab, waits for the page to say its charts are drawn (``window.quotatuneReady``), and
returns a :class:`Page` with the JavaScript exceptions, console errors and network requests
seen while loading, a way to evaluate expressions in the page, and a screenshot method.

The DevTools protocol (over the ``websocket-client`` package that ``kubernetes`` brings in) is
used instead of ``--dump-dom`` because it reports exceptions thrown by any script, including
syntax errors, without putting a collector into the page under test.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("QUOTATUNE_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
]
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium_missing() -> str | None:
    """Why Chromium cannot run here, or None."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} is not installed (Debian package 'chromium')"
    try:
        import websocket  # noqa: F401
    except ImportError:
        return "the websocket-client package is missing"
    return None


@dataclass
class Page:
    """A loaded page: what went wrong while loading, and a live connection to inspect it."""

    url: str
    exceptions: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    ready: bool = False
    _tab: _Tab | None = None

    def evaluate(self, expression: str) -> Any:
        assert self._tab is not None
        return self._tab.evaluate(expression)

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        assert self._tab is not None
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self._tab.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"],
                              "height": min(size["height"], 12000), "scale": 1}
        data = self._tab.call("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        if self._tab is not None:
            self._tab.close()
            self._tab = None


class _Tab:
    """One DevTools websocket to one page target; records events while waiting for replies."""

    def __init__(self, ws_url: str, page: Page) -> None:
        import websocket

        self._ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self._ids = itertools.count(1)
        self._page = page

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._record(msg)

    def pump(self, seconds: float) -> None:
        """Read events for up to ``seconds`` (used while the page renders)."""
        import websocket

        self._ws.settimeout(seconds)
        try:
            while True:
                self._record(json.loads(self._ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self._ws.settimeout(60)

    def evaluate(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluate {expression!r}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def _record(self, msg: dict[str, Any]) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params["exceptionDetails"]
            exc = d.get("exception", {}).get("description") or d.get("text", "")
            self._page.exceptions.append(f"{exc} (line {d.get('lineNumber')})")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            self._page.console_errors.append(" ".join(args))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self._page.console_errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            self._page.requests.append(params["request"]["url"])

    def close(self) -> None:
        self._ws.close()


class Chromium:
    def __init__(self, proc: subprocess.Popen[str], port: int, profile: str) -> None:
        self._proc, self.port, self._profile = proc, port, profile

    def _json(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (local DevTools)
            return json.loads(resp.read())

    def load(self, path: Path, *, width: int = 1440, height: int = 1000,
             timeout: float = 60.0) -> Page:
        """Open ``path`` in a new tab and wait until the page is ready or ``timeout``."""
        url = path.resolve().as_uri()
        page = Page(url=url)
        target = self._json("/json/new?about:blank", method="PUT")
        tab = _Tab(target["webSocketDebuggerUrl"], page)
        page._tab = tab
        for domain in ("Runtime", "Log", "Page", "Network"):
            tab.call(f"{domain}.enable")
        tab.call("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        tab.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tab.pump(0.25)
            try:
                if tab.evaluate("document.readyState === 'complete' && "
                                "window.quotatuneReady === true"):
                    page.ready = True
                    break
            except RuntimeError:
                continue  # navigation in progress: the context was replaced
        tab.pump(0.3)  # late errors from the last chart
        return page

    def close(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)


def start_chromium(timeout: float = 30.0) -> Chromium:
    profile = tempfile.mkdtemp(prefix="quotatune-chromium-")
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line.rstrip())
        m = _LISTENING.search(line)
        if m:
            port = int(m.group(1).split(":")[2].split("/")[0])
            # Keep draining stderr so Chromium never blocks on a full pipe.
            _drain(proc)
            return Chromium(proc, port, profile)
    proc.kill()
    shutil.rmtree(profile, ignore_errors=True)
    raise RuntimeError("chromium did not start: " + " | ".join(seen[-5:]))


def _drain(proc: subprocess.Popen[str]) -> None:
    import threading

    def run() -> None:
        assert proc.stderr is not None
        for _ in proc.stderr:
            pass

    threading.Thread(target=run, daemon=True).start()
