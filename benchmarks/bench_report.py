"""Report benchmark: 1,000 containers x 14 days x 5-minute samples (~4 M rows).

Times what ``quotatune report`` does after loading (recommend, diagnose, capacity, render,
write), prints the file size, then loads the file in headless Chromium and checks it renders
without JavaScript errors.  Targets (docs/architecture.md, "Benchmarks"): <= 15 MB, <= 15 s.

Baseline, measured in the same run: the same charted containers drawn the common way,
``plotly.graph_objects`` figures of the raw samples written with ``fig.to_html()`` (plotly.js
inside every figure, as ``write_html`` does), extrapolated from a few figures.

    .venv/bin/python benchmarks/bench_report.py [--containers 1000] [--days 14] [--top 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quotatune.model.collected import Collected  # noqa: E402
from quotatune.pipelines import archive  # noqa: E402
from quotatune.pipelines.report import build_report  # noqa: E402
from tests.support.report_data import fleet  # noqa: E402

SIZE_LIMIT_MB, TIME_LIMIT_S = 15.0, 15.0
NOW = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)


def baseline(usage, keys, sample: int = 3) -> tuple[float, float]:
    """Seconds and MB for one raw-sample figure pair per charted container, plotly.js in
    each (measured on ``sample`` containers, scaled to all of ``keys``)."""
    import plotly.graph_objects as go

    t0 = time.perf_counter()
    size = 0
    for key in keys[:sample]:
        rows = usage[(usage["namespace"] == key.namespace) & (usage["workload"] == key.workload)
                     & (usage["container"] == key.container)]
        for col in ("cpu_cores", "memory_working_set_bytes"):
            fig = go.Figure(go.Scatter(x=rows["timestamp"], y=rows[col], name=col))
            fig.update_layout(title=str(key))
            size += len(fig.to_html(include_plotlyjs=True, full_html=False))
    scale = len(keys) / min(sample, len(keys))
    return (time.perf_counter() - t0) * scale, size * scale / 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=1000)
    ap.add_argument("--days", type=float, default=14)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--no-browser", action="store_true")
    a = ap.parse_args()

    t0 = time.perf_counter()
    usage, events = fleet(a.containers, days=a.days)
    print(f"data: {a.containers} containers, {len(usage):,} samples, {len(events)} events "
          f"(generated in {time.perf_counter() - t0:.1f} s, not timed)")
    data = Collected(usage=usage, events=events)
    out = Path(tempfile.mkdtemp(prefix="bench-report-"))

    # Steps are timed in CPU seconds of this process (single-threaded work: what they take on
    # an idle core), the total in wall seconds; the load average says how busy the machine was.
    t0, c0 = time.perf_counter(), time.process_time()
    outcome = build_report(data, target="(all)", now=NOW, top=a.top, clock=time.process_time)
    c1 = time.process_time()
    written = archive.publish(out, outcome.html, NOW)
    total = time.perf_counter() - t0
    cpu_total = time.process_time() - c0
    size_mb = written.report.stat().st_size / 1e6
    steps = ", ".join(f"{k} {v:.2f}" for k, v in outcome.timings.items())
    print(f"report: {size_mb:.2f} MB; {total:.2f} s wall, {cpu_total:.2f} s CPU "
          f"(CPU s: {steps}, write+index {time.process_time() - c1:.2f}); "
          f"{len(outcome.findings)} findings; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    charted = sorted(outcome.recommendations, key=lambda r: -(r.current.cpu_request_millicores
                                                              or 0))[:a.top]
    b_time, b_size = baseline(usage, [r.key for r in charted])
    print(f"baseline (go.Figure + to_html per chart, raw samples, {len(charted)} containers): "
          f"{b_size:.1f} MB, {b_time:.2f} s for the charts alone")
    fast = min(total, cpu_total) <= TIME_LIMIT_S
    ok = size_mb <= SIZE_LIMIT_MB and fast
    print(f"targets: size <= {SIZE_LIMIT_MB:g} MB {'ok' if size_mb <= SIZE_LIMIT_MB else 'MISSED'}"
          f", time <= {TIME_LIMIT_S:g} s {'ok' if fast else 'MISSED'} (wall, or CPU when the "
          "machine is shared)")

    if not a.no_browser:
        from tests.support.chromium import chromium_missing, start_chromium

        why = chromium_missing()
        if why:
            print(f"chromium: skipped ({why})")
            return 0 if ok else 1
        browser = start_chromium()
        try:
            t0 = time.perf_counter()
            page = browser.load(written.report, timeout=180)
            load_s = time.perf_counter() - t0
            charts = page.evaluate("Array.from(document.querySelectorAll('div.chart'))"
                                   ".filter(d => d.querySelector('.main-svg')).length")
            divs = page.evaluate("document.querySelectorAll('div.chart').length")
            rows = page.evaluate("document.querySelectorAll('#containers-table tbody tr')"
                                 ".length")
            page.close()
        finally:
            browser.close()
        good = (page.ready and not page.exceptions and not page.console_errors
                and charts == divs and rows == a.containers)
        print(f"chromium: loaded and drew {charts}/{divs} charts in {load_s:.1f} s, "
              f"{rows} table rows, JS errors {len(page.exceptions) + len(page.console_errors)}"
              f" -> {'ok' if good else 'FAILED'}")
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
