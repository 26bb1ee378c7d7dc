"""Contexts of any size: reading sources, splitting into parts, packing retrieved pieces into a window."""
