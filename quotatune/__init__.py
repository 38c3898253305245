"""quotatune: CPU and memory requests for containers from real usage."""

__version__ = "0.1.0"
