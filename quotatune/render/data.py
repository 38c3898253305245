"""Machine-readable renderings of recommendations: JSON, YAML, CSV."""

from __future__ import annotations

import csv
import io
import json

import yaml

from quotatune.model import Finding, Recommendation


def to_json(recs: list[Recommendation]) -> str:
    return json.dumps([r.to_dict() for r in recs], indent=2) + "\n"


def to_yaml(recs: list[Recommendation]) -> str:
    return yaml.safe_dump([r.to_dict() for r in recs], sort_keys=False)


CSV_COLUMNS = [
    "namespace", "workload", "container",
    "cpu_request_millicores", "cpu_limit_millicores", "memory_request_mib", "memory_limit_mib",
    "current_cpu_request_millicores", "current_memory_request_mib", "current_memory_limit_mib",
    "strategy", "samples", "history_hours", "confidence", "status", "reasons",
]


def to_csv(recs: list[Recommendation]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in recs:
        d = r.to_dict()
        cur = d.pop("current")
        for k in ("cpu_request_millicores", "memory_request_mib", "memory_limit_mib"):
            d[f"current_{k}"] = cur.get(k)
        d["reasons"] = "; ".join(d["reasons"])
        w.writerow({k: ("" if d.get(k) is None else d.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def findings_to_json(findings: list[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2) + "\n"
