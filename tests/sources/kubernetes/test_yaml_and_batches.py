"""kubectl YAML (single object, List, multi-document) read like the JSON; tolerant batches."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from quotatune.model.errors import InputError
from quotatune.sources.kubernetes.files import read_kubectl_dump
from quotatune.sources.registry import detect_format, import_files

FIX = Path(__file__).resolve().parents[2] / "fixtures"
POD_JSON = FIX / "kubernetes" / "kubeshark_worker_pod_lastState_OOMKilled.json"
POD_YAML = FIX / "cluster" / "kubeshark_worker_pod_lastState_OOMKilled.yaml"
PODS_JSON = FIX / "kubernetes" / "honeycomb_pods.json"


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_a_single_pod_in_yaml_reads_exactly_like_its_json():
    assert detect_format(POD_YAML) == "kubectl"
    j, y = read_kubectl_dump(POD_JSON), read_kubectl_dump(POD_YAML)
    _same(j.specs, y.specs)
    _same(j.events, y.events)


def test_a_pod_list_as_yaml_and_as_multi_document_yaml(tmp_path: Path):
    pods = json.loads(PODS_JSON.read_text())
    as_list = tmp_path / "pods.yaml"
    as_list.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", **pods}))
    docs = tmp_path / "pods-docs.yaml"
    docs.write_text(yaml.safe_dump_all(
        [{"apiVersion": "v1", "kind": "Pod", **p} for p in pods["items"]]))
    want = read_kubectl_dump(PODS_JSON)
    for f in (as_list, docs):
        assert detect_format(f) == "kubectl"
        _same(want.specs, read_kubectl_dump(f).specs)


def test_evictions_come_from_the_pod_status_of_real_evicted_pods():
    data = read_kubectl_dump(FIX / "cluster" / "evicted_pods.yaml")
    ev = data.events[data.events["kind"] == "eviction"]
    assert set(ev["namespace"]) == {"openebs", "cosmos", "ci"}
    assert (ev["reason"] == "Evicted").all()
    cosmos = ev[ev["namespace"] == "cosmos"].iloc[0]
    assert "35505620Ki" in cosmos["message"]
    assert cosmos["timestamp"] == pd.Timestamp("2023-01-30T18:04:30Z")


def test_broken_yaml_is_one_clear_error(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n")
    with pytest.raises(InputError, match=r"bad.yaml: not JSON or YAML .*line"):
        read_kubectl_dump(bad)


def test_a_batch_skips_what_it_cannot_read_and_names_it(tmp_path: Path):
    garbage = tmp_path / "garbage.log"
    garbage.write_bytes(b"\x00\xff\xfe binary \x81\x82")
    missing = tmp_path / "missing.json"
    data = import_files([POD_YAML, garbage, missing])
    assert len(data.specs) == 1
    assert len(data.errors) == 2
    assert any("garbage.log" in e for e in data.errors)
    assert any("missing.json" in e for e in data.errors)


def test_a_batch_where_nothing_reads_is_an_input_error(tmp_path: Path):
    garbage = tmp_path / "garbage.log"
    garbage.write_text("nothing a reader knows\n")
    with pytest.raises(InputError, match="none of the 2 files could be read"):
        import_files([garbage, tmp_path / "missing.json"])
