"""Outside text on a terminal and in shell output: names and log lines that hold an escape
sequence, a newline or a bidirectional override (refused on import today, but a store an
older version wrote, or a log line, can hold them) are printed as their escapes."""

from __future__ import annotations

import json

from quotatune.analysis.capacity.plan import parse_shape, plan_capacity
from quotatune.model import Current, Finding, Recommendation
from quotatune.render.findings_table import render_findings_table
from quotatune.render.patch.docker import render_docker_patch
from quotatune.render.patch.kubectl import render_kubectl_patch, render_strategic_merge_patch
from quotatune.render.plan.html import render_plan_html
from quotatune.render.plan.table import render_plan_table
from quotatune.render.table import render_table
from quotatune.sources.kubernetes.nodes import parse_nodes
from quotatune.sources.kubernetes.parse import parse_pods
from tests.conftest import FIXTURES

SPOOF = "pay\u202egnp.exe"  # reads "payexe.png"
ACTING = ("\u202e", "\u2066", "\x1b", "\r")


def rec(ns: str, wl: str, ct: str, cpu: int | None = 250, mem: int | None = 512,
        status: str = "ok", platform: str = "kubernetes") -> Recommendation:
    return Recommendation(ns, wl, ct, cpu, None, mem, mem, Current(), "tail", 2000, 336.0,
                          "high", status, (), platform)


def assert_inert(text: str) -> None:
    assert not any(ch in text for ch in ACTING), repr(text)


def test_the_recommendations_table_shows_spoofing_names_as_escapes() -> None:
    out = render_table([rec("shop", SPOOF, "app\x1b[2J"), rec("shop", "web", "app")],
                       width=200)
    assert_inert(out)
    assert "pay\\u202egnp.exe" in out and "app\\x1b[2J" in out


def test_the_findings_table_shows_escapes_and_keeps_its_line_breaks() -> None:
    f = Finding("shop", SPOOF, "app", "oom-killed", "critical", None,
                ("log: done\u2066 \x1b]0;owned\x07", "exit code 137"), "raise\rthe limit")
    out = render_findings_table([f], width=200)
    assert_inert(out) and "\x07" not in out
    assert "pay\\u202egnp.exe" in out and "done\\u2066 \\x1b]0;owned\\x07" in out
    assert "raise\\x0dthe limit" in out


def test_a_newline_in_a_name_cannot_end_a_patch_comment() -> None:
    """A name can be shell-quoted on a command line, but in a comment a newline would start
    a line of its own: `-o patch | sh` would run it."""
    evil = "web\ntouch owned"
    recs = [rec("shop", evil, "app", None, None, "insufficient-data"),
            rec("shop", "cron\u202e", "app")]
    outputs = [render_kubectl_patch(recs, {("shop", "cron\u202e"): "CronJob"}),
               render_strategic_merge_patch([rec("shop", evil, "app")]),
               render_docker_patch([rec("shop", evil, "app", platform="docker")])]
    for out in outputs:
        assert_inert(out)
        for line in out.splitlines():
            assert line.startswith(("#", "kubectl ", "docker ", "spec:", " ", "---")), out
        assert "touch owned" in out  # shown, inside the comment


def test_a_kubectl_command_is_never_written_for_a_name_no_cluster_allows() -> None:
    """Shell quoting keeps such a name one argument, but the line still prints it: an escape
    sequence acts on the terminal that shows `-o patch`, an override reorders the line.  No
    cluster can hold the name, so the command could only fail: a comment says why."""
    recs = [rec("shop", "web\x1b[2J", "app"), rec("shop", SPOOF, "app"),
            rec("shop", "web\ntouch owned", "app"), rec("shop\u2066", "web", "app"),
            rec("shop", "web", "app\r")]
    out = render_kubectl_patch(recs)
    assert_inert(out)
    lines = out.splitlines()
    assert len(lines) == len(recs)
    assert all(line.startswith("# ") and "not a name a cluster allows" in line
               for line in lines), out
    assert "pay\\u202egnp.exe" in out and "web\\x1b[2J" in out
    good = render_kubectl_patch([rec("shop", "web", "app")])
    assert good.startswith("kubectl set resources deployment/web -n shop -c app ")


def test_the_plan_shows_node_and_namespace_names_as_escapes() -> None:
    cap = FIXTURES / "capacity"
    payload = json.loads((cap / "honeycomb_pods.json").read_text())
    payload["items"][3]["metadata"]["namespace"] = SPOOF  # the metallb controller
    specs, _ = parse_pods(payload)
    nodes = parse_nodes(json.loads((cap / "honeycomb_nodes.json").read_text()))
    nodes.loc[0, "node"] = "duckboat\u2066-01"
    recs = [Recommendation(SPOOF, "controller", "controller", 9000, None, 64, 96, Current(),
                           "test", 100, 48.0, "high", "ok")]
    plan = plan_capacity(recs, specs, nodes, [parse_shape("4cpu/16Gi")])
    table = render_plan_table(plan, width=220)
    assert_inert(table)
    assert "duckboat\\u2066-01" in table and "pay\\u202egnp.exe" in table
    page = render_plan_html(plan)
    assert "\u202e" not in page and "\u2066" not in page
    assert '"duckboat\\\\u2066-01"' in page  # in the figure's JSON: the text of its escape
