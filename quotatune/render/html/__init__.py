"""The self-contained HTML report, its charts and the reports index."""
