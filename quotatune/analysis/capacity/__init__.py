"""Capacity planning: placement, Pending pods, node counts, quotas and savings."""
