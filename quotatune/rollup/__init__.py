"""Per-day rollups of the usage frame: pure code below both the store, which keeps them beside
the samples, and analysis, which sizes containers from them."""
