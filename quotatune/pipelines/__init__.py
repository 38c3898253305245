"""Orchestration: the recommend, diagnose, report, plan, backtest, import, collect and serve
flows.  Each flow loads frames through sources or the store, calls analysis, and hands results
to rendering; the CLI calls these and only parses flags, prints and sets exit codes
(docs/architecture.md, "Layers")."""
