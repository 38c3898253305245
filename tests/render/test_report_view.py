"""The report's pure half: numbers in the view model, downsampling, escaping, the HTML string."""

from __future__ import annotations

import html as htmllib
import json
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from quotatune import model
from quotatune.model import Current, Finding, Recommendation
from quotatune.model.nametext import shown
from quotatune.render.html import charts
from quotatune.render.html.report import render_report, script_json
from quotatune.render.html.stats import container_stats
from quotatune.render.html.view import ReportInputs, build_view
from tests.support.report_data import HOSTILE, fleet, simple_recommendations

NOW = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)


def usage_rows(rows: list[tuple[str, str, str, str, str, float, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["timestamp", "namespace", "workload", "pod", "container",
                                     "cpu_cores", "memory_working_set_bytes"])
    return model.validate_usage(df, "test")


def rec(ns: str, wl: str, ct: str, cpu: int, mem: int, cur_cpu: int | None,
        cur_mem: int | None) -> Recommendation:
    return Recommendation(ns, wl, ct, cpu, None, mem, mem,
                          Current(cpu_request_millicores=cur_cpu, memory_request_mib=cur_mem),
                          "test", 10, 24.0, "high", "ok", ())


def inputs(usage: pd.DataFrame, recs: list[Recommendation], findings: list[Finding] | None = None,
           events: pd.DataFrame | None = None, top: int = 20) -> ReportInputs:
    return ReportInputs(usage=usage, specs=model.empty_specs(),
                        events=model.empty_events() if events is None else events,
                        recommendations=recs, findings=findings, strategy="test",
                        strategy_description="test strategy", target="(all)",
                        generated_at=NOW, top=top)


def test_stats_count_samples_pods_step_and_a_gap_as_incomplete():
    t0 = pd.Timestamp("2026-11-01T00:00:00Z")
    rows = []
    # pod a: every minute for 10 minutes, minus minutes 4..7 (a gap); pod b: 3 samples
    for m in [0, 1, 2, 3, 8, 9, 10]:
        rows.append((str(t0 + pd.Timedelta(minutes=m)), "ns", "web", "web-a", "app", 0.5, 1e8))
    for m in [0, 1, 2]:
        rows.append((str(t0 + pd.Timedelta(minutes=m)), "ns", "web", "web-b", "app", 1.5, 3e8))
    st_ = container_stats(usage_rows(rows)).loc[("ns", "web", "app")]
    assert st_["samples"] == 10
    assert st_["pods"] == 2
    assert st_["step_s"] == 60
    # expected: pod a 11 samples over 10 min, pod b 3 over 2 min -> 14; present 10
    assert abs(st_["complete"] - 10 / 14) < 1e-9
    assert st_["cpu_max"] == 1.5
    assert abs(st_["cpu_p95"] - np.quantile([0.5] * 7 + [1.5] * 3, 0.95)) < 1e-12


def test_totals_split_freed_and_added_and_skip_unknown_currents():
    u = usage_rows([("2026-11-01T00:00:00Z", "a", "x", "", "c", 0.1, 1e6),
                    ("2026-11-01T00:00:00Z", "a", "y", "", "c", 0.1, 1e6),
                    ("2026-11-01T00:00:00Z", "b", "z", "", "c", 0.1, 1e6)])
    recs = [rec("a", "x", "c", 250, 512, 1000, 2048),   # frees 0.75 cores, 1.5 GiB
            rec("a", "y", "c", 500, 1024, 250, 512),    # adds 0.25 cores, 0.5 GiB
            rec("b", "z", "c", 100, 100, None, None)]   # no current: not in freed/added
    v = build_view(inputs(u, recs))
    s = v.summary
    assert (s.containers, s.with_current) == (3, 2)
    assert abs(s.cpu_current - 1.25) < 1e-9 and abs(s.cpu_recommended - 0.85) < 1e-9
    assert abs(s.cpu_freed - 0.75) < 1e-9 and abs(s.cpu_added - 0.25) < 1e-9
    assert abs(s.mem_net - 1.0) < 1e-9
    ns = {t.name: t for t in v.namespaces}
    assert abs(ns["a"].cpu_net - 0.5) < 1e-9 and ns["b"].cpu_net == 0


def test_charted_containers_put_critical_findings_first_then_largest_change():
    u = usage_rows([("2026-11-01T00:00:00Z", "ns", w, "", "c", 0.1, 1e6) for w in "abc"])
    recs = [rec("ns", "a", "c", 100, 100, 200, 200),     # small change
            rec("ns", "b", "c", 100, 100, 4000, 8000),   # large change
            rec("ns", "c", "c", 100, 100, 100, 100)]     # no change, but OOM-killed
    f = [Finding("ns", "c", "c", "oom-killed", "critical", None, ("exit code 137",), "more")]
    v = build_view(inputs(u, recs, f, top=2))
    assert [c.workload for c in v.charted] == ["c", "b"]
    assert [c.workload for c in v.containers if c.charted] == ["b", "c"]


def test_downsample_keeps_peaks_bounds_points_and_breaks_lines_at_gaps():
    ts = (np.arange(10_000, dtype=np.int64) * 60 * 10**9)
    ts = np.concatenate([ts[:5000], ts[7000:]])  # a 2000-minute hole
    v = np.ones(len(ts))
    v[1234] = 42.0
    x, y, width = charts.downsample(ts, v, max_points=500)
    assert len(x) <= 502
    assert max(p for p in y if p is not None) == 42.0
    assert None in y  # the hole is drawn as a hole
    assert width >= 60


def test_change_points_draw_a_constant_request_with_two_points():
    ts = np.arange(5000, dtype=np.int64) * 10**9
    x, y = charts.change_points(ts, np.full(5000, 0.5), 3)
    assert y == [0.5, 0.5] and x == [0, 4999_000]


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids),
                    max_leaves=20))
def test_script_json_round_trips_and_cannot_close_a_script(obj):
    text = str(script_json(obj))
    assert json.loads(text) == obj
    assert "</" not in text and "<!--" not in text and "\u2028" not in text


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_labels_are_escaped_for_plotly_and_read_back_as_the_name(name):
    out = charts.label(name)
    assert "<" not in out and ">" not in out
    # As the name, but what would act on the text around it (U+202E) as its escape.
    assert htmllib.unescape(out) == shown(name)


def test_hostile_names_and_log_lines_never_reach_the_html_as_markup():
    usage, events = fleet(12, days=2)
    recs = simple_recommendations(usage)
    f = [Finding("team-3", HOSTILE, "app", "oom-killed", "critical", "2026-11-14T00:00:00Z",
                 ("log: </script><script>alert(2)</script>", "exit code 137"),
                 "raise <b>the</b> limit")]
    page = render_report(inputs(usage, recs, f, events))
    assert "<img src=x" not in page
    assert "<script>alert" not in page and "<b>the</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # shown as text in the tables
    figures = re.search(r'<script type="application/json" id="quotatune-figures">(.*?)</script>',
                        page, re.S)
    assert figures is not None
    figs = json.loads(figures.group(1))
    titles = [fig["layout"]["title"]["text"] for fig in figs.values()]
    assert any("&lt;img src=x onerror=alert(1)&gt;" in t for t in titles)
    hover = [t for fig in figs.values() for tr in fig["data"] for t in tr.get("hovertext", [])]
    assert hover and all("<script>" not in t for t in hover)


def test_bidi_overrides_and_controls_in_names_and_log_lines_are_shown_as_escapes():
    """HTML escaping leaves U+202E acting: "pay\u202egnp.exe" would read "payexe.png" in the
    tables and the charts.  Such names are refused on import; a store an older version
    wrote, and log lines, can still hold them."""
    spoof, log = "pay\u202egnp.exe", "log: ok\u2067 \x1b[2J done"
    usage, events = fleet(6, days=2, hostile=False)
    usage["workload"] = usage["workload"].replace("svc-0", spoof)
    recs = simple_recommendations(usage)
    f = [Finding("team-0", spoof, "app", "oom-killed", "critical", "2026-11-14T00:00:00Z",
                 (log,), "raise the limit")]
    page = render_report(inputs(usage, recs, f, events))
    assert "\u202e" not in page and "\u2067" not in page and "\x1b" not in page
    assert "pay\\u202egnp.exe" in page and "ok\\u2067 \\x1b[2J done" in page
    figures = re.search(r'<script type="application/json" id="quotatune-figures">(.*?)</script>',
                        page, re.S)
    assert figures is not None
    titles = json.dumps(json.loads(figures.group(1)), ensure_ascii=False)
    assert "\u202e" not in titles and "pay\\\\u202egnp.exe" in titles


def test_plotly_js_is_embedded_once_and_nothing_is_fetched():
    usage, _ = fleet(6, days=1, hostile=False)
    page = render_report(inputs(usage, simple_recommendations(usage)))
    assert page.count("plotly.js v") == 1
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)


def test_every_container_gets_one_table_row_and_top_n_charts():
    usage, _ = fleet(25, days=1, hostile=False)
    page = render_report(inputs(usage, simple_recommendations(usage), top=5))
    table = page.split('id="containers-table"')[1].split("</table>")[0]
    assert table.count("<tr data-key=") == 25
    assert len(re.findall(r'id="chart-c\d+-(?:cpu|mem)"', page)) == 10


def test_diagnosis_not_run_is_said_not_hidden():
    usage, _ = fleet(3, days=1, hostile=False)
    page = render_report(inputs(usage, simple_recommendations(usage), findings=None))
    assert "diagnosis did not run" in page.lower()


_TAGS_WE_WRITE = {"html", "head", "meta", "title", "script", "style", "body", "header", "div",
                  "h1", "h2", "h3", "nav", "a", "main", "section", "span", "br", "b", "p",
                  "input", "table", "thead", "tbody", "tr", "th", "td", "article", "ul", "li",
                  "details", "summary", "dl", "dt", "dd", "sup", "i", "code", "footer"}
_PIECES = list("<>&\"'/=! ab-x\u2028") + ["<!--", "</script>", "<img src=x>", "&lt;"]
_NAMES = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map("".join).filter(
    lambda s: s.strip() != "")


@settings(max_examples=40, deadline=None)
@given(ns=_NAMES, wl=_NAMES, ct=_NAMES)
def test_any_names_create_no_element_and_keep_the_figure_json_intact(ns, wl, ct):
    from html.parser import HTMLParser

    # Names validation refuses today ("</script>" holds a '/') can still come from a store
    # an older version wrote: set after validation.
    u = usage_rows([(f"2026-11-01T00:0{i}:00Z", "ns", "wl", "", "ct", 0.1 * i, 1e6 * i)
                    for i in range(1, 6)]).assign(namespace=ns, workload=wl, container=ct)
    events = pd.DataFrame([{"timestamp": pd.Timestamp("2026-11-01T00:03:00Z"), "namespace": ns,
                            "workload": wl, "pod": "", "container": ct, "kind": "termination",
                            "reason": "OOMKilled", "exit_code": 137, "oom_killed": True,
                            "message": ct, "source": "t"}], columns=model.EVENT_COLUMNS)
    f = [Finding(ns, wl, ct, "oom-killed", "critical", None, (wl, ct), ns)]
    page = render_report(inputs(u, [rec(ns, wl, ct, 100, 100, 200, 200)], f, events))

    class Tags(HTMLParser):
        seen: set[str] = set()

        def handle_starttag(self, tag, attrs):
            self.seen.add(tag)

    parser = Tags()
    parser.feed(page)
    assert parser.seen <= _TAGS_WE_WRITE
    figures = page.split('id="quotatune-figures">')[1].split("</script>")[0]
    assert len(json.loads(figures)) == 3  # the fleet chart, CPU and memory


def test_oom_kills_and_restarts_are_counted_from_the_events_however_they_are_typed():
    u = usage_rows([("2026-11-01T00:00:00Z", "ns", "w", "", "c", 0.1, 1e6)])
    ev = pd.DataFrame([
        {"kind": "termination", "reason": "Error", "oom_killed": np.True_},     # kernel said OOM
        {"kind": "oom-event", "reason": None, "oom_killed": None},              # cgroup event
        {"kind": "termination", "reason": "OOMKilled", "oom_killed": "False"},  # reason says so
        {"kind": "termination", "reason": "Error", "oom_killed": np.False_},    # a plain restart
        {"kind": "log", "reason": "matched", "oom_killed": False},              # neither
    ]).assign(timestamp=pd.Timestamp("2026-11-01T00:00:00Z"), namespace="ns", workload="w",
              pod="", container="c", exit_code=137, message="", source="t")
    c = build_view(inputs(u, [], events=ev)).containers[0]
    assert (c.oom_kills, c.restarts) == (3, 1)


def test_top_zero_draws_no_container_chart_and_says_so():
    usage, _ = fleet(4, days=1, hostile=False)
    page = render_report(inputs(usage, simple_recommendations(usage), top=0))
    assert not re.search(r'id="chart-c\d+-', page)
    assert "Charts are off" in page and page.count('<tr data-key="') == 4
