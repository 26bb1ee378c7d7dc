"""Nodes of the wake graph: retrieve, match, answer, verify, and gather for large contexts."""
