"""Analysis: pure functions from frames and a frozen policy to results.  No I/O, no clock, no
environment; imports only the model and the rollups."""
