"""The thin transport to the Kubernetes API: paged lists, bounded retries, clear errors.

Every request goes through the real ``kubernetes`` client's typed API methods with
``_preload_content=False``; the body is parsed here as plain JSON so that the very same
parsers read live answers and ``kubectl … -o json`` files (the client's model objects are
slow for thousands of pods and drop fields it does not know).  Only GET requests are made.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from quotatune.model.errors import SourceError
from quotatune.model.redact import redact

# Statuses worth another try: the API server or a proxy in front of it was busy or restarting.
RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Access:
    """What a request needs from RBAC, for the message when it is refused."""

    verb: str
    resource: str
    namespace: str | None = None

    def scope(self) -> str:
        return f"in namespace {self.namespace}" if self.namespace else "cluster-wide"

    def describe(self) -> str:
        return f"'{self.verb}' on '{self.resource}' {self.scope()}"


class Forbidden(SourceError):
    """RBAC said no; not retried."""


class _HTTPStatus(Exception):
    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(status)
        self.status, self.reason = status, reason


class K8sReader:
    """Paged, retried GETs of API paths through an injected ``kubernetes.client.ApiClient``.

    Requests go through the client's own ``param_serialize``/``call_api`` (so kubeconfig auth,
    TLS and token refresh are the client's) by path: the typed ``CoreV1Api`` would import
    hundreds of model classes (seconds of start-up) only for us to bypass them.
    """

    def __init__(
        self, api_client: Any, *, timeout: float = 10, retries: int = 3, page_size: int = 500,
        backoff: float = 0.2, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_client = api_client
        self.timeout = timeout
        self.retries = max(0, retries)
        self.page_size = page_size
        self.backoff = backoff
        self.sleep = sleep
        self.requests = 0  # how many HTTP requests were sent, retries included

    def _get(self, path: str, query: list[tuple[str, Any]]) -> bytes:
        from kubernetes.client.exceptions import ApiException

        c = self.api_client
        try:
            if hasattr(c, "param_serialize"):  # the client generated since v35
                req = c.param_serialize(
                    method="GET", resource_path=path, query_params=query,
                    header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
                resp = c.call_api(*req, _request_timeout=self.timeout)
                resp.read()
                if not 200 <= resp.status <= 299:
                    raise _HTTPStatus(int(resp.status), str(resp.reason or ""))
                return bytes(resp.data)
            # the older generated client: call_api(path, method, …) raises on non-2xx itself
            raw = c.call_api(
                path, "GET", {}, query, {"Accept": "application/json"}, body=None,
                post_params=[], files={}, response_type=None, auth_settings=["BearerToken"],
                _return_http_data_only=True, _preload_content=False,
                _request_timeout=self.timeout)
            return bytes(raw.data)
        except ApiException as exc:
            raise _HTTPStatus(int(exc.status or 0), str(exc.reason or "")) from None

    def fetch(self, path: str, access: Access, query: dict[str, Any] | None = None) -> Any:
        """One GET with up to ``retries`` further tries on timeouts, 5xx and broken bodies."""
        import urllib3

        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            self.requests += 1
            try:
                return json.loads(self._get(path, params))
            except _HTTPStatus as exc:
                status = exc.status
                if status == 403:
                    raise Forbidden(f"forbidden: need {access.describe()}") from None
                if status == 401:
                    raise SourceError(
                        "unauthorized: the cluster rejected the credentials from the kubeconfig"
                    ) from None
                if status == 404:
                    raise SourceError(
                        f"{access.verb} {access.resource}: not found (HTTP 404)") from None
                if status == 410:
                    raise SourceError(
                        f"{access.verb} {access.resource}: the continue token expired (410 Gone)"
                    ) from None
                if status not in RETRY_STATUSES:
                    raise SourceError(
                        f"{access.verb} {access.resource}: HTTP {status} {exc.reason}".strip()
                    ) from None
                last = f"HTTP {status}"
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                last = _short(exc)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                last = "the answer was not JSON"
        raise SourceError(
            f"{access.verb} {access.resource} ({access.scope()}): failed after "
            f"{self.retries + 1} tries: {last}"
        )

    def list_all(
        self, path: str, access: Access, *, keep: list[Any] | None = None,
    ) -> list[Any]:
        """All items of a list, page by page (``limit``/``continue``).

        Items already read are appended to ``keep`` as they arrive, so a caller that catches
        the error of a later page still has the earlier pages.
        """
        items: list[Any] = keep if keep is not None else []
        token: str | None = None
        while True:
            page = self.fetch(path, access, {"limit": self.page_size, "continue": token})
            if not isinstance(page, dict) or not isinstance(page.get("items", []), list):
                raise SourceError(f"{access.verb} {access.resource}: the answer is not a list")
            items.extend(page.get("items") or [])
            meta = page.get("metadata")
            token = meta.get("continue") if isinstance(meta, dict) else None
            if not token:
                return items


def _short(exc: BaseException) -> str:
    """One line for a transport error, without URLs (they may carry tokens)."""
    import urllib3

    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    name = type(exc).__name__
    if "Timeout" in name:
        return "timed out"
    if isinstance(exc, urllib3.exceptions.ProtocolError | ConnectionError):
        return "connection dropped"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "cannot connect"
    return name


SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def connect(
    kubeconfig: str | None = None, context: str | None = None, *, in_cluster: bool = False,
    timeout: float = 10, service_account_dir: str = SERVICE_ACCOUNT_DIR,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """A ``kubernetes.client.ApiClient`` from a kubeconfig (``context`` or its current one), or
    from the pod's service account when ``in_cluster`` (token and CA from
    ``service_account_dir``, API address from ``KUBERNETES_SERVICE_HOST``/``_PORT`` in
    ``environ``).  Problems are one-line InputErrors.

    urllib3's own retries are switched off so that :class:`K8sReader` alone decides how many
    times a request is tried (otherwise the two multiply).  Reachability is checked with one
    cheap GET (``/version``) so an unreachable cluster is one clear line, not a failure later.
    """
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    from quotatune.model.errors import InputError

    cfg = client.Configuration()
    try:
        if in_cluster:
            from kubernetes.config.incluster_config import InClusterConfigLoader

            InClusterConfigLoader(
                token_filename=f"{service_account_dir}/token",
                cert_filename=f"{service_account_dir}/ca.crt",
                environ=dict(os.environ if environ is None else environ),
            ).load_and_set(cfg)
        else:
            config.load_kube_config(config_file=kubeconfig, context=context,
                                    client_configuration=cfg, persist_config=False)
    except ConfigException as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if context and ("context" in msg.lower() or "Expected object with name" in msg):
            raise InputError(f"unknown Kubernetes context {context!r} in the kubeconfig") from None
        where = f" ({kubeconfig})" if kubeconfig else ""
        raise InputError(redact(f"cannot load the Kubernetes configuration{where}: {msg}")
                         ) from None
    except Exception as exc:  # noqa: BLE001 - a malformed kubeconfig fails in many ways
        where = f" ({kubeconfig})" if kubeconfig else ""
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(redact(f"cannot load the Kubernetes configuration{where}: {first}")
                         ) from None
    cfg.retries = 0
    api = client.ApiClient(cfg)
    reader = K8sReader(api, timeout=timeout, retries=0)
    try:
        reader.fetch("/version/", Access("get", "/version"))
    except SourceError as exc:
        if "failed after" in str(exc):  # no HTTP answer at all; any answer means reachable
            raise InputError(f"cannot reach the Kubernetes API at {_host(cfg.host)}: "
                             f"{str(exc).rsplit(': ', 1)[-1]}") from None
    return api


def _host(url: str) -> str:
    """scheme://host:port only: never print a path or query that might carry a token."""
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
