"""Nodes of the sleep graph: ingest, reflect, predict, publish, and the per-part sleep of large contexts."""
