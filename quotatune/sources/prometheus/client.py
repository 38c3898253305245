"""A small Prometheus HTTP API client: auth, TLS, timeouts, bounded retries, no secret leaks.

Built on ``requests`` (already installed with the ``docker`` and ``kubernetes`` clients) rather
than ``urllib.request`` because a chunked collection sends hundreds of queries to one server:
``requests.Session`` keeps the connection alive between them and gives CA-file / skip-verify
TLS and basic auth without hand-built SSL contexts.

Secrets (bearer token, basic-auth password, password in the URL's userinfo) are kept out of
every message this module produces: the URL is stored without userinfo, and any text that
comes back from the network stack is passed through :meth:`PrometheusClient.redact`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from quotatune.model.errors import InputError
from quotatune.sources.prometheus.parse import PrometheusError

# Responses worth retrying as they are: rate-limited, or a proxy lost the server.
_RETRY_STATUS = {429, 502}
# Answers that say the query was too big for the server (Prometheus: 422 "would load too many
# samples", 503 "query timed out"; a proxy: 504; Thanos/Mimir limits: 422).  Sending the same
# query again would fail the same way: the caller splits it instead.
_TOO_BIG_STATUS = {422, 503, 504}


class Unreachable(PrometheusError):
    """No HTTP answer at all (refused, DNS, TLS, reset, timed out) after the retries."""


class TooBig(PrometheusError):
    """The server refused or gave up on a query for its size; smaller queries may pass."""


class PrometheusClient:
    """Talks to ``<url>/api/v1/...``.  No network I/O happens in the constructor."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ca_file: str | None = None,
        verify: bool = True,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        on_request: Callable[[str, Mapping[str, str]], None] | None = None,
        stats: bool = False,
    ) -> None:
        import requests

        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018  (raises ValueError on a bad port)
        except ValueError:
            raise InputError(f"not an http(s) URL: {_strip_userinfo(url)!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"not an http(s) URL: {_strip_userinfo(url)!r}")
        if parts.username is not None and basic_auth is None:
            basic_auth = (unquote(parts.username), unquote(parts.password or ""))
        self.url = _strip_userinfo(url.strip()).rstrip("/")
        self._secrets = [s for s in (token, basic_auth[1] if basic_auth else None,
                                     parts.password) if s]
        self._secrets += [unquote(s) for s in self._secrets]
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self._sleep = sleep
        self.on_request = on_request  # observer (progress, tests); sees endpoint and params
        self.requests_sent = 0
        # With ``stats``, queries ask for Prometheus' query statistics (``stats=all``) and the
        # samples the server touched are summed here (benchmarks: load on the server side).
        self.stats = stats
        self.samples_touched = 0
        self.peak_samples = 0
        self._count_lock = threading.Lock()  # queries run in parallel threads
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy or netrc credentials picked up silently
        self._session.headers.update({"Accept": "application/json",
                                      "User-Agent": "quotatune"})
        for k, v in (headers or {}).items():
            self._secrets += [v] if k.lower() in ("authorization", "x-scope-orgid") else []
            self._session.headers[k] = v
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        if basic_auth:
            self._session.auth = basic_auth
        self._session.verify = ca_file if (verify and ca_file) else verify

    def redact(self, text: str) -> str:
        for s in sorted(set(self._secrets), key=len, reverse=True):
            text = text.replace(s, "***")
        return text

    def close(self) -> None:
        self._session.close()

    # -- API ---------------------------------------------------------------------------------

    def query(self, query: str, at: float) -> Any:
        return self._call("query", {"query": query, "time": _fmt(at)})

    def query_range(self, query: str, start: float, end: float, step: float) -> Any:
        return self._call("query_range", {"query": query, "start": _fmt(start),
                                          "end": _fmt(end), "step": _fmt(step)})

    def label_values(self, label: str, match: str, start: float, end: float) -> Any:
        return self._call(f"label/{label}/values", {"match[]": match, "start": _fmt(start),
                                                     "end": _fmt(end)}, method="GET")

    def series(self, match: str, start: float, end: float) -> Any:
        """Label sets of the series matching ``match`` in [start, end]: read from the index
        only, whatever the number of samples."""
        return self._call("series", {"match[]": match, "start": _fmt(start), "end": _fmt(end)})

    # -- transport ---------------------------------------------------------------------------

    def _call(self, endpoint: str, params: dict[str, str], method: str = "POST") -> Any:
        """One API call with bounded retries; returns decoded JSON or raises PrometheusError."""
        import requests

        if endpoint.startswith("query"):
            # Let the server give up a little before we do, so its message reaches us.
            params = {**params, "timeout": _fmt(max(1.0, self.timeout - 1.0))}
            if self.stats:
                params["stats"] = "all"
        url = f"{self.url}/api/v1/{endpoint}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * (2 ** (attempt - 1)))
            if self.on_request is not None:
                self.on_request(endpoint, params)
            with self._count_lock:
                self.requests_sent += 1
            try:
                if method == "POST":  # form body: long PromQL never hits URL length limits
                    r = self._session.post(url, data=params, timeout=self.timeout)
                else:
                    r = self._session.get(url, params=params, timeout=self.timeout)
            except requests.Timeout:
                last = f"no answer within {self.timeout:g} s"
                continue
            except requests.RequestException as exc:
                last = _network_reason(exc)
                continue
            if r.status_code in _RETRY_STATUS:
                last = self._http_message(r)
                continue
            if r.status_code in _TOO_BIG_STATUS:
                raise TooBig(self._http_message(r), str(r.status_code))
            body = self._decode(r)
            if self.stats:
                self._count_stats(body)
            return body
        raise Unreachable(self.redact(f"{self.url}: {last} (after {self.retries + 1} attempts)"))

    def _count_stats(self, body: Any) -> None:
        try:
            samples = body["data"]["stats"]["samples"]
            total, peak = int(samples["totalQueryableSamples"]), int(samples["peakSamples"])
        except (KeyError, TypeError, ValueError):
            return
        with self._count_lock:
            self.samples_touched += total
            self.peak_samples = max(self.peak_samples, peak)

    def _decode(self, r: Any) -> Any:
        if r.status_code in (401, 403):
            raise PrometheusError(self.redact(
                f"{self.url}: HTTP {r.status_code}: not authorised (check the token or "
                "basic-auth credentials)"), str(r.status_code))
        try:
            body = r.json()
        except ValueError:
            raise PrometheusError(self.redact(
                f"{self.url}: HTTP {r.status_code}: the answer is not JSON (is this the "
                "Prometheus API?)")) from None
        if r.status_code >= 400 and not (isinstance(body, dict) and body.get("status")):
            raise PrometheusError(self.redact(self._http_message(r)))
        return body

    def _http_message(self, r: Any) -> str:
        detail = ""
        try:
            body = r.json()
            if isinstance(body, dict) and body.get("error"):
                detail = f" ({body.get('errorType', 'error')}): {str(body['error'])[:200]}"
        except ValueError:
            pass
        return self.redact(f"HTTP {r.status_code} {r.reason or ''}".strip() + detail)


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _strip_userinfo(url: str) -> str:
    try:
        p = urlsplit(url)
        host = p.hostname or ""
    except ValueError:
        return "<unparseable URL>"
    if p.username is None and p.password is None:
        return url
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = p.port
    except ValueError:
        return "<unparseable URL>"
    if port:
        netloc += f":{port}"
    return urlunsplit((p.scheme, netloc, p.path, p.query, p.fragment))


def _network_reason(exc: Exception) -> str:
    """A short cause from the requests/urllib3 exception chain, without URLs or credentials."""
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "certificate verify failed",
                   "Connection reset", "Remote end closed connection", "timed out",
                   "No route to host", "Temporary failure in name resolution"):
        if marker in text:
            return marker
    return type(exc).__name__
