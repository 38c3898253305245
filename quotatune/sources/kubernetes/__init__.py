"""The Kubernetes source: pods, owners, nodes, events, kubelet stats and metrics.k8s.io, live
through the API or from ``kubectl get … -o json`` dumps and kubelet payloads."""
