"""The report in a real headless Chromium (Debian's ``chromium``): it loads offline without
JavaScript errors, every chart draws its SVG, the tables work, hostile names stay text, and
screenshots land in tests/artifacts/ for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quotatune import model
from quotatune.model import Finding
from quotatune.pipelines import archive
from quotatune.render.html.report import render_report
from quotatune.render.html.view import ReportInputs
from tests.conftest import ROOT
from tests.support.chromium import Chromium, Page, chromium_missing, start_chromium
from tests.support.report_data import HOSTILE, fleet, simple_recommendations

pytestmark = pytest.mark.chromium
ARTIFACTS = ROOT / "tests" / "artifacts"
NOW = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
CONTAINERS, TOP = 40, 8


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    why = chromium_missing()
    if why:
        pytest.skip(why)
    b = start_chromium()
    yield b
    b.close()


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    usage, events = fleet(CONTAINERS, days=7)
    findings = [
        Finding("team-3", HOSTILE, "app", "oom-killed", "critical", "2026-11-15T08:00:00Z",
                ("exit code 137", "log: </script><img src=y onerror=alert(3)>"),
                "raise the memory limit to <b>768Mi</b>"),
        Finding("team-0", "svc-0", "app", "cpu-throttled", "warning", None,
                ("throttled 40 % of periods",), "raise the CPU limit"),
    ]
    page = render_report(ReportInputs(
        usage=usage, specs=model.empty_specs(), events=events,
        recommendations=simple_recommendations(usage), findings=findings, strategy="test",
        strategy_description="p95 + 15 %", target="(all)", generated_at=NOW, top=TOP))
    out = tmp_path_factory.mktemp("reports")
    return archive.publish(out, page, NOW).report


@pytest.fixture(scope="module")
def page(browser: Chromium, report_file: Path) -> Iterator[Page]:
    p = browser.load(report_file, timeout=120)
    yield p
    p.close()


def test_the_report_loads_offline_without_javascript_errors(page: Page):
    assert page.ready, "charts never finished drawing"
    assert page.exceptions == []
    assert page.console_errors == []
    assert all(u.startswith("file://") for u in page.requests), page.requests


def test_every_chart_draws_its_svg(page: Page):
    counts = page.evaluate(
        "Array.from(document.querySelectorAll('div.chart')).map("
        "d => [d.id, d.querySelectorAll('.main-svg').length, "
        "d.querySelectorAll('.scatterlayer .trace, .barlayer .trace').length])")
    assert len(counts) == 1 + 2 * TOP  # the fleet chart + CPU and memory per charted container
    for chart_id, svgs, traces in counts:
        assert svgs >= 2, chart_id  # plotly draws a main SVG and an overlay SVG
        assert traces >= 2, chart_id


def test_the_container_table_has_one_row_per_container(page: Page):
    assert page.evaluate("document.querySelectorAll('#containers-table tbody tr').length") \
        == CONTAINERS


def test_the_hostile_name_is_text_in_tables_titles_and_hover_labels(page: Page):
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.querySelectorAll('#findings-table b').length") == 0
    cells = page.evaluate("Array.from(document.querySelectorAll('#containers-table td'))"
                          ".map(td => td.textContent)")
    assert HOSTILE in cells
    titles = page.evaluate("Array.from(document.querySelectorAll('.gtitle'))"
                           ".map(t => t.textContent)")
    assert any(HOSTILE in t for t in titles)
    advice = page.evaluate("document.getElementById('findings-table').textContent")
    assert "</script><img src=y onerror=alert(3)>" in advice and "<b>768Mi</b>" in advice
    # Hover the OOM-kill markers of the hostile container's memory chart: the log line in the
    # hover label is shown as text, and no element is created from it.
    hover = page.evaluate("""(() => {
        const charts = Array.from(document.querySelectorAll('div.chart[id$="-mem"]'));
        const el = charts.find(d => d.querySelector('.gtitle').textContent.includes('onerror'));
        const i = el.data.findIndex(t => t.name === 'OOM kills');
        Plotly.Fx.hover(el, [{curveNumber: i, pointNumber: 0}]);
        const layer = el.querySelector('.hoverlayer');
        return [layer.textContent, layer.querySelectorAll('script, img').length];
    })()""")
    assert "<script>alert(" in hover[0] and hover[1] == 0


def test_tables_sort_numerically_and_filter_by_words(page: Page):
    sorted_values = page.evaluate("""(() => {
        const th = document.querySelectorAll('#containers-table thead tr:last-child th')[4];
        th.click(); th.click();  // "req new" CPU, descending
        return Array.from(document.querySelectorAll('#containers-table tbody tr'))
            .map(r => parseFloat(r.cells[4].getAttribute('data-v')));
    })()""")
    assert sorted_values == sorted(sorted_values, reverse=True)
    shown = page.evaluate("""(() => {
        const input = document.querySelector('input[data-filter="containers-table"]');
        input.value = 'team-3 app';
        input.dispatchEvent(new Event('input'));
        return [Array.from(document.querySelectorAll('#containers-table tbody tr'))
                  .filter(r => r.style.display !== 'none').map(r => r.dataset.key),
                document.getElementById('containers-table-count').textContent];
    })()""")
    rows, count = shown
    assert rows and all(k.startswith("team-3/") and "app" in k for k in rows)
    assert count == f"{len(rows)} of {CONTAINERS} rows"


def test_screenshots_are_written(page: Page):
    page.evaluate("(() => { const i = document.querySelector('input[data-filter]');"
                  " i.value = ''; i.dispatchEvent(new Event('input')); window.scrollTo(0, 0);"
                  " })()")
    top = page.screenshot(ARTIFACTS / "report-summary.png")
    page.evaluate("document.getElementById('charts').scrollIntoView()")
    charts = page.screenshot(ARTIFACTS / "report-charts.png")
    for shot in (top, charts):
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_the_index_page_loads_and_links_the_report(browser: Chromium, report_file: Path):
    p = browser.load(report_file.parent / "index.html")
    try:
        assert p.ready and p.exceptions == [] and p.console_errors == []
        links = p.evaluate("Array.from(document.querySelectorAll('#reports-table a'))"
                           ".map(a => a.getAttribute('href'))")
        assert links == [report_file.name]
        p.screenshot(ARTIFACTS / "reports-index.png")
    finally:
        p.close()


def test_the_cli_report_of_the_bundled_sample_renders_with_capacity(browser: Chromium,
                                                                     tmp_path: Path):
    from tests.conftest import run_cli

    sample = sorted(str(p) for p in (ROOT / "data" / "sample").glob("*.csv.gz"))
    r = run_cli("report", "--from", *sample, "--out", str(tmp_path), "--node-shape",
                "4cpu/16Gi", "--node-shape", "8cpu/32Gi", "--now", "2026-11-27T23:00:00Z")
    assert r.code == 0, r.stderr
    p = browser.load(tmp_path / "quotatune-report-20261127T2300Z.html", timeout=120)
    try:
        assert p.ready and p.exceptions == [] and p.console_errors == []
        charts = p.evaluate("Array.from(document.querySelectorAll('div.chart'))"
                            ".map(d => [d.id, d.querySelectorAll('.main-svg').length])")
        assert any(i.startswith("chart-capacity-") for i, _ in charts)
        assert all(n >= 2 for _, n in charts), charts
        assert p.evaluate("document.querySelectorAll('#containers-table tbody tr').length") \
            == len(sample)
        p.evaluate("document.getElementById('capacity').scrollIntoView()")
        p.screenshot(ARTIFACTS / "report-sample-capacity.png")
    finally:
        p.close()
