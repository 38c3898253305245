"""The history store: day-partitioned Parquet under a lock, with per-day rollups beside the
samples (docs/architecture.md, "The store")."""

from quotatune.store.history import AppendReport, Store, StoreError

__all__ = ["AppendReport", "Store", "StoreError"]
