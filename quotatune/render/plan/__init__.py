"""Renderers of a capacity plan: table, JSON/YAML and HTML."""
