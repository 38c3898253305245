"""A recorded Kubernetes API stand-in: real captured payloads served over HTTP at the real paths.

No Kubernetes API server can run on these test machines (no kubelet, no container runtime
for one, no network to fetch one), so the collector is tested through the real ``kubernetes``
client against this small threaded HTTP server on 127.0.0.1.  It serves the payloads captured
from real clusters (``tests/fixtures/kubernetes``, see SOURCES.md there) at the paths the
API server uses:

    /api/v1/pods                      /api/v1/namespaces/{ns}/pods
    /api/v1/nodes                     /api/v1/nodes/{node}/proxy/stats/summary
    /api/v1/events                    /api/v1/namespaces/{ns}/events
    /apis/apps/v1/replicasets         /apis/apps/v1/namespaces/{ns}/replicasets
    /apis/batch/v1/jobs               /apis/batch/v1/namespaces/{ns}/jobs
    /apis/metrics.k8s.io/v1beta1/pods /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods

Lists honour ``limit`` and ``continue`` like the API server (an opaque token, 410 when it is
not one we issued).  Faults are injected per path pattern: a 403 with the API server's own
``Status`` body, 500, a garbage body, a slow answer, a dropped connection.  Every request's
method and path is recorded so tests can check that only GET was ever sent.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kubernetes"

_LIST_KINDS = {"pods": "PodList", "nodes": "NodeList", "events": "EventList",
               "replicasets": "ReplicaSetList", "jobs": "JobList",
               "metrics-pods": "PodMetricsList"}
_ROUTES = [
    (re.compile(r"^/api/v1/nodes/(?P<node>[^/]+)/proxy/stats/summary$"), "summary"),
    (re.compile(r"^/api/v1/(?:namespaces/(?P<ns>[^/]+)/)?pods$"), "pods"),
    (re.compile(r"^/api/v1/nodes$"), "nodes"),
    (re.compile(r"^/api/v1/(?:namespaces/(?P<ns>[^/]+)/)?events$"), "events"),
    (re.compile(r"^/apis/apps/v1/(?:namespaces/(?P<ns>[^/]+)/)?replicasets$"), "replicasets"),
    (re.compile(r"^/apis/batch/v1/(?:namespaces/(?P<ns>[^/]+)/)?jobs$"), "jobs"),
    (re.compile(r"^/apis/metrics\.k8s\.io/v1beta1/(?:namespaces/(?P<ns>[^/]+)/)?pods$"),
     "metrics-pods"),
]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Cluster:
    """What the stand-in serves: lists of API objects and one stats summary per node."""

    pods: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    replicasets: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    metrics_pods: list[dict[str, Any]] = field(default_factory=list)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def items(self, what: str) -> list[dict[str, Any]]:
        return self.metrics_pods if what == "metrics-pods" else getattr(self, what)


@dataclass
class Fault:
    path: re.Pattern[str]
    kind: str  # "403" | "500" | "garbage" | "slow" | "drop" | "truncate"
    times: int | None  # None = every time
    delay: float = 0.0


class StandIn:
    """``with StandIn(cluster) as api: … api.url …``; see the module docstring."""

    def __init__(self, cluster: Cluster, *, tls: tuple[Path, Path] | None = None) -> None:
        """``tls``: (certificate, key) files to serve HTTPS, as the API server does."""
        self.cluster = cluster
        self.tls = tls
        self.authorization: list[str] = []  # the Authorization header of each request
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self._cache: dict[int, tuple[dict[str, Any], str]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------
    def fault(self, path_regex: str, kind: str, *, times: int | None = None,
              delay: float = 0.0) -> None:
        """Make requests whose path matches ``path_regex`` fail (the first ``times`` ones)."""
        with self._lock:
            self.faults.append(Fault(re.compile(path_regex), kind, times, delay))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def methods(self) -> set[str]:
        with self._lock:
            return {m for m, _ in self.requests}

    def paths(self, pattern: str = "") -> list[str]:
        with self._lock:
            return [p for _, p in self.requests if re.search(pattern, p)]

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def __enter__(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _any(self) -> None:
                standin._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # -- serving ------------------------------------------------------------------------
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.path.search(path) and (f.times is None or f.times > 0):
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        parts = urlsplit(h.path)
        # Like the API server (Go's URL.Path), route on the decoded path: the client sends
        # the proxied path "stats/summary" as "stats%2Fsummary".
        parts = parts._replace(path=unquote(parts.path))
        with self._lock:
            self.requests.append((h.command, h.path))
            self.authorization.append(h.headers.get("Authorization") or "")
        if h.command != "GET":
            return self._send(h, 405, _status(405, "MethodNotAllowed", "read-only stand-in"))
        fault = self._take_fault(h.path)  # patterns see the raw path and query
        if fault is not None:
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "drop":
                h.close_connection = True
                h.connection.shutdown(2)  # close without an answer, as a dying proxy does
                return None
            elif fault.kind == "403":
                resource = parts.path.rstrip("/").rsplit("/", 1)[-1]
                return self._send(h, 403, _status(
                    403, "Forbidden",
                    f'{resource} is forbidden: User "system:serviceaccount:quotatune:quotatune" '
                    f'cannot list resource "{resource}" in API group "" at the cluster scope',
                ))
            elif fault.kind == "500":
                return self._send(h, 500, _status(500, "InternalError",
                                                  "etcdserver: leader changed"))
            elif fault.kind == "garbage":
                return self._send_raw(h, 200, b"\x00<html>502 upstream</html>{{{")
            elif fault.kind == "truncate":
                body = _encode(self._route(parts.path, parse_qs(parts.query))[1])
                return self._send_raw(h, 200, body[: len(body) // 2])
        code, payload = self._route(parts.path, parse_qs(parts.query))
        self._send(h, code, payload)

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path.rstrip("/") == "/version":
            return 200, VERSION
        for pattern, what in _ROUTES:
            m = pattern.match(path)
            if not m:
                continue
            if what == "summary":
                node = m.group("node")
                if node not in self.cluster.summaries:
                    return 404, _status(404, "NotFound", f'nodes "{node}" not found')
                return 200, self.cluster.summaries[node]
            items = self.cluster.items(what)
            ns = m.groupdict().get("ns")
            if ns:
                items = [i for i in items if i.get("metadata", {}).get("namespace") == ns]
            return self._page(what, items, query)
        return 404, _status(404, "NotFound", "the server could not find the requested resource")

    def _page(self, what: str, items: list[Any], query: dict[str, list[str]]) -> tuple[int, Any]:
        start = 0
        token = query.get("continue", [""])[0]
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode().split(":")[1])
            except (ValueError, IndexError):
                return 410, _status(410, "Expired", "The provided continue parameter is too old")
        limit = int(query.get("limit", ["0"])[0] or 0)
        end = start + limit if limit > 0 else len(items)
        meta: dict[str, Any] = {"resourceVersion": "105324751"}
        if end < len(items):
            meta["continue"] = base64.urlsafe_b64encode(f"v1:{end}".encode()).decode()
            meta["remainingItemCount"] = len(items) - end
        api = "metrics.k8s.io/v1beta1" if what == "metrics-pods" else "v1"
        return 200, _Page({"kind": _LIST_KINDS[what], "apiVersion": api, "metadata": meta},
                          [self._encoded(i) for i in items[start:end]])

    def _encoded(self, item: dict[str, Any]) -> str:
        """Each object is encoded once, as the API server's watch cache keeps serialized
        objects: the stand-in must not be the bottleneck of what is measured through it."""
        key = id(item)
        hit = self._cache.get(key)
        if hit is None or hit[0] is not item:
            hit = (item, json.dumps(item))
            self._cache[key] = hit
        return hit[1]

    def _send(self, h: BaseHTTPRequestHandler, code: int, payload: Any) -> None:
        self._send_raw(h, code, _encode(payload))

    @staticmethod
    def _send_raw(h: BaseHTTPRequestHandler, code: int, body: bytes) -> None:
        try:
            h.send_response(code)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass


@dataclass
class _Page:
    head: dict[str, Any]
    items: list[str]  # already encoded


def _encode(payload: Any) -> bytes:
    if isinstance(payload, _Page):
        head = json.dumps(payload.head)[:-1]
        return (head + ', "items": [' + ", ".join(payload.items) + "]}").encode()
    return json.dumps(payload).encode()


# What minikube v1.35's API server answers on /version (the node of the newrelic capture).
VERSION = {"major": "1", "minor": "35", "gitVersion": "v1.35.0", "goVersion": "go1.25.5",
           "compiler": "gc", "platform": "linux/amd64"}


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    """The API server's ``Status`` object, as it sends on errors."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


# -- clusters made of the real payloads ---------------------------------------------------

def honeycomb_cluster() -> Cluster:
    """The honeycomb capture: 11 pods on node duckboat-01, its nodes and /stats/summary."""
    pods = load("honeycomb_pods.json")["items"]
    return Cluster(pods=pods, nodes=load("honeycomb_nodes.json")["items"],
                   events=load("events.json")["items"],
                   summaries={"duckboat-01": load("honeycomb_stats-summary.json")},
                   metrics_pods=load("libcloud_gke_podmetrics_list.json")["items"])


def kubelet_ahead(cluster: Cluster, node: str, by: timedelta) -> Cluster:
    """``cluster`` with ``node``'s kubelet clock running ``by`` ahead: every time its stats
    summary stamps (node, pods, containers) moved by ``by``, each payload otherwise as
    recorded.  The other nodes and metrics.k8s.io keep their times."""
    def moved(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (_later(v, by) if k in ("time", "startTime") else moved(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [moved(v) for v in value]
        return value

    summaries = {**cluster.summaries, node: moved(cluster.summaries[node])}
    return Cluster(pods=cluster.pods, nodes=cluster.nodes, events=cluster.events,
                   replicasets=cluster.replicasets, jobs=cluster.jobs,
                   metrics_pods=cluster.metrics_pods, summaries=summaries)


def _later(text: Any, by: timedelta) -> Any:
    if not isinstance(text, str):
        return text
    at = datetime.fromisoformat(text.replace("Z", "+00:00")) + by
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def scaled_cluster(n_pods: int, n_nodes: int = 10) -> Cluster:
    """Thousands of pods templated from the real honeycomb pods, spread over ``n_nodes`` nodes,
    each node with a stats summary templated from the real one for exactly its pods."""
    real_pods = load("honeycomb_pods.json")["items"]
    pod_text = [json.dumps(p) for p in real_pods]  # json round trips copy faster than deepcopy
    real_summary = load("honeycomb_stats-summary.json")
    by_name = {p["podRef"]["name"]: p for p in real_summary["pods"]}
    node_tmpl = load("honeycomb_nodes.json")["items"][0]
    nodes, summaries = [], {}
    for n in range(n_nodes):
        node = copy.deepcopy(node_tmpl)
        node["metadata"]["name"] = f"node-{n:03d}"
        nodes.append(node)
        summaries[node["metadata"]["name"]] = {"node": {**real_summary["node"],
                                                        "nodeName": f"node-{n:03d}"}, "pods": []}
    pods = []
    for i in range(n_pods):
        tmpl = real_pods[i % len(real_pods)]
        pod = json.loads(pod_text[i % len(real_pods)])
        node = f"node-{i % n_nodes:03d}"
        meta = pod["metadata"]
        meta["name"] = f"{meta['name']}-{i}"
        meta["namespace"] = f"{meta['namespace']}-{i // 1000}"
        pod["spec"]["nodeName"] = node
        pods.append(pod)
        stats = by_name.get(tmpl["metadata"]["name"])
        if stats is not None:
            s = copy.deepcopy(stats)
            s["podRef"] = {**s["podRef"], "name": meta["name"], "namespace": meta["namespace"]}
            summaries[node]["pods"].append(s)
    return Cluster(pods=pods, nodes=nodes, summaries=summaries)


def kubeconfig(path: Path, url: str, *, context: str = "standin", token: str = "t0ken") -> Path:
    """Write a kubeconfig whose only context points at the stand-in."""
    import yaml

    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "standin", "cluster": {"server": url}}],
        "users": [{"name": "reader", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "standin", "user": "reader"}}],
    }))
    return path


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made with the openssl command, and its key."""
    import subprocess

    cert, key = directory / "apiserver.crt", directory / "apiserver.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def client_for(url: str, *, token: str | None = None) -> Any:
    """A real ``kubernetes.client.ApiClient`` pointed at the stand-in."""
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = url
    cfg.retries = 0  # as quotatune's own connect() does: retries are counted by the collector
    if token:
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(cfg)
