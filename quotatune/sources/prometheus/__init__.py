"""The Prometheus source: cAdvisor and kube-state-metrics history through the HTTP API."""
