"""``-o patch``: apply-ready changes for Docker and Kubernetes."""
