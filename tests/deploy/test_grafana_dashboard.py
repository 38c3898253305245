"""deploy/grafana: the dashboard is valid JSON in Grafana's dashboard model, every panel has a
title and the ``${datasource}`` variable, and its queries use only the metrics that
``quotatune serve`` exports (DESIGN §3), filtered by the namespace and workload variables."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from quotatune.render.metrics import EXPORTED
from tests.conftest import ROOT
from tests.support.prometheus import PROMTOOL

DASHBOARD = ROOT / "deploy" / "grafana" / "quotatune-dashboard.json"

# What `quotatune serve` exports, as render/metrics.py declares it; the serve test
# (tests/cli/test_serve_cli.py) checks that a real /metrics scrape names exactly these, so
# that the dashboard cannot name a metric that is not there.
EXPORTER_METRICS = set(EXPORTED)
# Operational counters of the exporter itself, which the dashboard need not show.
NOT_SHOWN = {"quotatune_refresh_errors_total"}
# Exporter-wide metrics: no namespace or workload label to filter on.
EXPORTER_WIDE = {"quotatune_last_refresh_timestamp_seconds", "quotatune_refresh_duration_seconds"}

# --- a small PromQL tokenizer: enough to find the metric names an expression selects --------

_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+(?![a-zA-Z0-9_:]))
  | (?P<number>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<var>\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*)
  | (?P<space>\s+)
  | (?P<punct>=~|!~|!=|==|>=|<=|[-+*/%^(){}\[\],<>=@])
""", re.VERBOSE)
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "start", "end"}
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
# ``max by (…) (…)``: an aggregation need not be followed by its parenthesis
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}


def tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ValueError(f"cannot tokenize {expr[pos:pos + 20]!r} in {expr!r}")
        pos = m.end()
        if m.lastgroup != "space":
            out.append((m.lastgroup or "", m.group()))
    return out


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric name, its label matchers as written) for every vector selector in ``expr``."""
    toks = tokens(expr)
    found, i = [], 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "punct" and text in "[{":  # a duration or matchers without a metric name
            i = _skip(toks, i)
            continue
        if kind != "ident" or text.lower() in KEYWORDS:
            if text in LABEL_LISTS and nxt == "(":
                i = _skip(toks, i + 1)  # by (namespace, …): label names, not metrics
                continue
            i += 1
            continue
        if nxt == "(" or text in AGGREGATIONS:  # a function or an aggregation
            i += 1
            continue
        matchers = ""
        if nxt == "{":
            end = _skip(toks, i + 1)
            matchers = "".join(t for _, t in toks[i + 2:end - 1])
            i = end
        else:
            i += 1
        found.append((text, matchers))
    return found


def _skip(toks: list[tuple[str, str]], i: int) -> int:
    """Index after the bracket group opening at ``i``."""
    close = {"(": ")", "[": "]", "{": "}"}[toks[i][1]]
    depth, j = 0, i
    while j < len(toks):
        if toks[j][1] == toks[i][1]:
            depth += 1
        elif toks[j][1] == close:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise ValueError("unbalanced brackets")


def test_the_tokenizer_finds_metrics_and_nothing_else():
    expr = ('max without (pod) (rate(foo_total{a="x{y}", b=~"$ns"}[5m] offset 1h))'
            ' / on (namespace) group_left (kind) bar:ratio > bool 2e3 and baz unless time() '
            '* max_over_time(qux[1h:5m]) or {__name__="ignored"} - 0x1f')
    assert selectors(expr) == [("foo_total", 'a="x{y}",b=~"$ns"'), ("bar:ratio", ""),
                               ("baz", ""), ("qux", "")]


# --- the dashboard -------------------------------------------------------------------------

def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(d: dict) -> list[dict]:
    out = []
    for p in d["panels"]:
        out.append(p)
        out += p.get("panels", [])  # collapsed rows hold their panels
    return out


def queries(d: dict) -> list[str]:
    exprs = [t["expr"] for p in panels(d) for t in p.get("targets", [])]
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*[a-zA-Z_]\w*\)", q)
            assert m, q
            exprs.append(m.group(1))
    return exprs


def test_dashboard_is_json_with_a_recent_schema_and_the_template_variables():
    d = dashboard()
    assert d["schemaVersion"] >= 36 and d["title"] and d["uid"]
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "workload"):
        assert variables[name]["type"] == "query" and variables[name]["includeAll"]
        assert variables[name]["datasource"]["uid"] == "${datasource}"
    assert "$namespace" in variables["workload"]["definition"]  # workloads of the namespace


def test_every_panel_has_a_title_and_the_datasource_variable():
    for p in panels(dashboard()):
        assert p.get("title"), p["id"]
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        for t in p.get("targets", []):
            assert t["datasource"]["uid"] == "${datasource}" and t["expr"].strip(), p["title"]


def test_panels_have_unique_ids_and_do_not_overlap():
    ps = panels(dashboard())
    assert len({p["id"] for p in ps}) == len(ps)
    cells: dict[tuple[int, int], str] = {}
    for p in ps:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, (p["title"], cells.get((x, y)))
                cells[(x, y)] = p["title"]


def test_queries_name_only_exporter_metrics_filtered_by_namespace_and_workload():
    used = set()
    for expr in queries(dashboard()):  # the panels' and the template variables'
        found = selectors(expr)
        assert found, expr
        for name, _ in found:
            assert name in EXPORTER_METRICS, f"{name} is not exported: {expr}"
            used.add(name)
    assert used == EXPORTER_METRICS - NOT_SHOWN  # every exported value is shown somewhere
    for p in panels(dashboard()):
        for t in p.get("targets", []):
            for name, matchers in selectors(t["expr"]):
                if name not in EXPORTER_WIDE:
                    assert 'namespace=~"$namespace"' in matchers, (p["title"], t["expr"])
                    assert 'workload=~"$workload"' in matchers, (p["title"], t["expr"])


def test_the_dashboard_shows_what_the_issue_asks_for():
    titles = " | ".join(p["title"] for p in panels(dashboard())).lower()
    for words in ("cpu request", "memory request", "memory limit", "waste", "findings by kind "
                  "and severity", "freshness"):
        assert words in titles, words
    exprs = " ".join(t["expr"] for p in panels(dashboard()) for t in p.get("targets", []))
    assert "/ 1073741824" in exprs  # waste in GiB (2^30 bytes)


@pytest.mark.skipif(not PROMTOOL.exists(), reason=f"{PROMTOOL} is not installed")
def test_every_query_parses_as_promql(tmp_path):
    # promtool parses the expressions of recording rules: the panels' queries, with the
    # template variables replaced by what Grafana puts in their place for "All".
    exprs = [t["expr"] for p in panels(dashboard()) for t in p.get("targets", [])]
    rules = [{"record": f"dashboard:query:{i}",
              "expr": re.sub(r"\$\{?\w+\}?", ".*", e)} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    r = subprocess.run([str(PROMTOOL), "check", "rules", str(path)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in r.stdout
