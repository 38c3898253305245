"""File sources: canonical CSV/Parquet, Bitbrains traces and JVM hs_err logs."""
