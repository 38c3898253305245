"""One line, not one per node or per request: the metrics.k8s.io fallback when the default
role forbids ``nodes/proxy``, and the warning when a kubeconfig turns TLS verification off.
Run through the real entry point against the recorded API stand-in
(tests/support/k8s_standin.py), since no real API server runs here."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import run_cli
from tests.support.k8s_standin import StandIn, honeycomb_cluster, kubeconfig, self_signed_cert


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path), "KUBECONFIG": ""}


def test_forbidden_kubelet_proxy_falls_back_with_one_note(tmp_path: Path) -> None:
    with StandIn(honeycomb_cluster()) as api:
        api.fault(r"/proxy/stats/summary", "403")
        kc = kubeconfig(tmp_path / "kc", api.url)
        r = run_cli("collect", "kubernetes", "--kubeconfig", str(kc), "--store",
                    str(tmp_path / "st"), env=env_for(tmp_path))
    assert r.code == 0, r.stderr
    proxy_lines = [ln for ln in r.stderr.splitlines() if "nodes/proxy" in ln]
    assert len(proxy_lines) == 1 and proxy_lines[0].startswith("note: ")
    assert "metrics.k8s.io" in proxy_lines[0]
    assert "warning" not in r.stderr and "forbidden" not in r.stderr
    assert "part(s) failed" not in r.stdout
    status = run_cli("status", "--store", str(tmp_path / "st"), "-o", "json")
    assert '"samples": 0' not in status.stdout


def insecure_kubeconfig(path: Path, url: str) -> Path:
    kubeconfig(path, url)
    kc = yaml.safe_load(path.read_text())
    kc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    path.write_text(yaml.safe_dump(kc))
    return path


def test_an_insecure_kubeconfig_warns_once_in_every_command(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with StandIn(honeycomb_cluster(), tls=(cert, key)) as api:
        kc = insecure_kubeconfig(tmp_path / "kc", api.url)
        runs = {
            "collect": run_cli("collect", "kubernetes", "--kubeconfig", str(kc), "--store",
                               str(tmp_path / "st"), env=env_for(tmp_path)),
            "diagnose": run_cli("diagnose", "--context", "standin", "--kubeconfig", str(kc),
                                "-o", "json", env=env_for(tmp_path)),
        }
        secure = run_cli("collect", "kubernetes", "--kubeconfig",
                         str(kubeconfig(tmp_path / "kc2", api.url)), "--store",
                         str(tmp_path / "st2"), env=env_for(tmp_path))
    for name, r in runs.items():
        assert r.code == 0, (name, r.stderr)
        tls = [ln for ln in r.stderr.splitlines() if "TLS" in ln or "Unverified" in ln]
        assert tls == ["quotatune: warning: TLS certificate verification is off for "
                       "127.0.0.1: the server is not authenticated"], (name, r.stderr)
        assert "warnings.warn" not in r.stderr
    # With verification on, the self-signed certificate is refused: no warning, an error.
    assert "TLS certificate verification is off" not in secure.stderr
    assert secure.code == 2
