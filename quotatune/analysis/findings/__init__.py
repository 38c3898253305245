"""Findings: OOM kills, JVM start-up failures, crash loops, growth, throttling and the rest."""
